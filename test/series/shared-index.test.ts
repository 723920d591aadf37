import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { describe, expect, it } from 'vitest';
import { scanStudy } from '../../src/ingest/load.js';
import type { SeriesEntry, StudyIndex } from '../../src/series/types.js';
import { hasSharedData, sharedPath, SKIP_REASON } from '../helpers/shared-data.js';

/** dcm2niix BIDS sidecar shipped with the data (reference values). */
function refJson(folder: string, file: string): { SeriesNumber: number; Modality: string; ImageOrientationPatientDICOM: number[]; SliceThickness?: number; ImageType: string[] } {
  return JSON.parse(readFileSync(sharedPath(folder, 'ref', file), 'utf8'));
}

const primaryOf = (index: StudyIndex): SeriesEntry => index.series.find((s) => s.id === index.primaryId)!;
const kinds = (s: SeriesEntry): string[] => s.layout!.problems.map((p) => p.kind);
const iopOf = (s: SeriesEntry): number[] => {
  const d = s.layout!.geometry.direction;
  return [d[0], d[3], d[6], d[1], d[4], d[7]];
};

if (!hasSharedData) console.warn(SKIP_REASON);

describe.skipIf(!hasSharedData)('indexing the shared corpus (headers only)', () => {
  it('ct_head_ge_tilt_varspacing: 28 tilted slices, uneven spacing, matches the dcm2niix sidecar', async () => {
    const index = await scanStudy(sharedPath('ct_head_ge_tilt_varspacing'));
    expect(index.series).toHaveLength(1);
    const s = primaryOf(index);
    const ref = refJson('ct_head_ge_tilt_varspacing', 'dcm2niix_2.json');
    expect(s.seriesNumber).toBe(ref.SeriesNumber);
    expect(s.modality).toBe(ref.Modality);
    expect(s.imageType).toEqual(ref.ImageType);
    iopOf(s).forEach((x, i) => expect(x).toBeCloseTo(ref.ImageOrientationPatientDICOM[i]!, 5));
    expect(s.layout!.geometry.dims).toEqual([512, 512, 28]);
    expect(s.layout!.geometry.spacing[0]).toBeCloseTo(0.4883, 4);
    expect(s.layout!.geometry.spacing[1]).toBeCloseTo(0.4883, 4);
    expect(s.layout!.tiltDeg).toBeCloseTo(18.5, 1);
    expect(kinds(s).sort()).toEqual(['gantry-tilt', 'uneven-spacing']);
    expect(s.layout!.uneven).toBe(true);
    // Real steps along the normal: 4.0 mm, one 1.08 mm overlap, then 7.0 mm (SliceThickness 4 then 7).
    const steps = s.layout!.offsets.slice(1).map((o, i) => o - s.layout!.offsets[i]!);
    expect(Math.min(...steps)).toBeCloseTo(1.081, 2);
    expect(Math.max(...steps)).toBeCloseTo(6.999, 2);
    expect(s.instances[0]!.frames[0]!.sliceThickness).toBe(ref.SliceThickness);
    // The skipped sidecar is reported, not fatal.
    expect(index.skipped.map((k) => [basename(k.path), k.code])).toEqual([['dcm2niix_2.json', 'E_NOT_DICOM']]);
  });

  it('ct_phantom_head_philips_1mm: 512x512x140 at 0.4512 x 0.4512 x 1.0, ordered by position not by file name', async () => {
    const index = await scanStudy(sharedPath('ct_phantom_head_philips_1mm'));
    const s = primaryOf(index);
    const ref = refJson('ct_phantom_head_philips_1mm', '1A_TRAUMA_PLAIN_HEAD_DM_Head_202.json');
    expect(s.seriesNumber).toBe(ref.SeriesNumber);
    iopOf(s).forEach((x, i) => expect(x).toBeCloseTo(ref.ImageOrientationPatientDICOM[i]!, 5));
    const l = s.layout!;
    expect(l.geometry.dims).toEqual([512, 512, 140]);
    expect(l.geometry.spacing[0]).toBeCloseTo(0.4512, 4);
    expect(l.geometry.spacing[2]).toBeCloseTo(1.0, 4);
    expect(l.problems).toEqual([]);
    expect(l.tiltDeg).toBe(0);
    // Offsets strictly increase by 1 mm; the files in that order are not in lexical order (I10, I100, I1000...).
    l.offsets.forEach((o, k) => expect(o).toBeCloseTo(k, 3));
    const names = l.slices.map((r) => basename(r.instance.source));
    expect(names).not.toEqual([...names].sort());
    expect([...names].sort()[1]).toBe('I100');
    expect(names.slice(0, 3)).toEqual(['I10', 'I20', 'I30']);
  });

  it('ct_phantom_head_philips_mixed_folder: series 201 is primary; localizer, secondary captures and RGB are rejected with reasons', async () => {
    const index = await scanStudy(sharedPath('ct_phantom_head_philips_mixed_folder'));
    const s = primaryOf(index);
    const ref = refJson('ct_phantom_head_philips_mixed_folder', '1A_TRAUMA_PLAIN_HEAD_DM_Head_201.json');
    expect(s.seriesNumber).toBe(201);
    expect(ref.SeriesNumber).toBe(201);
    expect(s.layout!.geometry.dims).toEqual([512, 512, 28]);
    expect(s.layout!.geometry.spacing[0]).toBeCloseTo(0.4512, 4);
    expect(s.layout!.geometry.spacing[2]).toBeCloseTo(5.0, 4);
    const others = index.series.filter((x) => !x.primary);
    const localizer = others.find((x) => x.seriesNumber === 100)!;
    expect(localizer.reason).toMatch(/localizer/);
    expect(localizer.verdicts.map((v) => v.rule)).toContain('localizer');
    const exam = others.filter((x) => x.seriesNumber === 401);
    expect(exam.reduce((n, x) => n + x.instances.length, 0)).toBe(6);
    for (const x of exam) expect(x.reason).toMatch(/secondary capture/);
    const rgb = exam.filter((x) => x.samplesPerPixel === 3);
    expect(rgb.length).toBeGreaterThanOrEqual(2);
    for (const x of rgb) expect(x.reason).toMatch(/colour image/);
    expect(rgb.map((x) => `${x.columns}x${x.rows}`)).toEqual(expect.arrayContaining(['650x512', '650x741']));
    // Sub-series ids: the UID, then <uid>.2...
    const ids = exam.map((x) => x.id).sort();
    expect(ids[0]).toBe(exam[0]!.seriesInstanceUid);
    expect(ids.slice(1).every((id, i) => id === `${exam[0]!.seriesInstanceUid}.${i + 2}`)).toBe(true);
  });

  it('ct_chest_slice_transfer_syntaxes: one image in 16 files is one position; lossless kept first', async () => {
    const index = await scanStudy(sharedPath('ct_chest_slice_transfer_syntaxes'));
    expect(index.skipped).toEqual([]);
    // 16 files; the original and the ILE copy share a syntax.
    expect(index.series.reduce((n, s) => n + s.instances.length, 0)).toBe(16);
    expect(new Set(index.series.flatMap((s) => s.transferSyntaxes)).size).toBe(15);
    const s = primaryOf(index);
    expect(s.layout!.slices).toHaveLength(1);
    expect(basename(s.layout!.slices[0]!.instance.source)).toBe('CTImage.dcm');
    expect(kinds(s)).toContain('duplicate-slices');
    expect(s.reason).toMatch(/single image/);
  });

  it('ct_wg04_compression: every file indexed, single-image CT chosen only as a fallback', async () => {
    const index = await scanStudy(sharedPath('ct_wg04_compression'));
    expect(index.skipped).toEqual([]);
    expect(index.series.reduce((n, s) => n + s.instances.length, 0)).toBe(14);
    const s = primaryOf(index);
    expect(s.modality).toBe('CT');
    expect(s.layout!.slices).toHaveLength(1);
    expect(s.verdicts.map((v) => v.rule)).toEqual(['single-image']);
  });

  it('ct_enhanced_multiframe: per-frame positions from functional groups, the two encodings collapse to 2 slices', async () => {
    const index = await scanStudy(sharedPath('ct_enhanced_multiframe'));
    const s = primaryOf(index);
    expect(s.frameCount).toBe(4);
    expect(s.layout!.geometry.dims).toEqual([512, 512, 2]);
    expect(s.layout!.slices.every((r) => basename(r.instance.source) === 'eCT_Supplemental.dcm')).toBe(true);
    expect(s.layout!.slices.map((r) => r.frameIndex).sort()).toEqual([0, 1]);
    const one = primaryOf(await scanStudy(sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm')));
    expect(one.layout!.geometry.dims).toEqual([512, 512, 2]);
    expect(one.layout!.problems).toEqual([]);
    expect(one.layout!.geometry.spacing[2]).toBeGreaterThan(0);
  });

  it('mr folders: MR is indexed but never primary; reference NIfTI/JSON files are skipped as E_NOT_DICOM', async () => {
    for (const folder of ['mr_transfer_syntaxes_dcm2niix_ref', 'mr_12bit_signed_unsigned_dcm2niix_ref']) {
      const index = await scanStudy(sharedPath(folder));
      expect(index.primaryId).toBeUndefined();
      expect(index.series.length).toBeGreaterThan(0);
      for (const s of index.series) expect(s.reason).toMatch(/modality MR is not CT/);
      expect(index.skipped.length).toBeGreaterThan(0);
      for (const k of index.skipped) expect(k.code).toBe('E_NOT_DICOM');
    }
  });

  it('no_preamble_no_meta: files without preamble or meta are indexed; header-only files skipped with a code', async () => {
    const index = await scanStudy(sharedPath('no_preamble_no_meta'));
    const s = primaryOf(index);
    expect(s.modality).toBe('CT');
    expect(`${s.columns}x${s.rows}`).toBe('128x128');
    const cr = index.series.find((x) => x.modality === 'CR');
    if (cr) expect(cr.reason).toMatch(/not CT/);
    const skipped = Object.fromEntries(index.skipped.map((k) => [basename(k.path), k.code]));
    expect(skipped['ExplVR_BigEndNoMeta.dcm']).toBe('E_UNSUPPORTED_PIXELS');
    expect(skipped['ExplVR_LitEndNoMeta.dcm']).toBe('E_UNSUPPORTED_PIXELS');
    expect(index.inputCount).toBe(5);
  });

  it('corrupt_truncated: the truncated file is skipped with E_TRUNCATED, nothing crashes', async () => {
    const index = await scanStudy(sharedPath('corrupt_truncated'));
    const skipped = Object.fromEntries(index.skipped.map((k) => [basename(k.path), k.code]));
    expect(skipped['MR_truncated.dcm']).toBe('E_TRUNCATED');
    expect(index.primaryId).toBeUndefined();
  });
});
