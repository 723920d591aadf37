/**
 * IEEE 754 binary16 <-> binary32 for float16 model inputs and outputs (onnxruntime-node takes 'float16'
 * tensors as Uint16Array bit patterns). float32 -> float16 rounds to nearest, ties to even; overflow gives
 * infinity, tiny values become subnormals or signed zero, NaN stays NaN.
 */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 : 0);
  const e = exp - 112; // rebias 127 -> 15
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h; // a carry into bit 10 is the smallest normal, which is the right encoding
  }
  let h = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++; // a carry may reach infinity, as it should
  return sign | h;
}

let table: Float32Array | undefined;

/** All 65,536 half values as float32, built once (256 KiB). */
function f16Table(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exp = (h >>> 10) & 0x1f;
    const mant = h & 0x3ff;
    let v: number;
    if (exp === 0) v = mant * 2 ** -24;
    else if (exp === 31) v = mant ? NaN : Infinity;
    else v = (1 + mant / 1024) * 2 ** (exp - 15);
    table[h] = sign * v;
  }
  return table;
}

export function f16ToF32(h: number): number {
  return f16Table()[h & 0xffff]!;
}

export function toFloat16(src: Float32Array, dst: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16(bits[i]!);
  return dst;
}

export function fromFloat16(src: Uint16Array, dst: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = f16Table();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
  return dst;
}
