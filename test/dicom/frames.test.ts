import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseInstance } from '../../src/dicom/parse.js';
import { frameData, frameRanges, scanFragments } from '../../src/dicom/frames.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { codeOf } from './helpers.js';

/** Re-encapsulates `fragments` after the header bytes [0, offset) with the given Basic Offset Table. */
function encapsulate(header: Uint8Array, fragments: Uint8Array[], bot: number[]): Uint8Array {
  const size = header.length + 8 + 4 * bot.length + fragments.reduce((n, f) => n + 8 + f.length, 0) + 8;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  out.set(header);
  let p = header.length;
  const item = (tag: number, len: number) => {
    dv.setUint16(p, 0xfffe, true);
    dv.setUint16(p + 2, tag, true);
    dv.setUint32(p + 4, len, true);
    p += 8;
  };
  item(0xe000, 4 * bot.length);
  for (const o of bot) (dv.setUint32(p, o, true), (p += 4));
  for (const f of fragments) {
    item(0xe000, f.length);
    out.set(f, p);
    p += f.length;
  }
  item(0xe0dd, 0);
  return out;
}

describe.skipIf(!hasSharedData)('frame byte ranges', () => {
  const ct0012 = sharedPath('ct_enhanced_multiframe', 'CT0012.fragmented_no_bot_jpeg_baseline.51.dcm');

  it('splits CT0012 (11 fragments, empty offset table) into 2 frames at JPEG start-of-image markers', () => {
    const bytes = readFileSync(ct0012);
    const inst = parseInstance(bytes, ct0012);
    expect(inst.numberOfFrames).toBe(2);
    const scan = scanFragments(bytes, inst.pixelData!.offset, ct0012);
    expect(scan.basicOffsetTable).toEqual([]);
    expect(scan.fragments).toHaveLength(11);
    const frames = frameRanges(bytes, inst);
    expect(frames.map((f) => f.ranges.length)).toEqual([6, 5]);
    for (let i = 0; i < 2; i++) {
      const d = frameData(bytes, inst, i);
      expect([d[0], d[1], d[2]], `frame ${i} starts with SOI`).toEqual([0xff, 0xd8, 0xff]);
      expect(d.length).toBe(frames[i]!.ranges.reduce((n, [, l]) => n + l, 0));
    }
  });

  it('uses a Basic Offset Table when present, and rejects one that points between fragments', () => {
    const bytes = readFileSync(ct0012);
    const inst = parseInstance(bytes, ct0012);
    const scan = scanFragments(bytes, inst.pixelData!.offset, ct0012);
    const header = bytes.subarray(0, inst.pixelData!.offset);
    const frags = scan.fragments.map((f) => bytes.subarray(f.offset, f.offset + f.length));
    const starts = [0, 6];
    const botOffsets = starts.map((s) => frags.slice(0, s).reduce((n, f) => n + 8 + f.length, 0));
    const withBot = encapsulate(header, frags, botOffsets);
    const i2 = parseInstance(withBot, 'with-bot');
    expect(frameRanges(withBot, i2).map((f) => f.ranges.length)).toEqual([6, 5]);
    expect(Buffer.from(frameData(withBot, i2, 1)).equals(Buffer.from(frameData(bytes, inst, 1)))).toBe(true);
    // A table that says frame 2 begins at fragment 3 wins over the markers; one pointing mid-item is an error.
    const other = encapsulate(header, frags, [0, frags.slice(0, 3).reduce((n, f) => n + 8 + f.length, 0)]);
    expect(frameRanges(other, parseInstance(other, 'other')).map((f) => f.ranges.length)).toEqual([3, 8]);
    const bad = encapsulate(header, frags, [0, 13]);
    expect(codeOf(() => frameRanges(bad, parseInstance(bad, 'bad')))).toBe('E_BAD_DICOM');
  });

  it('reads an Extended Offset Table (7FE0,0001) and uses it when the Basic Offset Table is empty', () => {
    const path = sharedPath('corrupt_truncated', 'emri_small_jpeg_2k_lossless.dcm');
    const bytes = readFileSync(path);
    const inst = parseInstance(bytes, path);
    const scan = scanFragments(bytes, inst.pixelData!.offset, path);
    const withTable = (offsets: number[]) => {
      const el = new Uint8Array(12 + 8 * offsets.length);
      const dv = new DataView(el.buffer);
      dv.setUint16(0, 0x7fe0, true);
      dv.setUint16(2, 0x0001, true);
      el.set([0x4f, 0x56], 4); // OV
      dv.setUint32(8, 8 * offsets.length, true);
      offsets.forEach((o, i) => dv.setBigUint64(12 + 8 * i, BigInt(o), true));
      const at = inst.pixelData!.offset - 12; // start of the (7FE0,0010) element
      return Uint8Array.from([...bytes.subarray(0, at), ...el, ...bytes.subarray(at)]);
    };
    const good = withTable(scan.fragments.map((f) => f.itemOffset));
    const gi = parseInstance(good, 'eot');
    expect(gi.extendedOffsets).toEqual(scan.fragments.map((f) => f.itemOffset));
    expect(frameRanges(good, gi)).toHaveLength(10);
    const swapped = scan.fragments.map((f) => f.itemOffset);
    [swapped[3], swapped[4]] = [swapped[4]!, swapped[3]!];
    const bad = withTable(swapped);
    expect(codeOf(() => frameRanges(bad, parseInstance(bad, 'bad eot')))).toBe('E_BAD_DICOM');
  });

  it('one fragment per frame when the table is empty and the counts match (10-frame J2K)', () => {
    const path = sharedPath('corrupt_truncated', 'emri_small_jpeg_2k_lossless.dcm');
    const bytes = readFileSync(path);
    const inst = parseInstance(bytes, path);
    expect(frameRanges(bytes, inst).map((f) => f.ranges.length)).toEqual(new Array(10).fill(1));
  });

  it('a single frame is all fragments concatenated (WG04 CT1 J2K: 3 fragments)', () => {
    const path = sharedPath('ct_wg04_compression', 'CT1_J2KR');
    const bytes = readFileSync(path);
    const inst = parseInstance(bytes, path);
    const [f] = frameRanges(bytes, inst);
    expect(f!.ranges).toHaveLength(3);
    const d = frameData(bytes, inst, 0);
    expect([d[0], d[1]]).toEqual([0xff, 0x4f]);
    expect(Buffer.from(d.subarray(d.length - 3)).includes(Buffer.from([0xff, 0xd9]))).toBe(true); // EOC, then padding
  });

  it('native multi-frame: frame i at offset + i * frameBytes', () => {
    const path = sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm');
    const bytes = readFileSync(path);
    const inst = parseInstance(bytes, path);
    const size = 512 * 512 * 2;
    expect(frameRanges(bytes, inst).map((f) => f.ranges)).toEqual([[[inst.pixelData!.offset, size]], [[inst.pixelData!.offset + size, size]]]);
    expect(codeOf(() => frameData(bytes, inst, 2))).toBe('E_USAGE');
  });

  it('native frames beyond the bytes present are E_TRUNCATED (header read, data cut later)', () => {
    const path = sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm');
    const bytes = readFileSync(path);
    const head = parseInstance(bytes.subarray(0, bytes.length - 1000), path, { untilPixelData: true });
    expect(codeOf(() => frameRanges(bytes.subarray(0, bytes.length - 1000), head))).toBe('E_TRUNCATED');
  });
});

describe('native frames of bytes that changed after the header was read', () => {
  it.skipIf(!hasSharedData)('bytes that end before the pixel data (released by the host mid-run) are E_TRUNCATED saying so', () => {
    const bytes = new Uint8Array(readFileSync(sharedPath('ct_chest_slice_transfer_syntaxes', 'CTImage.dcm')));
    const inst = parseInstance(bytes, 'chest');
    expect(() => frameRanges(bytes.subarray(0, 100), inst)).toThrow(expect.objectContaining({ code: 'E_TRUNCATED', message: expect.stringMatching(/changed or released/) }));
  });
});
