import { describe, expect, it } from 'vitest';
import { rleCodec, unpackSegment } from '../../src/dicom/codecs/rle.js';
import { unpackSegmentsWasm } from '../../src/dicom/codecs/rle-wasm.js';

/** An RLE frame (PS3.5 G) from raw segments, each PackBits-encoded by `pack`. */
function rleFrame(segments: number[][]): Uint8Array {
  const header = new Uint8Array(64);
  const dv = new DataView(header.buffer);
  dv.setUint32(0, segments.length, true);
  let at = 64;
  segments.forEach((s, i) => {
    dv.setUint32(4 + 4 * i, at, true);
    at += s.length;
  });
  return Uint8Array.from([...header, ...segments.flat()]);
}

describe('RLE (PackBits) decoder', () => {
  const layout = (bits: number, rows: number, columns: number) => ({ rows, columns, samplesPerPixel: 1, bitsAllocated: bits, bitsStored: bits, pixelRepresentation: 0 as const });

  it('decodes literal runs, replicate runs and no-ops for 8-bit', async () => {
    // literal 3: 1 2 3 | replicate 4 x 9 (n = -3 = 253) | no-op 128 | literal 1: 7
    const frame = rleFrame([[2, 1, 2, 3, 253, 9, 128, 0, 7]]);
    const { pixels, raw } = await rleCodec.decode(frame, layout(8, 2, 4));
    expect(raw).toBe(true);
    expect(Array.from(pixels)).toEqual([1, 2, 3, 9, 9, 9, 9, 7]);
  });

  it('puts segment 0 in the high byte for 16-bit', async () => {
    const hi = [1, 0x12, 0xff];
    const lo = [255, 0x34]; // replicate 2 x 0x34
    const { pixels } = await rleCodec.decode(rleFrame([hi, lo]), layout(16, 1, 2));
    expect(pixels).toBeInstanceOf(Uint16Array);
    expect(Array.from(pixels)).toEqual([0x1234, 0xff34]);
  });

  it('rejects segments that hold too few bytes and a wrong segment count', async () => {
    await expect(rleCodec.decode(rleFrame([[0, 5]]), layout(8, 2, 2))).rejects.toThrow(/holds 1 of 4/);
    await expect(rleCodec.decode(rleFrame([[0, 5]]), layout(16, 1, 1))).rejects.toThrow(/segments/);
  });

  it('takes one byte of padding and rejects a segment that decodes to more than its share (damaged data)', async () => {
    // 4 samples, then a literal of 1 (padding, as some encoders write): decodes.
    const padded = await rleCodec.decode(rleFrame([[3, 1, 2, 3, 4, 0, 9]]), layout(8, 2, 2));
    expect(Array.from(padded.pixels)).toEqual([1, 2, 3, 4]);
    // A replicate run of 6 after the 4 samples: what a hole that shifts the runs leaves.
    await expect(rleCodec.decode(rleFrame([[3, 1, 2, 3, 4, 251, 9]]), layout(8, 2, 2))).rejects.toThrow(/decodes to 10 bytes, 4 expected/);
  });
});

describe('RLE decoder in WebAssembly', () => {
  /** Deterministic pseudo-random bytes. */
  function bytes(n: number, seed: number, max = 256): Uint8Array {
    const out = new Uint8Array(n);
    let s = seed >>> 0;
    for (let i = 0; i < n; i++) {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      out[i] = (s >>> 24) % max;
    }
    return out;
  }

  it('matches the JS loop byte for byte, on valid and on garbage PackBits (runs cut by the segment end or the output)', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const samples = 50 + seed * 37;
      // 64-byte header, then two segments of arbitrary bytes: every control byte is some run or a no-op.
      const enc = bytes(64 + 2 * samples, seed);
      const mid = 64 + ((seed * 53) % (2 * samples));
      const segs = [
        { start: 64, end: mid, first: 1 },
        { start: mid, end: enc.length, first: 0 },
      ];
      const fast = new Uint8Array(samples * 2);
      const filled = unpackSegmentsWasm(enc, segs, fast, 2, samples);
      expect(filled).toBeDefined();
      const ref = new Uint8Array(samples * 2);
      const refFilled = segs.map((g) => unpackSegment(enc, g.start, g.end, ref, g.first, 2, samples));
      expect(filled).toEqual(refFilled);
      // Every byte a segment wrote (a short one leaves the rest undefined; the decoder rejects that frame).
      segs.forEach((g, s) => {
        for (let i = 0; i < filled![s]!; i++) expect(fast[g.first + 2 * i]).toBe(ref[g.first + 2 * i]);
      });
    }
  });
});
