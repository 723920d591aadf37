import { describe, expect, it } from 'vitest';
import { extractionFor, extractStored, storedToHu, type HuMapping } from '../../src/dicom/pixel.js';

const noPad = (slope = 1, intercept = 0, paddingHu = -1024): HuMapping => ({ slope, intercept, padLo: Infinity, padHi: -Infinity, paddingHu });

describe('stored value extraction', () => {
  it('masks bits above BitsStored for unsigned native data', () => {
    const raw = Uint16Array.of(0x0f0f, 0xffff, 0x0123);
    expect(Array.from(extractStored(raw, 3, extractionFor(12, 11, 0, true)))).toEqual([0x0f0f & 0xfff, 0xfff, 0x123]);
  });

  it('sign-extends from bit HighBit for PixelRepresentation 1', () => {
    // 12-bit two's complement: 0x0F0F is -241, 0x7FF is 2047, 0x800 is -2048, garbage above bit 11 ignored.
    const raw = Uint16Array.of(0x0f0f, 0x07ff, 0x0800, 0xf0ff);
    expect(Array.from(extractStored(raw, 4, extractionFor(12, 11, 1, true)))).toEqual([-241, 2047, -2048, 255]);
  });

  it('honours a HighBit above BitsStored - 1 (bits shifted up in the container)', () => {
    // BitsStored 12, HighBit 15: the value sits in bits 4..15.
    const raw = Uint16Array.of(0xfff0, 0x8000, 0x0010);
    expect(Array.from(extractStored(raw, 3, extractionFor(12, 15, 0, true)))).toEqual([0xfff, 0x800, 1]);
    expect(Array.from(extractStored(raw, 3, extractionFor(12, 15, 1, true)))).toEqual([-1, -2048, 1]);
  });

  it('keeps codec output above BitsStored (lossy overshoot) instead of wrapping it', () => {
    const raw = Uint16Array.of(4100, 5);
    expect(Array.from(extractStored(raw, 2, extractionFor(12, 11, 0, false)))).toEqual([4100, 5]);
  });
});

describe('storedToHu', () => {
  it('int16 source, integer rescale, padding range', () => {
    const src = Int16Array.of(-2000, -1999, -1990, 0, 1000);
    const out = new Int16Array(7);
    const sat = storedToHu(src, 5, extractionFor(16, 15, 1, true), { slope: 1, intercept: -1024, padLo: -2000, padHi: -1995, paddingHu: -1000 }, out, 1);
    expect(sat).toBe(0);
    expect(Array.from(out)).toEqual([0, -1000, -1000, -3014, -1024, -24, 0]);
  });

  it('saturates to int16 and counts, then float32 keeps the true values', () => {
    const src = Int16Array.of(-32768, -31744, 32767, 0);
    const out = new Int16Array(4);
    const x = extractionFor(16, 15, 1, true);
    expect(storedToHu(src, 4, x, noPad(1, -1024), out, 0)).toBe(1);
    expect(Array.from(out)).toEqual([-32768, -32768, 31743, -1024]);
    const up = new Int16Array(4);
    expect(storedToHu(src, 4, x, noPad(1, 2000), up, 0)).toBe(1);
    expect(up[2]).toBe(32767);
    const f = new Float32Array(4);
    storedToHu(src, 4, x, noPad(1, -1024), f, 0);
    expect(Array.from(f)).toEqual([-33792, -32768, 31743, -1024]);
  });

  it('non-integer slope rounds into int16', () => {
    const src = Uint16Array.of(0, 1, 2, 4095);
    const out = new Int16Array(4);
    storedToHu(src, 4, extractionFor(12, 11, 0, false), noPad(2.0002442, -4047), out, 0);
    expect(Array.from(out)).toEqual([-4047, -4045, -4043, Math.round(4095 * 2.0002442 - 4047)]);
  });

  it('unsigned 12-bit with intercept -1024 (Philips) masks and offsets', () => {
    const src = Uint16Array.of(0xf000, 0x0400, 0x0fff);
    const out = new Int16Array(3);
    expect(storedToHu(src, 3, extractionFor(12, 11, 0, true), noPad(1, -1024), out, 0)).toBe(0);
    expect(Array.from(out)).toEqual([-1024, 0, 3071]);
  });

  it('signed 12-bit source via Uint16 with padding and float output', () => {
    const src = Uint16Array.of(0x0f0f, 0x0800, 0x0001);
    const f = new Float32Array(3);
    storedToHu(src, 3, extractionFor(12, 11, 1, true), { slope: 0.5, intercept: 10, padLo: -2048, padHi: -2048, paddingHu: -999 }, f, 0);
    expect(Array.from(f)).toEqual([-241 * 0.5 + 10, -999, 10.5]);
  });

  it('unsigned 16-bit that overflows int16 is clamped and counted (optimistic pass falls back)', () => {
    const src = Uint16Array.of(0, 1000, 40000, 65535);
    const out = new Int16Array(4);
    expect(storedToHu(src, 4, extractionFor(16, 15, 0, true), noPad(1, -1024), out, 0)).toBe(2);
    expect(Array.from(out)).toEqual([-1024, -24, 32767, 32767]);
    // The same values with padding at 65535: padding is not saturation.
    const pad = new Int16Array(4);
    expect(storedToHu(src, 4, extractionFor(16, 15, 0, true), { slope: 1, intercept: -1024, padLo: 65535, padHi: 65535, paddingHu: -1024 }, pad, 0)).toBe(1);
    expect(Array.from(pad)).toEqual([-1024, -24, 32767, -1024]);
  });
});
