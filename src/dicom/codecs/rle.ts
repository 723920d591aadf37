import type { Codec, DecodedFrame, FrameLayout } from './types.js';

/** Decodes one PackBits segment (PS3.5 G.3.1) into `out`; returns bytes written. */
function unpackSegment(src: Uint8Array, start: number, end: number, out: Uint8Array): number {
  let p = start;
  let o = 0;
  const max = out.length;
  while (p < end && o < max) {
    const n = src[p++]!;
    if (n < 128) {
      // Literal run of n + 1 bytes.
      const count = Math.min(n + 1, end - p, max - o);
      out.set(src.subarray(p, p + count), o);
      p += n + 1;
      o += count;
    } else if (n > 128) {
      // Replicate the next byte 257 - n times.
      if (p >= end) break;
      const count = Math.min(257 - n, max - o);
      out.fill(src[p++]!, o, o + count);
      o += count;
    }
    // n === 128: no operation.
  }
  return o;
}

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

function decodeRle(encoded: Uint8Array, layout: FrameLayout): DecodedFrame {
  const bytesPerSample = layout.bitsAllocated / 8;
  if (layout.samplesPerPixel !== 1 || (bytesPerSample !== 1 && bytesPerSample !== 2)) {
    throw new Error(`RLE with ${layout.samplesPerPixel} samples of ${layout.bitsAllocated} bits is not supported`);
  }
  if (encoded.length < 64) throw new Error('RLE header is cut');
  const segments = u32(encoded, 0);
  if (segments !== bytesPerSample) throw new Error(`RLE has ${segments} segments, ${bytesPerSample} expected`);
  const pixels = layout.rows * layout.columns;
  const planes: Uint8Array[] = [];
  for (let s = 0; s < segments; s++) {
    const start = u32(encoded, 4 + 4 * s);
    const end = s + 1 < segments ? u32(encoded, 8 + 4 * s) : encoded.length;
    if (start < 64 || start > end || end > encoded.length) throw new Error(`RLE segment ${s} offsets are invalid`);
    const plane = new Uint8Array(pixels);
    const n = unpackSegment(encoded, start, end, plane);
    if (n < pixels) throw new Error(`RLE segment ${s} holds ${n} of ${pixels} bytes`);
    planes.push(plane);
  }
  if (bytesPerSample === 1) return { pixels: planes[0]!, raw: true };
  // Segment 0 holds the most significant bytes.
  const hi = planes[0]!;
  const lo = planes[1]!;
  const out = new Uint16Array(pixels);
  for (let i = 0; i < pixels; i++) out[i] = (hi[i]! << 8) | lo[i]!;
  return { pixels: out, raw: true };
}

/** RLE Lossless (.5), PS3.5 Annex G; hand-written, no dependency. */
export const rleCodec: Codec = {
  id: 'rle',
  package: '(built in)',
  async decode(encoded, layout) {
    return decodeRle(encoded, layout);
  },
};
