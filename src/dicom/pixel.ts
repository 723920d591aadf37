/**
 * Stored-value semantics and the HU hot loops. Everything here works on flat typed arrays; the
 * per-voxel work is one extraction (mask or sign extension), a padding test and a rescale.
 */
import { storedToHuI16Wasm } from './hu-wasm.js';

/** How the bits of each sample become a stored value (PS3.5 8.1.1, PS3.3 C.7.6.3.1). */
export interface Extraction {
  /** PixelRepresentation 1: two's complement with the sign at bit `bitsStored - 1` after the shift. */
  signed: boolean;
  bitsStored: number;
  /** Bits below the stored ones (HighBit + 1 - BitsStored); 0 for codec output. */
  shift: number;
  /** Mask the bits above BitsStored (native/RLE containers). Lossy codec output is kept as decoded. */
  mask: boolean;
}

/** Rescale, padding and output conversion for one frame. */
export interface HuMapping {
  slope: number;
  intercept: number;
  /** Stored values in [padLo, padHi] are padding (padLo > padHi: no padding). */
  padLo: number;
  padHi: number;
  paddingHu: number;
}

export const INT16_MIN = -32768;
export const INT16_MAX = 32767;

/** Extraction for native data or raw codec output with the instance's bit layout. */
export function extractionFor(bitsStored: number, highBit: number, pixelRepresentation: 0 | 1, raw: boolean): Extraction {
  return {
    signed: pixelRepresentation === 1,
    bitsStored,
    shift: raw ? Math.max(0, highBit + 1 - bitsStored) : 0,
    mask: raw,
  };
}

/** Stored values as Int16 (signed) or Uint16 (unsigned), masked and sign-extended. */
export function extractStored(src: Uint16Array | Int16Array, n: number, x: Extraction): Int16Array | Uint16Array {
  if (src instanceof Int16Array) return src.slice(0, n);
  if (x.signed) {
    const out = new Int16Array(n);
    const shl = 32 - x.shift - x.bitsStored;
    const shr = 32 - x.bitsStored;
    for (let i = 0; i < n; i++) out[i] = (src[i]! << shl) >> shr;
    return out;
  }
  const out = new Uint16Array(n);
  if (!x.mask) {
    out.set(src.subarray(0, n));
    return out;
  }
  const mask = x.bitsStored >= 16 ? 0xffff : (1 << x.bitsStored) - 1;
  const shift = x.shift;
  for (let i = 0; i < n; i++) out[i] = (src[i]! >>> shift) & mask;
  return out;
}

function clampPaddingHu(m: HuMapping, toInt16: boolean): number {
  if (!toInt16) return m.paddingHu;
  return Math.min(INT16_MAX, Math.max(INT16_MIN, Math.round(m.paddingHu)));
}

/*
 * Four kernels (source Int16/Uint16 x output Int16/Float32) keep each loop's array types monomorphic.
 * Int16 sources are already stored values (16-bit signed native data, signed J2K output).
 */

/**
 * Int16 source, integer rescale: one optimistic pass. Int16Array stores wrap, so the pass ORs
 * (h + 32768) of every value: any bit above 15 means some h left the int16 range, and the frame is
 * redone with clamping (rare: only values near the int16 limits with a large intercept overflow).
 */
function i16ToI16Integer(src: Int16Array, n: number, m: HuMapping, dst: Int16Array): number {
  const { padLo, padHi } = m;
  const padHu = clampPaddingHu(m, true);
  const b = m.intercept;
  let spill = 0;
  if (padLo > padHi) {
    for (let i = 0; i < n; i++) {
      const h = src[i]! + b;
      spill |= h + 32768;
      dst[i] = h;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = src[i]!;
      const h = v >= padLo && v <= padHi ? padHu : v + b;
      spill |= h + 32768;
      dst[i] = h;
    }
  }
  if ((spill & ~0xffff) === 0) return 0;
  return i16ToI16General(src, n, m, dst);
}

function i16ToI16General(src: Int16Array, n: number, m: HuMapping, dst: Int16Array): number {
  const { padLo, padHi, slope: s, intercept: b } = m;
  const padHu = clampPaddingHu(m, true);
  let sat = 0;
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    let h = Math.round(v * s + b);
    if (v >= padLo && v <= padHi) h = padHu;
    else if (h > INT16_MAX) (h = INT16_MAX), sat++;
    else if (h < INT16_MIN) (h = INT16_MIN), sat++;
    dst[i] = h;
  }
  return sat;
}

function i16ToI16(src: Int16Array, n: number, m: HuMapping, out: Int16Array, o: number): number {
  const dst = out.subarray(o, o + n);
  if (m.slope === 1 && Number.isInteger(m.intercept)) return i16ToI16Integer(src, n, m, dst);
  return i16ToI16General(src, n, m, dst);
}

function i16ToF32(src: Int16Array, n: number, m: HuMapping, out: Float32Array, o: number): number {
  const { padLo, padHi, slope: s, intercept: b } = m;
  const padHu = m.paddingHu;
  const dst = out.subarray(o, o + n);
  for (let i = 0; i < n; i++) {
    const v = src[i]!;
    dst[i] = v >= padLo && v <= padHi ? padHu : v * s + b;
  }
  return 0;
}

