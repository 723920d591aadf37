import { mkdirSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSeries, scanStudy } from '../../src/ingest/load.js';
import { assembleSeries } from '../../src/ingest/assemble.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { chestTs } from '../dicom/helpers.js';

afterAll(() => closePool());

const J2K = (): string => chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90');

/**
 * A series of `n` slices 1.25 mm apart made from the one JPEG 2000 chest slice: ImagePositionPatient z, the SOP
 * Instance UIDs and InstanceNumber are rewritten in place (same lengths), so every file keeps the real codestream.
 */
function j2kSeries(n: number, zOf = (k: number): number => 1.25 * k): Array<{ name: string; bytes: Buffer }> {
  const src = readFileSync(J2K());
  const ds = dicomParser.parseDicom(new Uint8Array(src), { untilTag: 'x7fe00010' });
  const field = (tag: string): { at: number; length: number; text: string } => {
    const el = ds.elements[tag]!;
    return { at: el.dataOffset, length: el.length, text: ds.string(tag) ?? '' };
  };
  const ipp = field('x00200032'), sop = field('x00080018'), meta = field('x00020003'), number = field('x00200013');
  const [x, y, z0] = ipp.text.split('\\').map(Number) as [number, number, number];
  return Array.from({ length: n }, (_, k) => {
    const b = Buffer.from(src);
    const put = (f: { at: number; length: number }, text: string, pad: string): void => {
      if (text.length > f.length) throw new Error(`${text} does not fit ${f.length} bytes`);
      b.write(text.padEnd(f.length, pad), f.at, 'latin1');
    };
    put(ipp, `${x}\\${y}\\${(z0 + zOf(k)).toFixed(2)}`, ' ');
    const uid = `${sop.text.slice(0, sop.text.length - 4)}${String(k).padStart(4, '0')}`;
    put(sop, uid, '\0');
    put(meta, uid, '\0');
    put(number, String(k + 1), ' ');
    return { name: `s${String(k).padStart(2, '0')}.dcm`, bytes: b };
  });
}

/** The codestream cut short (zeros over its second half): the header still reads, the pixels do not decode. */
function damage(bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  b.fill(0, b.length - Math.floor(b.length / 2), b.length - 8);
  return b;
}


