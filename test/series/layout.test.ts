import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSeries } from '../../src/ingest/load.js';
import { SKIP_REASON, hasSharedData, sharedPath } from '../helpers/shared-data.js';
import type { DicomInstance, FrameMeta } from '../../src/dicom/types.js';
import { groupInstances } from '../../src/series/group.js';
import { indexStudy } from '../../src/series/index-study.js';
import { layoutSlices } from '../../src/series/layout.js';
import { voxelToLps } from '../../src/volume/affine.js';
import type { Vec3 } from '../../src/volume/types.js';

/** A header as the DICOM layer would return it; only the fields the series stage reads matter. */
function inst(over: Partial<DicomInstance> & { ipp?: Vec3; iop?: FrameMeta['imageOrientationPatient']; thickness?: number }): DicomInstance {
  const { ipp, iop, thickness, ...rest } = over;
  const frame: FrameMeta = { rescaleSlope: 1, rescaleIntercept: -1024, pixelSpacing: [0.5, 0.6] };
  if (ipp) frame.imagePositionPatient = ipp;
  frame.imageOrientationPatient = iop ?? [1, 0, 0, 0, 1, 0];
  if (thickness !== undefined) frame.sliceThickness = thickness;
  return {
    source: 'x',
    byteLength: 1000,
    transferSyntaxUid: '1.2.840.10008.1.2.1',
    hasPreamble: true,
    hasFileMeta: true,
    sopClassUid: '1.2.840.10008.5.1.4.1.1.2',
    sopInstanceUid: `1.2.3.${Math.random()}`,
    studyInstanceUid: '1.2.3',
    seriesInstanceUid: '1.2.3.4',
    seriesNumber: 2,
    modality: 'CT',
    imageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
    rows: 4,
    columns: 3,
    numberOfFrames: 1,
    samplesPerPixel: 1,
    photometricInterpretation: 'MONOCHROME2',
    planarConfiguration: 0,
    bitsAllocated: 16,
    bitsStored: 12,
    highBit: 11,
    pixelRepresentation: 0,
    frames: [frame],
    pixelData: { encapsulated: false, offset: 900, length: 24 },
    warnings: [],
    ...rest,
  };
}

const stack = (zs: number[], extra: Partial<Parameters<typeof inst>[0]> = {}): DicomInstance[] =>
  zs.map((z, n) => inst({ source: `f${String(n).padStart(3, '0')}`, instanceNumber: n + 1, ipp: [-10, -20, z], ...extra }));

