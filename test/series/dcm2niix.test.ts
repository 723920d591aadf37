import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSeries } from '../../src/ingest/load.js';
import { applyAffine, invertAffine } from '../../src/volume/affine.js';
import { niftiValue, qformMatrix, readNifti, writeNifti, type NiftiImage } from '../../src/volume/nifti.js';
import type { Vec3 } from '../../src/volume/types.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { hasTool } from '../helpers/tools.js';

const hasDcm2niix = hasTool('dcm2niix');

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctscope-d2n-'));
});
afterAll(async () => {
  await closePool();
  await rm(dir, { recursive: true, force: true });
});

async function convertBoth(folder: string, seriesNumber: number): Promise<{ ours: NiftiImage; theirs: NiftiImage; volume: Awaited<ReturnType<typeof loadSeries>> }> {
  const out = join(dir, folder);
  execFileSync('mkdir', ['-p', out]);
  execFileSync('dcm2niix', ['-z', 'n', '-f', '%s', '-o', out, sharedPath(folder)], { stdio: 'ignore' });
  const volume = await loadSeries(sharedPath(folder), { threads: 2 });
  await writeNifti(join(out, 'ours.nii'), volume);
  return { ours: await readNifti(join(out, 'ours.nii')), theirs: await readNifti(join(out, `${seriesNumber}.nii`)), volume };
}

/** Samples a lattice of our voxels, maps each through both sforms, and compares HU at the same world point. */
function compareAtWorldPoints(ours: NiftiImage, theirs: NiftiImage): number {
  const inv = invertAffine(theirs.sform);
  let compared = 0;
  const [nx, ny, nz] = [ours.dims[1]!, ours.dims[2]!, ours.dims[3]!];
  for (let a = 0; a < 9; a++)
    for (let b = 0; b < 9; b++)
      for (let c = 0; c < 5; c++) {
        const ijk: Vec3 = [Math.round((a * (nx - 1)) / 8), Math.round((b * (ny - 1)) / 8), Math.round((c * (nz - 1)) / 4)];
        const world = applyAffine(ours.sform, ijk);
        const t = applyAffine(inv, world);
        for (const x of t) expect(Math.abs(x - Math.round(x))).toBeLessThan(1e-2);
        const [ti, tj, tk] = t.map(Math.round) as Vec3;
        expect(niftiValue(theirs, ti, tj, tk)).toBeCloseTo(niftiValue(ours, ...ijk), 3);
        compared++;
      }
  return compared;
}

describe.skipIf(!hasSharedData || !hasDcm2niix)('NIfTI output against dcm2niix', () => {
  for (const [folder, seriesNumber, slices, dz] of [
    ['ct_phantom_head_philips_mixed_folder', 201, 28, 5],
    ['ct_phantom_head_philips_1mm', 202, 140, 1],
  ] as const) {
    it(`${folder}: same dims, voxel size and HU at the same world points`, async () => {
      const { ours, theirs } = await convertBoth(folder, seriesNumber);
      expect(ours.dims.slice(0, 4)).toEqual([3, 512, 512, slices]);
      expect(theirs.dims.slice(0, 4)).toEqual([3, 512, 512, slices]);
      for (let i = 1; i <= 3; i++) expect(ours.pixdim[i]).toBeCloseTo(theirs.pixdim[i]!, 4);
      expect(ours.pixdim[3]).toBeCloseTo(dz, 4);
      expect(compareAtWorldPoints(ours, theirs)).toBe(9 * 9 * 5);
      // Our qform is the same rigid transform as our sform for an untilted series.
      qformMatrix(ours).forEach((x, i) => expect(x).toBeCloseTo(ours.sform[i]!, 3));
    });
  }

  it('ct_head_ge_tilt_varspacing: same voxels as dcm2niix (uncorrected), sform sheared exactly through each IPP', async () => {
    const { ours, theirs, volume } = await convertBoth('ct_head_ge_tilt_varspacing', 2);
    expect(theirs.dims.slice(0, 4)).toEqual([3, 512, 512, 28]);
    expect(ours.dims.slice(0, 4)).toEqual([3, 512, 512, 28]);
    // dcm2niix stores rows bottom-up; find the flip that maps its array onto ours and require an exact match.
    const flips = [
      [false, false],
      [true, false],
      [false, true],
      [true, true],
    ] as const;
    let compared = 0;
    const match = flips.find(([fj, fk]) => {
      compared = 0;
      for (let n = 0; n < 2000; n++) {
        const i = (n * 7919) % 512, j = (n * 104729) % 512, k = n % 28;
        const t = niftiValue(theirs, i, fj ? 511 - j : j, fk ? 27 - k : k);
        // dcm2niix keeps the stored padding (-1500); we write air there.
        if (t === -1500) continue;
        if (t !== niftiValue(ours, i, j, k)) return false;
        compared++;
      }
      return true;
    });
    expect(match).toBeDefined();
    expect(compared).toBeGreaterThan(500);
    // Our sform (RAS) sends slice k's first voxel to that slice's IPP (LPS -> RAS: negate x, y).
    volume.slices.positions.forEach((p, k) => {
      if (k !== 0 && k !== 27) return; // grid at the mean step: exact at both ends
      const w = applyAffine(ours.sform, [0, 0, k]);
      expect(w[0]).toBeCloseTo(-p[0], 3);
      expect(w[1]).toBeCloseTo(-p[1], 3);
      expect(w[2]).toBeCloseTo(p[2], 3);
    });
    // The qform keeps the true slice separation along the normal (mean 5.337 mm), not the sheared step.
    expect(ours.pixdim[3]).toBeCloseTo(volume.geometry.spacing[2] * Math.cos((18.5 * Math.PI) / 180), 2);
  });
});