describe.skipIf(!hasSharedData)('slices that do not decode', () => {
  it('a damaged slice is left out and reported; the rest is the same volume, with the gap measured', async () => {
    const clean = j2kSeries(12);
    const input = clean.map((f, k) => (k === 6 ? { name: f.name, bytes: damage(f.bytes) } : f));
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-broken-'));
    try {
      for (const f of input) writeFileSync(join(dir, f.name), f.bytes);
      const whole = await loadSeries(clean, { threads: 2 });
      for (const [what, source] of [['buffers', input], ['folder', dir]] as const) {
        const v = await loadSeries(source, { threads: 2 });
        expect(v.geometry.dims, what).toEqual([512, 512, 11]);
        expect(v.sliceUids, what).toEqual(whole.sliceUids.filter((_, k) => k !== 6));
        expect(v.slices.offsets[6]! - v.slices.offsets[5]!, what).toBeCloseTo(2.5, 6);
        expect(v.problems.find((p) => p.startsWith('undecodable-slices:')), what).toMatch(/^undecodable-slices: 1 of 12 slices could not be decoded and is left out: s06\.dcm: E_CODEC, JPEG 2000 Lossless frame 1 of s06\.dcm does not decode/);
        // The chest slice is thicker than the gap, so it is uneven spacing rather than missing slices.
        expect(v.problems.some((p) => p.startsWith('uneven-spacing:')), what).toBe(true);
        expect(v.index.skipped.map((s) => [s.path.endsWith('s06.dcm'), s.code]), what).toEqual([[true, 'E_CODEC']]);
        // The slices kept hold exactly what they hold in the clean series, each at its new index.
        const plane = 512 * 512;
        for (let k = 0; k < 11; k++) {
          const from = k < 6 ? k : k + 1;
          expect(Buffer.compare(Buffer.from(v.data.buffer, k * plane * 2, plane * 2), Buffer.from(whole.data.buffer, from * plane * 2, plane * 2)), `${what} slice ${k}`).toBe(0);
        }
        // Left out in place: the slices kept are the front of the one buffer allocated for all 12.
        expect(v.data.length, what).toBe(11 * plane);
        expect(v.data.buffer.byteLength, what).toBe(12 * plane * 2);
        // Key images read slices again through the series layout: it is the one without the broken slice.
        expect(v.series.layout!.slices.map((s) => s.instance.sopInstanceUid)).toEqual(v.sliceUids);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a file that vanished between the index and the decode is left out the same way', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-vanish-'));
    try {
      mkdirSync(join(dir, 'series'));
      for (const f of j2kSeries(8)) writeFileSync(join(dir, 'series', f.name), f.bytes);
      const index = await scanStudy(join(dir, 'series'));
      unlinkSync(join(dir, 'series', 's03.dcm'));
      const { volume, broken } = await assembleSeries(index.series[0]!, { threads: 2 });
      expect(volume.geometry.dims[2]).toBe(7);
      expect(broken.map((b) => [b.sliceIndex, b.code])).toEqual([[3, 'E_NOT_FOUND']]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('a broken slice with an intact duplicate at its position is replaced by it; other problems are measured on what is kept', async () => {
    // s07 repeats s03's position; the layout prefers s03 (lower InstanceNumber), which is broken.
    const series = j2kSeries(8, (k) => 1.25 * (k === 7 ? 3 : k));
    const whole = await loadSeries(series, { threads: 2 });
    expect(whole.geometry.dims[2]).toBe(7);
    expect(whole.problems.some((p) => p.startsWith('duplicate-slices:'))).toBe(true);
    const v = await loadSeries(series.map((f, k) => (k === 3 ? { name: f.name, bytes: damage(f.bytes) } : f)), { threads: 2 });
    expect(v.geometry.dims[2]).toBe(7);
    expect(v.sliceUids[3]).toBe(whole.sliceUids[3]!.slice(0, -4) + '0007');
    expect(v.slices.uneven).toBe(false);
    expect(v.problems.filter((p) => /^(uneven-spacing|missing-slices)/.test(p))).toEqual([]);
    const plane = 512 * 512 * 2;
    expect(Buffer.compare(Buffer.from(v.data.buffer, 3 * plane, plane), Buffer.from(whole.data.buffer, 3 * plane, plane))).toBe(0);
    expect(v.problems.find((p) => p.startsWith('undecodable-slices:'))).toMatch(/^undecodable-slices: 1 image\(s\) could not be decoded, duplicates of one position included; 0 of 7 slice positions lost: s03\.dcm: E_CODEC/);
    // Both images at that position broken: one position is lost, not two, and the series still loads.
    const both = await loadSeries(series.map((f, k) => (k === 3 || k === 7 ? { name: f.name, bytes: damage(f.bytes) } : f)), { threads: 2 });
    expect(both.geometry.dims[2]).toBe(6);
    expect(both.problems.find((p) => p.startsWith('undecodable-slices:'))).toMatch(/^undecodable-slices: 2 image\(s\) could not be decoded, duplicates of one position included; 1 of 7 slice positions lost: /);
    // An unrelated broken slice leaves the duplicate reported as before.
    const other = await loadSeries(series.map((f, k) => (k === 1 ? { name: f.name, bytes: damage(f.bytes) } : f)), { threads: 2 });
    expect(other.geometry.dims[2]).toBe(6);
    expect(other.problems.some((p) => p.startsWith('duplicate-slices:'))).toBe(true);
  }, 60_000);

  it('a position whose images keep failing is given up after 3 of them, its other duplicates with it (2000 broken frames at one position took 27 s)', async () => {
    // Slices 8-13 repeat slice 3's position; the layout tries them in InstanceNumber order, so s03, s08, s09 fail,
    // and the intact s13 behind three more broken ones is not reached: one position lost, not 6 rounds of decoding.
    const series = j2kSeries(14, (k) => 1.25 * (k >= 8 ? 3 : k));
    const input = series.map((f, k) => (k === 3 || (k >= 8 && k <= 12) ? { name: f.name, bytes: damage(f.bytes) } : f));
    const v = await loadSeries(input, { threads: 2 });
    expect(v.geometry.dims[2]).toBe(7);
    expect(v.problems.find((p) => p.startsWith('undecodable-slices:'))).toMatch(/^undecodable-slices: 3 image\(s\) could not be decoded, duplicates of one position included; 1 of 8 slice positions lost: /);
    // Two broken ones before an intact duplicate: it is still found.
    const two = await loadSeries(series.map((f, k) => (k === 3 || k === 8 ? { name: f.name, bytes: damage(f.bytes) } : f)), { threads: 2 });
    expect(two.geometry.dims[2]).toBe(8);
  }, 60_000);

  it('a single broken file, or a series where nothing decodes, fails with the decoder\'s code and reason', async () => {
    const [one] = j2kSeries(1);
    await expect(loadSeries([{ name: one!.name, bytes: damage(one!.bytes) }], { threads: 1 })).rejects.toMatchObject({ code: 'E_CODEC', message: expect.stringMatching(/^1 of 1 slices of series .* cannot be decoded; the first: .*s00\.dcm does not decode/) });
    const all = j2kSeries(4).map((f) => ({ name: f.name, bytes: damage(f.bytes) }));
    await expect(loadSeries(all, { threads: 2 })).rejects.toMatchObject({ code: 'E_CODEC', message: expect.stringMatching(/^4 of 4 slices/) });
  }, 60_000);

  it('when more than half the slices do not decode, the series fails with the first one\'s code', async () => {
    const input = j2kSeries(6).map((f, k) => (k < 4 ? { name: f.name, bytes: damage(f.bytes) } : f));
    await expect(loadSeries(input, { threads: 2 })).rejects.toMatchObject({ code: 'E_CODEC', message: expect.stringMatching(/^4 of 6 slices of series .* cannot be decoded; the first: /) });
  }, 60_000);
});