describe('slice layout', () => {
  it('orders by position along the normal, not by file name or InstanceNumber', () => {
    const files = stack([5, 1, 3, 2, 4]);
    const l = layoutSlices(files);
    expect(l.positions.map((p) => p[2])).toEqual([1, 2, 3, 4, 5]);
    expect(l.geometry.dims).toEqual([3, 4, 5]);
    expect(l.geometry.spacing).toEqual([0.6, 0.5, 1]);
    expect(l.geometry.origin).toEqual([-10, -20, 1]);
    expect(l.problems).toEqual([]);
    expect(l.tiltDeg).toBe(0);
  });

  it('orders descending positions along a flipped normal (feet-first / coronal)', () => {
    // Coronal: rows along +x, columns along -z; normal = x cross -z = +y.
    const files = [0, 2, 1].map((y, n) => inst({ source: `c${n}`, ipp: [0, y * 3, 0], iop: [1, 0, 0, 0, 0, -1] }));
    const l = layoutSlices(files);
    expect(l.normal.map((x) => x + 0)).toEqual([0, 1, 0]);
    expect(l.positions.map((p) => p[1])).toEqual([0, 3, 6]);
    expect(l.geometry.direction.map((x) => x + 0)).toEqual([1, 0, 0, 0, 0, 1, 0, -1, 0]);
  });

  it('reports and drops duplicate positions', () => {
    const l = layoutSlices(stack([1, 2, 2, 3, 3]));
    expect(l.slices).toHaveLength(3);
    expect(l.problems.map((p) => p.kind)).toEqual(['duplicate-slices']);
  });

  it('keeps the lossless image of a duplicated position even when the lossy one sorts first', () => {
    const lossy = inst({ source: 'a-lossy', ipp: [0, 0, 1 - 1e-4], transferSyntaxUid: '1.2.840.10008.1.2.4.50' });
    const lossless = inst({ source: 'b-lossless', ipp: [0, 0, 1], transferSyntaxUid: '1.2.840.10008.1.2.4.70' });
    const l = layoutSlices([lossy, lossless, inst({ source: 'c', ipp: [0, 0, 2] })]);
    expect(l.slices.map((s) => s.instance.source)).toEqual(['b-lossless', 'c']);
    expect(l.positions[0]).toEqual([0, 0, 1]);
  });

  it('reports missing slices and uneven spacing, with the mean step on the grid', () => {
    const l = layoutSlices(stack([0, 1, 2, 3, 6, 7]));
    expect(l.problems.map((p) => p.kind).sort()).toEqual(['missing-slices', 'uneven-spacing']);
    expect(l.problems.find((p) => p.kind === 'missing-slices')!.message).toMatch(/about 2 slice/);
    expect(l.uneven).toBe(true);
    expect(l.geometry.spacing[2]).toBeCloseTo(7 / 5, 12);
    expect(l.offsets).toEqual([0, 1, 2, 3, 6, 7]);
  });

  it('does not call a switch from thin to thick slices a gap', () => {
    const files = [0, 1, 2, 3, 5, 7, 9].map((z, n) => inst({ source: `t${n}`, ipp: [0, 0, z], thickness: z < 3 ? 1 : 2 }));
    const kinds = layoutSlices(files).problems.map((p) => p.kind);
    expect(kinds).toContain('uneven-spacing');
    expect(kinds).not.toContain('missing-slices');
  });

  it('builds the exact sheared geometry of a tilted stack', () => {
    const tilt = (15 * Math.PI) / 180;
    // Slices 2 mm apart along the normal (+z), each shifted along y by 2 tan(tilt).
    const files = [0, 1, 2, 3].map((k) => inst({ source: `s${k}`, ipp: [0, 2 * k * Math.tan(tilt), 2 * k] }));
    const l = layoutSlices(files);
    expect(l.tiltDeg).toBeCloseTo(15, 9);
    expect(l.geometry.spacing[2]).toBeCloseTo(2 / Math.cos(tilt), 9);
    expect(l.problems.map((p) => p.kind)).toEqual(['gantry-tilt']);
    for (let k = 0; k < 4; k++) {
      const p = voxelToLps(l.geometry, [0, 0, k]);
      for (let a = 0; a < 3; a++) expect(p[a]).toBeCloseTo(files[k]!.frames[0]!.imagePositionPatient![a]!, 9);
    }
  });

  it('reports positions off the slice line', () => {
    const files = stack([0, 1, 2, 3]);
    files[2]!.frames[0]!.imagePositionPatient = [-9, -20, 2];
    expect(layoutSlices(files).problems.map((p) => p.kind)).toContain('non-collinear');
  });

  it('normalises an orientation stored with few digits, and refuses one far from unit length (E_GEOMETRY naming it)', () => {
    const r = Math.SQRT1_2;
    const few = layoutSlices(stack([0, 1, 2], { iop: [0.7071, 0.7071, 0, -0.7071, 0.7071, 0] }));
    const d = few.geometry.direction;
    [d[0], d[3], d[4]].forEach((x) => expect(x).toBeCloseTo(r, 6));
    // One decimal: 1 % short, still rounding.
    expect(layoutSlices(stack([0, 1, 2], { iop: [0.7, 0.7, 0, -0.7, 0.7, 0] })).geometry.direction[0]).toBeCloseTo(r, 6);
    expect(() => layoutSlices(stack([0, 1, 2], { iop: [2, 0, 0, 0, 2, 0] }))).toThrow(expect.objectContaining({ code: 'E_GEOMETRY', message: expect.stringMatching(/row direction is not a unit vector \(length 2\.000\)/) }));
    expect(() => layoutSlices(stack([0, 1, 2], { iop: [1, 0, 0, 0, 0.9, 0] }))).toThrow(expect.objectContaining({ code: 'E_GEOMETRY', message: expect.stringMatching(/column direction is not a unit vector/) }));
  });

  it('rejects several images without positions', () => {
    expect(() => layoutSlices([inst({ source: 'a' }), inst({ source: 'b' })])).toThrow(expect.objectContaining({ code: 'E_GEOMETRY' }));
  });

  it('leaves out, and reports, images without a position when at most half are; more is E_GEOMETRY', () => {
    const s = stack([0, 1, 2, 3, 4]);
    s.push(inst({ source: 'lost' }));
    const l = layoutSlices(s);
    expect(l.slices.map((r) => r.instance.source)).toEqual(['f000', 'f001', 'f002', 'f003', 'f004']);
    expect(l.problems).toContainEqual({ kind: 'no-position', message: '1 of 6 images have no usable ImagePositionPatient and were left out: lost' });
    const mostly = [...stack([0, 1]), inst({ source: 'a' }), inst({ source: 'b' }), inst({ source: 'c' })];
    expect(() => layoutSlices(mostly)).toThrow(expect.objectContaining({ code: 'E_GEOMETRY', message: expect.stringMatching(/only 2 distinct ImagePositionPatient value\(s\) for 5 images/) }));
  });

  it('counts images without a position against the whole series: a second layout without a broken slice decides the same', () => {
    const s = [...stack([0, 1, 2, 3, 4]), ...['a', 'b', 'c', 'd', 'e'].map((source) => inst({ source }))];
    // The volume lays the series out again without a slice that did not decode (assembleSeries' keep).
    const l = layoutSlices(s, undefined, (r) => r.instance.source !== 'f002');
    expect(l.slices.map((r) => r.instance.source)).toEqual(['f000', 'f001', 'f003', 'f004']);
    expect(l.problems.find((p) => p.kind === 'no-position')?.message).toMatch(/^5 of 10 images/);
  });

  it('images without a position may not outnumber the distinct positions left (duplicates count once)', () => {
    const s = [...stack([5, 5]), inst({ source: 'a' }), inst({ source: 'b' })];
    expect(() => layoutSlices(s)).toThrow(expect.objectContaining({ code: 'E_GEOMETRY', message: expect.stringMatching(/only 1 distinct ImagePositionPatient value\(s\) for 4 images/) }));
  });

  it("counts distinct positions by the layout's own duplicate rule (along the normal, within duplicateMm)", () => {
    // 5.004 and 5.006 mm: one position to the layout (0.002 mm apart), though they fall in different 0.01 mm cells.
    const s = [...stack([5.004, 5.006]), inst({ source: 'a' }), inst({ source: 'b' })];
    expect(() => layoutSlices(s)).toThrow(expect.objectContaining({ code: 'E_GEOMETRY', message: expect.stringMatching(/only 1 distinct ImagePositionPatient value\(s\) for 4 images/) }));
  });

  it('treats every frame of a multi-frame instance as a slice', () => {
    const frames: FrameMeta[] = [2, 0, 1].map((z) => ({ rescaleSlope: 1, rescaleIntercept: 0, pixelSpacing: [1, 1], imageOrientationPatient: [1, 0, 0, 0, 1, 0], imagePositionPatient: [0, 0, z * 1.5] }));
    const l = layoutSlices([inst({ source: 'mf', numberOfFrames: 3, frames })]);
    expect(l.slices.map((s) => s.frameIndex)).toEqual([1, 2, 0]);
    expect(l.geometry.spacing[2]).toBeCloseTo(1.5, 12);
  });
});

