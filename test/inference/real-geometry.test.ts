import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CtVolume, Vec3 } from '../../src/volume/types.js';
import { add, lpsToVoxel, scale, sliceNormal } from '../../src/volume/affine.js';
import { loadSeries } from '../../src/ingest/load.js';
import { closePool } from '../../src/workers/pool.js';
import { loadModel } from '../../src/inference/model.js';
import { closeRunners } from '../../src/inference/runner.js';
import { detect } from '../../src/inference/infer.js';
import { toFinding } from '../../src/inference/findings.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { fixture, grid, renderBlobs } from './helpers.js';

/** The real GE head series: 18.5 degree gantry tilt and slice steps from 1.08 to 7 mm. */
describe.skipIf(!hasSharedData)('findings on a real tilted series with uneven slices', () => {
  let ct: CtVolume;
  beforeAll(async () => {
    ct = await loadSeries(sharedPath('ct_head_ge_tilt_varspacing'));
  });
  afterAll(async () => {
    await closeRunners();
    await closePool();
  });

  const inPlane = (s: number, u: number, v: number): Vec3 => {
    const d = ct.geometry.direction;
    return add(add(ct.slices.positions[s]!, scale([d[0], d[3], d[6]], u)), scale([d[1], d[4], d[7]], v));
  };

  it('a centre on slice s names slice s and has k = s, even where the mean-step grid rounds to a neighbour', () => {
    expect(ct.slices.uneven).toBe(true);
    const model = grid([250, 250, 200], [1, 1, 1], [-125, -130, -20]);
    let roundingWouldMiss = 0;
    for (let s = 0; s < ct.sliceUids.length; s++) {
      const p = inPlane(s, 90.3, 70.1);
      const f = toFinding({ center: lpsToVoxel(model, p), score: 1, voxels: 10 }, model, ct, 'other', 'x');
      expect(f.sliceIndex).toBe(s);
      expect(f.sopInstanceUid).toBe(ct.sliceUids[s]);
      const onGrid = lpsToVoxel(ct.geometry, p);
      expect(f.centerVoxel[0]).toBeCloseTo(onGrid[0], 6);
      expect(f.centerVoxel[1]).toBeCloseTo(onGrid[1], 6);
      // k counts acquired slices, not steps of the mean-step grid (which lands 20 mm off on this series).
      expect(f.centerVoxel[2]).toBeCloseTo(s, 6);
      if (Math.round(onGrid[2]) !== s) roundingWouldMiss++;
    }
    expect(roundingWouldMiss).toBeGreaterThan(0);
    // Halfway between two acquired slices is k + 0.5, whatever their distance.
    const mid: Vec3 = inPlane(5, 90.3, 70.1).map((x, a) => (x + inPlane(6, 90.3, 70.1)[a]!) / 2) as Vec3;
    expect(toFinding({ center: lpsToVoxel(model, mid), score: 1, voxels: 10 }, model, ct, 'other', 'x').centerVoxel[2]).toBeCloseTo(5.5, 6);
  });

  it('a centre off the slice planes has (i, j) of the nearest point on its slice, not shifted along the tilt', () => {
    const model = grid([250, 250, 200], [1, 1, 1], [-125, -130, -20]);
    const normal = sliceNormal(ct.geometry.direction);
    const sp = ct.geometry.spacing;
    // 1.5 mm off slice 12 along the normal (its neighbours are farther): on the sheared grid that moved (i, j)
    // by 1.5 mm x tan 18.5 degrees, the error the SR's image point and the key image carried.
    const p = add(inPlane(12, 90.3, 70.1), scale(normal, 1.5));
    const f = toFinding({ center: lpsToVoxel(model, p), score: 1, voxels: 10 }, model, ct, 'other', 'x');
    expect(f.sliceIndex).toBe(12);
    expect(f.centerVoxel[0]).toBeCloseTo(90.3 / sp[0], 4);
    expect(f.centerVoxel[1]).toBeCloseTo(70.1 / sp[1], 4);
    const sheared = lpsToVoxel(ct.geometry, p);
    expect(Math.hypot((sheared[0] - f.centerVoxel[0]) * sp[0], (sheared[1] - f.centerVoxel[1]) * sp[1])).toBeGreaterThan(0.4);
  });

  it('a blob planted on slice 12 is detected there through the real series geometry', async () => {
    const p = inPlane(12, 120.4, 95.7);
    const model = grid([64, 64, 64], [1, 1, 1], add(p, [-30.2, -33.6, -29.1]));
    const volume = { data: renderBlobs(model, [p]), geometry: model };
    const { findings } = await detect(volume, ct, loadModel(fixture('heatmap-fp32')), { ep: 'cpu', threads: 1 });
    expect(findings).toHaveLength(1);
    const f = findings[0]!;
    expect(Math.hypot(...(f.centerLps.map((c, a) => c - p[a]!) as Vec3))).toBeLessThan(0.25);
    expect(f.sliceIndex).toBe(12);
    expect(f.sopInstanceUid).toBe(ct.sliceUids[12]);
  });
});
