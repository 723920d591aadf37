import { describe, expect, it } from 'vitest';
import { f16ToF32, f32BitsToF16, fromFloat16, toFloat16 } from '../../src/inference/fp16.js';

const bits = (x: number): number => new Uint32Array(new Float32Array([x]).buffer)[0]!;
const half = (x: number): number => f32BitsToF16(bits(x));

describe('float16 conversion', () => {
  it.each([
    [0, 0x0000], [-0, 0x8000], [1, 0x3c00], [-2, 0xc000], [65504, 0x7bff], [65520, 0x7c00], [1e6, 0x7c00],
    [Infinity, 0x7c00], [-Infinity, 0xfc00], [2 ** -14, 0x0400], [2 ** -24, 0x0001], [2 ** -25, 0x0000],
    [1.5 * 2 ** -25, 0x0001], [0.1, 0x2e66], [1 + 2 ** -11, 0x3c00], [1 + 3 * 2 ** -11, 0x3c02],
  ])('%f -> 0x%s', (x, h) => expect(half(x)).toBe(h));

  it('keeps NaN a NaN', () => {
    expect(Number.isNaN(f16ToF32(half(NaN)))).toBe(true);
  });

  it('round-trips every finite half exactly', () => {
    const all = new Uint16Array(65536).map((_, i) => i);
    const back = toFloat16(fromFloat16(all));
    for (let h = 0; h < 65536; h++) {
      if ((h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0) continue; // NaN payloads
      expect(back[h]).toBe(h);
    }
  });

  it('rounds to the nearest half (error <= half an ulp)', () => {
    const xs = new Float32Array(10000).map((_, i) => (i - 5000) * 0.01237);
    const back = fromFloat16(toFloat16(xs));
    for (let i = 0; i < xs.length; i++) expect(Math.abs(back[i]! - xs[i]!)).toBeLessThanOrEqual(Math.abs(xs[i]!) * 2 ** -11 + 2 ** -25);
  });
});