describe('grouping and the primary choice', () => {
  it('splits a series by orientation, size and ImageType with stable ids', () => {
    const axial = stack([0, 1, 2]);
    const scout = inst({ source: 'scout', ipp: [0, 0, 0], iop: [1, 0, 0, 0, 0, -1], rows: 8, imageType: ['ORIGINAL', 'PRIMARY', 'LOCALIZER'] });
    const groups = groupInstances([scout, ...axial]);
    expect(groups.map((g) => [g.id, g.instances.length])).toEqual([
      ['1.2.3.4', 3],
      ['1.2.3.4.2', 1],
    ]);
    expect(groupInstances([...axial].reverse().concat(scout)).map((g) => g.id)).toEqual(['1.2.3.4', '1.2.3.4.2']);
  });

  it('picks the eligible series with most slices and says why the others lost', () => {
    const thin = stack([0, 1, 2, 3], { seriesInstanceUid: '9.1', seriesNumber: 3 });
    const thick = stack([0, 5, 10], { seriesInstanceUid: '9.2', seriesNumber: 2 });
    const derived = stack([0, 0.5, 1, 1.5, 2, 2.5], { seriesInstanceUid: '9.3', imageType: ['DERIVED', 'SECONDARY', 'MPR'] });
    const sc = stack([0, 1, 2, 3, 4, 5, 6], { seriesInstanceUid: '9.4', sopClassUid: '1.2.840.10008.5.1.4.1.1.7' });
    const rgb = stack([0, 1, 2, 3, 4, 5, 6, 7], { seriesInstanceUid: '9.5', samplesPerPixel: 3, photometricInterpretation: 'RGB' });
    const mr = stack([0, 1, 2, 3, 4, 5, 6, 7, 8], { seriesInstanceUid: '9.6', modality: 'MR' });
    const index = indexStudy([...thin, ...thick, ...derived, ...sc, ...rgb, ...mr], [], 31);
    expect(index.primaryId).toBe('9.1');
    const reason = Object.fromEntries(index.series.map((s) => [s.id, s.reason]));
    expect(reason['9.1']).toMatch(/^primary: 4 slice/);
    expect(reason['9.2']).toMatch(/ranked below 9\.1/);
    expect(reason['9.3']).toMatch(/derived/);
    expect(reason['9.4']).toMatch(/secondary capture/);
    expect(reason['9.5']).toMatch(/colour/);
    expect(reason['9.6']).toMatch(/not CT/);
    expect(index.series[0]!.id).toBe('9.1');
  });

  it('prefers the thinner series when slice counts tie, and honours an explicit choice', () => {
    const a = stack([0, 2, 4], { seriesInstanceUid: '8.1', seriesNumber: 1 });
    const b = stack([0, 1, 2], { seriesInstanceUid: '8.2', seriesNumber: 2 });
    expect(indexStudy([...a, ...b], [], 6).primaryId).toBe('8.2');
    expect(indexStudy([...a, ...b], [], 6, { seriesUid: '8.1' }).primaryId).toBe('8.1');
    expect(() => indexStudy([...a, ...b], [], 6, { seriesUid: '7.7' })).toThrow(expect.objectContaining({ code: 'E_SERIES_NOT_FOUND' }));
  });

  it('falls back to a derived or single-image CT only when nothing better exists', () => {
    const single = [inst({ source: 'one', ipp: [0, 0, 0], seriesInstanceUid: '5.1' })];
    const derived = stack([0, 1], { seriesInstanceUid: '5.2', imageType: ['DERIVED', 'PRIMARY'] });
    expect(indexStudy([...single, ...derived], [], 3).primaryId).toBe('5.2');
    expect(indexStudy(single, [], 1).primaryId).toBe('5.1');
  });
});

