import { unpackSegmentsWasm, type RleSegment } from './rle-wasm.js';
import type { Codec, DecodedFrame, FrameLayout } from './types.js';

/**
 * Decodes one PackBits segment (PS3.5 G.3.1) into every `stride`-th byte of `out` from `first`; returns the
 * samples written. Writing with a stride puts each byte plane straight into its place in the 16-bit output,
 * and plain loops beat `set`/`fill` calls on CT's short runs.
 */
export function unpackSegment(src: Uint8Array, start: number, end: number, out: Uint8Array, first: number, stride: number, samples: number): number {
  let p = start;
  let o = first;
  const max = first + samples * stride;
  while (p < end && o < max) {
    const n = src[p++]!;
    if (n < 128) {
      // Literal run of n + 1 bytes.
      let stop = p + n + 1;
      if (stop > end) stop = end;
      while (p < stop && o < max) {
        out[o] = src[p++]!;
        o += stride;
      }
      p = stop;
    } else if (n > 128) {
      // Replicate the next byte 257 - n times.
      if (p >= end) break;
      const b = src[p++]!;
      let stopO = o + (257 - n) * stride;
      if (stopO > max) stopO = max;
      for (; o < stopO; o += stride) out[o] = b;
    }
    // n === 128: no operation.
  }
  return (o - first) / stride;
}

/**
 * Bytes that the PackBits segment [start, end) decodes to in full, reading its control bytes only. Some encoders
 * pad a segment by one byte; more than that left over means damaged data (a hole shifts the runs, and a segment
 * then reads on into the next one), which a decoder that stops at the frame's size would return as a garbled slice.
 */
export function segmentLength(src: Uint8Array, start: number, end: number): number {
  let p = start;
  let n = 0;
  while (p < end) {
    const c = src[p++]!;
    if (c < 128) {
      n += Math.min(c + 1, end - p);
      p += c + 1;
    } else if (c > 128) {
      if (p >= end) break;
      n += 257 - c;
      p++;
    }
  }
  return n;
}

/** Decoded bytes beyond a segment's share of the frame that are taken for padding (see segmentLength). */
const SEGMENT_PADDING = 1;

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
  const out = bytesPerSample === 1 ? new Uint8Array(pixels) : new Uint16Array(pixels);
  const bytes = new Uint8Array(out.buffer);
  // Segment 0 holds the most significant bytes; on a little-endian host they go to the odd byte of each sample.
  const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
  const ranges: RleSegment[] = [];
  for (let s = 0; s < segments; s++) {
    const start = u32(encoded, 4 + 4 * s);
    const end = s + 1 < segments ? u32(encoded, 8 + 4 * s) : encoded.length;
    if (start < 64 || start > end || end > encoded.length) throw new Error(`RLE segment ${s} offsets are invalid`);
    const significance = segments - 1 - s; // 1 for the high byte of 16-bit samples, 0 for the low byte
    ranges.push({ start, end, first: bytesPerSample === 1 ? 0 : littleEndian ? significance : 1 - significance });
  }
  const filled =
    unpackSegmentsWasm(encoded, ranges, bytes, bytesPerSample, pixels) ??
    ranges.map((r) => unpackSegment(encoded, r.start, r.end, bytes, r.first, bytesPerSample, pixels));
  filled.forEach((n, s) => {
    if (n < pixels) throw new Error(`RLE segment ${s} holds ${n} of ${pixels} bytes`);
  });
  ranges.forEach((r, s) => {
    const total = segmentLength(encoded, r.start, r.end);
    if (total > pixels + SEGMENT_PADDING) throw new Error(`RLE segment ${s} decodes to ${total} bytes, ${pixels} expected (damaged data)`);
  });
  return { pixels: out, raw: true };
}

/** RLE Lossless (.5), PS3.5 Annex G; hand-written (no maintained decoder package), in WebAssembly where available. */
export const rleCodec: Codec = {
  id: 'rle',
  package: '(built in)',
  async decode(encoded, layout) {
    return decodeRle(encoded, layout);
  },
};
