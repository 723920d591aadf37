import { describe, expect, it } from 'vitest';
import { storedToHuI16Wasm } from '../../src/dicom/hu-wasm.js';
import { extractionFor, storedToHu, storedToHuJs, type Extraction, type HuMapping } from '../../src/dicom/pixel.js';

/** Deterministic pseudo-random 16-bit words. */
function words(n: number, seed: number): Uint16Array {
  const out = new Uint16Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s >>> 16;
  }
  return out;
}

interface Case {
  name: string;
  signedSource: boolean;
  x: Extraction;
  m: HuMapping;
  /** Range the raw words are reduced to (before the layout's own masking). */
  modulo?: number;
}

const none = { padLo: Infinity, padHi: -Infinity };
const cases: Case[] = [
  { name: 'int16 source, -1024', signedSource: true, x: extractionFor(16, 15, 1, true), m: { slope: 1, intercept: -1024, ...none, paddingHu: -1024 }, modulo: 4096 },
  { name: 'int16 source, padding -2000', signedSource: true, x: extractionFor(16, 15, 1, true), m: { slope: 1, intercept: 0, padLo: -2000, padHi: -2000, paddingHu: -1024 }, modulo: 4096 },
  { name: 'uint16 12-bit masked, -1024', signedSource: false, x: extractionFor(12, 11, 0, true), m: { slope: 1, intercept: -1024, ...none, paddingHu: -1024 } },
  { name: 'uint16 12-bit shifted (HighBit 15)', signedSource: false, x: extractionFor(12, 15, 0, true), m: { slope: 1, intercept: -1024, ...none, paddingHu: -1024 } },
  { name: 'uint16 12-bit signed, padding range', signedSource: false, x: extractionFor(12, 11, 1, true), m: { slope: 1, intercept: 24, padLo: -2048, padHi: -1500, paddingHu: -3000 } },
  { name: 'uint16 codec output, unmasked', signedSource: false, x: extractionFor(16, 15, 0, false), m: { slope: 1, intercept: -1024, ...none, paddingHu: -1024 }, modulo: 5000 },
  { name: 'uint16 padding value 0', signedSource: false, x: extractionFor(16, 15, 0, true), m: { slope: 1, intercept: -1024, padLo: 0, padHi: 0, paddingHu: -1024 }, modulo: 3000 },
];

describe('storedToHu in WebAssembly SIMD', () => {
  for (const c of cases) {
    it(`matches the JS reference: ${c.name}`, () => {
      for (const n of [8, 13, 4099]) {
        const raw = words(n, n * 31 + c.name.length);
        if (c.modulo) for (let i = 0; i < n; i++) raw[i]! %= c.modulo;
        // Some padding hits when a padding range is set.
        if (c.m.padLo <= c.m.padHi) for (let i = 0; i < n; i += 7) raw[i] = c.m.padLo & 0xffff;
        const src = c.signedSource ? new Int16Array(raw.buffer) : raw;
        const fast = new Int16Array(n + 2).fill(7);
        const ref = new Int16Array(n + 2).fill(7);
        expect(storedToHu(src, n, c.x, c.m, fast, 1)).toBe(0);
        expect(storedToHuJs(src, n, c.x, c.m, ref, 1)).toBe(0);
        expect(Array.from(fast)).toEqual(Array.from(ref));
        // And the fast path really ran (not its fallback).
        expect(storedToHuI16Wasm(src, n, c.x, c.m, c.m.paddingHu, new Int16Array(n))).toBe(true);
      }
    });
  }

  it('leaves a frame that leaves int16 to the JS path, which saturates and counts', () => {
    const src = new Uint16Array([0, 100, 65535, 40000, 5, 6, 7, 8, 9]);
    const m: HuMapping = { slope: 1, intercept: -1024, ...none, paddingHu: -1024 };
    const x = extractionFor(16, 15, 0, true);
    expect(storedToHuI16Wasm(src, src.length, x, m, -1024, new Int16Array(src.length))).toBe(false);
    const out = new Int16Array(src.length);
    expect(storedToHu(src, src.length, x, m, out, 0)).toBe(2);
    expect(Array.from(out.subarray(0, 4))).toEqual([-1024, -924, 32767, 32767]);
  });

  it('does not take rescales other than slope 1 with an integer intercept', () => {
    const src = new Int16Array(16);
    const x = extractionFor(16, 15, 1, true);
    expect(storedToHuI16Wasm(src, 16, x, { slope: 2, intercept: 0, ...none, paddingHu: -1024 }, -1024, new Int16Array(16))).toBe(false);
    expect(storedToHuI16Wasm(src, 16, x, { slope: 1, intercept: 0.5, ...none, paddingHu: -1024 }, -1024, new Int16Array(16))).toBe(false);
  });
});