describe.skipIf(!hasSharedData)('a real series with one damaged position (Philips series 201)', () => {
  if (!hasSharedData) console.warn(SKIP_REASON);
  it('loads the 27 other slices and names the file left out; a position that is not numbers counts as none', async () => {
    const src = sharedPath('ct_phantom_head_philips_mixed_folder');
    for (const damage of ['removed', 'not numbers'] as const) {
      const dir = mkdtempSync(join(tmpdir(), 'ctscope-noipp-'));
      try {
        for (const f of readdirSync(src).filter((f) => f.startsWith('S2010_'))) {
          let b = readFileSync(join(src, f));
          if (f === 'S2010_I140') {
            b = Buffer.from(b);
            const at = b.indexOf(Buffer.from([0x20, 0, 0x32, 0, 0x44, 0x53]));
            // (0020,0032) becomes the retired (0020,0030), or keeps its tag with letters in place of its numbers.
            if (damage === 'removed') b[at + 2] = 0x30;
            else b.fill('a', at + 8, at + 8 + b.readUInt16LE(at + 6));
          }
          writeFileSync(join(dir, f), b);
        }
        const v = await loadSeries(dir);
        expect(v.geometry.dims, damage).toEqual([512, 512, 27]);
        expect(v.problems.find((p) => p.startsWith('no-position:')), damage).toMatch(/^no-position: 1 of 28 images .* left out: .*S2010_I140$/);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  }, 60_000);
});