/** True when every value the extraction can yield, plus `intercept`, is inside int16. */
function fitsInt16(x: Extraction, intercept: number): boolean {
  const lo = x.signed ? -(2 ** (x.bitsStored - 1)) : 0;
  const hi = x.signed ? 2 ** (x.bitsStored - 1) - 1 : x.mask ? 2 ** x.bitsStored - 1 : 65535;
  return lo + intercept >= INT16_MIN && hi + intercept <= INT16_MAX;
}

/** Uint16 source, integer rescale: the optimistic pass of i16ToI16Integer with extraction; false on overflow. */
function u16ToI16Integer(src: Uint16Array, n: number, x: Extraction, m: HuMapping, dst: Int16Array): boolean {
  const { padLo, padHi } = m;
  const padHu = clampPaddingHu(m, true);
  const b = m.intercept;
  const shl = 32 - x.shift - x.bitsStored;
  const shr = 32 - x.bitsStored;
  const mask = !x.mask || x.bitsStored >= 16 ? 0xffff : (1 << x.bitsStored) - 1;
  const shift = x.shift;
  if (padLo > padHi && fitsInt16(x, b)) {
    // Every possible value fits: no padding test, no overflow tracking.
    if (x.signed) for (let i = 0; i < n; i++) dst[i] = ((src[i]! << shl) >> shr) + b;
    else for (let i = 0; i < n; i++) dst[i] = ((src[i]! >>> shift) & mask) + b;
    return true;
  }
  let spill = 0;
  if (x.signed) {
    for (let i = 0; i < n; i++) {
      const v = (src[i]! << shl) >> shr;
      const h = v >= padLo && v <= padHi ? padHu : v + b;
      spill |= h + 32768;
      dst[i] = h;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = (src[i]! >>> shift) & mask;
      const h = v >= padLo && v <= padHi ? padHu : v + b;
      spill |= h + 32768;
      dst[i] = h;
    }
  }
  return (spill & ~0xffff) === 0;
}

function u16ToI16(src: Uint16Array, n: number, x: Extraction, m: HuMapping, out: Int16Array, o: number): number {
  const dst = out.subarray(o, o + n);
  if (m.slope === 1 && Number.isInteger(m.intercept) && u16ToI16Integer(src, n, x, m, dst)) return 0;
  const { padLo, padHi, slope: s, intercept: b } = m;
  const padHu = clampPaddingHu(m, true);
  const shl = 32 - x.shift - x.bitsStored;
  const shr = 32 - x.bitsStored;
  const mask = !x.mask || x.bitsStored >= 16 ? 0xffff : (1 << x.bitsStored) - 1;
  const shift = x.shift;
  const signed = x.signed;
  let sat = 0;
  for (let i = 0; i < n; i++) {
    const raw = src[i]!;
    const v = signed ? (raw << shl) >> shr : (raw >>> shift) & mask;
    let h = Math.round(v * s + b);
    if (v >= padLo && v <= padHi) h = padHu;
    else if (h > INT16_MAX) (h = INT16_MAX), sat++;
    else if (h < INT16_MIN) (h = INT16_MIN), sat++;
    dst[i] = h;
  }
  return sat;
}

function u16ToF32(src: Uint16Array, n: number, x: Extraction, m: HuMapping, out: Float32Array, o: number): number {
  const { padLo, padHi, slope: s, intercept: b } = m;
  const padHu = m.paddingHu;
  const shl = 32 - x.shift - x.bitsStored;
  const shr = 32 - x.bitsStored;
  const mask = !x.mask || x.bitsStored >= 16 ? 0xffff : (1 << x.bitsStored) - 1;
  const shift = x.shift;
  const dst = out.subarray(o, o + n);
  if (x.signed) {
    for (let i = 0; i < n; i++) {
      const v = (src[i]! << shl) >> shr;
      dst[i] = v >= padLo && v <= padHi ? padHu : v * s + b;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const v = (src[i]! >>> shift) & mask;
      dst[i] = v >= padLo && v <= padHi ? padHu : v * s + b;
    }
  }
  return 0;
}

/**
 * Writes HU = stored * slope + intercept for `n` samples into `out` at `outOffset`; padding maps to
 * `paddingHu`. Int16 output is rounded and saturated; returns the number of saturated voxels. The common
 * case (slope 1, integer intercept, int16 out) runs in WebAssembly SIMD (hu-wasm.ts) where available.
 */
export type StoredToHu = (src: Int16Array | Uint16Array, n: number, x: Extraction, m: HuMapping, out: Int16Array | Float32Array, outOffset: number) => number;

export const storedToHu: StoredToHu = (src, n, x, m, out, outOffset) => {
  if (out instanceof Int16Array && storedToHuI16Wasm(src, n, x, m, clampPaddingHu(m, true), out.subarray(outOffset, outOffset + n))) return 0;
  return storedToHuJs(src, n, x, m, out, outOffset);
};

/** storedToHu in plain JS: the reference for the WebAssembly path, and its fallback. */
export const storedToHuJs: StoredToHu = (src, n, x, m, out, outOffset) => {
  if (src instanceof Int16Array) {
    if (out instanceof Int16Array) return i16ToI16(src, n, m, out, outOffset);
    return i16ToF32(src, n, m, out, outOffset);
  }
  if (out instanceof Int16Array) return u16ToI16(src, n, x, m, out, outOffset);
  return u16ToF32(src, n, x, m, out, outOffset);
};
