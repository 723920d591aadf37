import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeries, scanStudy } from '../../src/ingest/load.js';
import { lpsToVoxel, voxelToLps } from '../../src/volume/affine.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctscope-vol-'));
});
afterAll(async () => {
  await closePool();
  await rm(dir, { recursive: true, force: true });
});

function range(data: Int16Array | Float32Array): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < data.length; i++) {
    const v = data[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

describe.skipIf(!hasSharedData)('assembling CT volumes from the shared corpus', () => {
  it('tilted GE head: 512x512x28 sheared volume whose affine reproduces every slice IPP', async () => {
    const v = await loadSeries(sharedPath('ct_head_ge_tilt_varspacing'), { threads: 2 });
    expect(v.geometry.dims).toEqual([512, 512, 28]);
    expect(v.data).toBeInstanceOf(Int16Array);
    expect(v.data.length).toBe(512 * 512 * 28);
    expect(v.tiltDeg).toBeCloseTo(18.5, 1);
    expect(v.slices.uneven).toBe(true);
    expect(v.problems.some((p) => p.startsWith('uneven-spacing:'))).toBe(true);
    expect(v.problems.some((p) => p.startsWith('gantry-tilt:'))).toBe(true);
    expect(v.sliceUids).toHaveLength(28);
    expect(new Set(v.sliceUids).size).toBe(28);
    expect(v.frameNumbers.every((f) => f === 1)).toBe(true);
    // Slice k of the grid at the mean step: first and last are exact; every real position is in `slices`.
    const first = voxelToLps(v.geometry, [0, 0, 0]);
    const last = voxelToLps(v.geometry, [0, 0, 27]);
    first.forEach((x, a) => expect(x).toBeCloseTo(v.slices.positions[0]![a]!, 4));
    last.forEach((x, a) => expect(x).toBeCloseTo(v.slices.positions[27]![a]!, 4));
    // Each real position lies on the sheared k axis: origin + t * dirK.
    const headers = v.series.layout!.slices.map((s) => s.instance.frames[0]!.imagePositionPatient!);
    headers.forEach((p, k) => expect(p).toEqual(v.slices.positions[k]));
    const d = v.geometry.direction;
    const dirK = [d[2], d[5], d[8]];
    for (const p of headers) {
      const rel = p.map((x, a) => x - v.geometry.origin[a]!);
      const t = rel[0]! * dirK[0]! + rel[1]! * dirK[1]! + rel[2]! * dirK[2]!;
      rel.forEach((x, a) => expect(x).toBeCloseTo(t * dirK[a]!, 4));
    }
    // Mapped back through the inverse affine, each real IPP is voxel (0, 0, t) with t = offset / mean step.
    const meanStep = v.slices.offsets[27]! / 27;
    v.slices.positions.forEach((p, k) => {
      const ijk = lpsToVoxel(v.geometry, p);
      expect(ijk[0]).toBeCloseTo(0, 4);
      expect(ijk[1]).toBeCloseTo(0, 4);
      expect(ijk[2]).toBeCloseTo(v.slices.offsets[k]! / meanStep, 4);
    });
    // Stored -1500 is padding (mapped to air), max 2121 HU (slope 1, intercept 0).
    const [lo, hi] = range(v.data);
    expect(hi).toBe(2121);
    expect(lo).toBeGreaterThan(-1500);
  });

  it('Philips 1 mm phantom: 140 slices at 0.4512 x 0.4512 x 1.0 mm, HU -1024..1033, affine matches each IPP', async () => {
    const v = await loadSeries(sharedPath('ct_phantom_head_philips_1mm'), { threads: 2 });
    expect(v.geometry.dims).toEqual([512, 512, 140]);
    expect(v.geometry.spacing.map((x) => Number(x.toFixed(4)))).toEqual([0.4512, 0.4512, 1]);
    expect(range(v.data)).toEqual([-1024, 1033]);
    expect(v.problems).toEqual([]);
    v.slices.positions.forEach((p, k) => {
      const q = voxelToLps(v.geometry, [0, 0, k]);
      q.forEach((x, a) => expect(x).toBeCloseTo(p[a]!, 3));
    });
    // Voxel (i, j) maps along the DICOM row/column directions.
    const q = voxelToLps(v.geometry, [10, 20, 0]);
    const p0 = v.slices.positions[0]!;
    expect(q[0]).toBeCloseTo(p0[0] + 10 * v.geometry.spacing[0], 4);
    expect(q[1]).toBeCloseTo(p0[1] + 20 * v.geometry.spacing[1], 4);
  });

  it('Enhanced CT multi-frame: a 2-slice volume with frame numbers', async () => {
    const v = await loadSeries(sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm'), { threads: 1 });
    expect(v.geometry.dims).toEqual([512, 512, 2]);
    expect(v.frameNumbers.slice().sort()).toEqual([1, 2]);
    expect(new Set(v.sliceUids).size).toBe(1);
    v.slices.positions.forEach((p, k) => voxelToLps(v.geometry, [0, 0, k]).forEach((x, a) => expect(x).toBeCloseTo(p[a]!, 4)));
  });

  it('in-memory buffers give the same volume as paths; bad buffers are skipped by name', async () => {
    const folder = sharedPath('ct_phantom_head_philips_mixed_folder');
    const names = readdirSync(folder).filter((n) => n.startsWith('S'));
    const buffers = await Promise.all(names.map(async (name) => ({ name, bytes: new Uint8Array(await readFile(join(folder, name))) })));
    buffers.push({ name: 'noise', bytes: new Uint8Array(1000).fill(7) });
    buffers.push({ name: 'truncated', bytes: new Uint8Array(await readFile(sharedPath('corrupt_truncated', 'MR_truncated.dcm'))) });
    const fromBuffers = await loadSeries(buffers, { threads: 2 });
    expect(fromBuffers.index.skipped.map((k) => [k.path, k.code])).toEqual([
      ['noise', 'E_NOT_DICOM'],
      ['truncated', 'E_TRUNCATED'],
    ]);
    const fromPaths = await loadSeries(folder, { threads: 2 });
    expect(fromBuffers.geometry).toEqual(fromPaths.geometry);
    expect(fromBuffers.index.series.find((s) => s.primary)!.seriesNumber).toBe(201);
    expect(Buffer.from(fromBuffers.data.buffer).equals(Buffer.from(fromPaths.data.buffer))).toBe(true);
  });

  it('skips corrupt and non-DICOM files inside a folder and reports them with codes', async () => {
    const mixed = join(dir, 'mixed');
    await rm(mixed, { recursive: true, force: true });
    await (await import('node:fs/promises')).mkdir(mixed);
    const folder = sharedPath('ct_phantom_head_philips_mixed_folder');
    for (const n of readdirSync(folder).filter((x) => x.startsWith('S2010_'))) await symlink(join(folder, n), join(mixed, n));
    await symlink(sharedPath('corrupt_truncated', 'MR_truncated.dcm'), join(mixed, 'truncated'));
    await writeFile(join(mixed, 'garbage.bin'), new Uint8Array(4096).map((_, i) => (i * 7919) & 255));
    await writeFile(join(mixed, 'empty'), new Uint8Array(0));
    await writeFile(join(mixed, 'fake.dcm'), Buffer.concat([Buffer.alloc(128), Buffer.from('DICM'), Buffer.from([2, 0, 0x10, 0, 0x55, 0x49, 200, 0])]));
    const v = await loadSeries(mixed, { threads: 2 });
    expect(v.geometry.dims).toEqual([512, 512, 28]);
    const skipped = Object.fromEntries(v.index.skipped.map((k) => [basename(k.path), k.code]));
    expect(Object.keys(skipped).sort()).toEqual(['empty', 'fake.dcm', 'garbage.bin', 'truncated']);
    expect(skipped['truncated']).toBe('E_TRUNCATED');
    expect(skipped['garbage.bin']).toBe('E_NOT_DICOM');
    for (const k of v.index.skipped) expect(k.message.length).toBeGreaterThan(0);
  });

  it('coded errors: no DICOM, no CT, unknown series, too large, aborted', async () => {
    await expect(loadSeries(sharedPath('ct_head_ge_tilt_varspacing', 'ref'))).rejects.toMatchObject({ code: 'E_NOT_DICOM' });
    await expect(loadSeries(sharedPath('mr_transfer_syntaxes_dcm2niix_ref'))).rejects.toMatchObject({ code: 'E_NO_CT_SERIES' });
    await expect(loadSeries(sharedPath('ct_head_ge_tilt_varspacing'), { seriesUid: '1.2.3.4' })).rejects.toMatchObject({ code: 'E_SERIES_NOT_FOUND' });
    await expect(loadSeries(sharedPath('ct_head_ge_tilt_varspacing'), { maxVoxels: 512 * 512 * 27 })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    await expect(loadSeries(join(dir, 'does-not-exist'))).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const ac = new AbortController();
    ac.abort();
    await expect(loadSeries(sharedPath('ct_head_ge_tilt_varspacing'), { signal: ac.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('aborting during decode rejects with E_ABORTED', async () => {
    const ac = new AbortController();
    const run = loadSeries(sharedPath('ct_phantom_head_philips_1mm'), {
      signal: ac.signal,
      threads: 2,
      onProgress: (p) => {
        if (p.stage === 'decode') ac.abort();
      },
    });
    await expect(run).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('the index does not depend on file order', async () => {
    const folder = sharedPath('ct_phantom_head_philips_mixed_folder');
    const files = readdirSync(folder).filter((n) => n.startsWith('S')).map((n) => join(folder, n));
    const a = await scanStudy(files);
    const b = await scanStudy([...files].reverse());
    expect(b.series.map((s) => [s.id, s.primary, s.layout?.slices.map((r) => r.instance.source)])).toEqual(
      a.series.map((s) => [s.id, s.primary, s.layout?.slices.map((r) => r.instance.source)]),
    );
  });

  it('explicit choice of a non-primary series loads it (MR by UID), float32 when the rescale is fractional', async () => {
    const index = await scanStudy(sharedPath('mr_transfer_syntaxes_dcm2niix_ref'));
    const mr = await loadSeries(sharedPath('mr_transfer_syntaxes_dcm2niix_ref', 'In', '1.dcm'), { seriesUid: index.series[0]!.seriesInstanceUid, threads: 1 });
    expect(mr.geometry.dims).toEqual([384, 384, 1]);
    const jpeg = await loadSeries(sharedPath('ct_chest_slice_transfer_syntaxes', 'CTImage.dcm_JPEGProcess1TransferSyntax_1.2.840.10008.1.2.4.50.dcm'), { threads: 1 });
    expect(jpeg.data).toBeInstanceOf(Float32Array);
    const orig = await loadSeries(sharedPath('ct_chest_slice_transfer_syntaxes', 'CTImage.dcm'), { threads: 1 });
    expect(orig.data).toBeInstanceOf(Int16Array);
    // Lossy 8-bit baseline stays within 64.2 HU of the original away from padding (README value).
    let worst = 0;
    for (let i = 0; i < orig.data.length; i++) if (orig.data[i]! > -900) worst = Math.max(worst, Math.abs(orig.data[i]! - jpeg.data[i]!));
    expect(worst).toBeLessThan(65);
  });
});
