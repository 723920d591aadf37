import { afterAll, describe, expect, it } from 'vitest';
import type { Geometry, Vec3, Volume } from '../../src/volume/types.js';
import { voxelToLps } from '../../src/volume/affine.js';
import { closePool } from '../../src/workers/pool.js';
import { orientationPlan, reorient } from '../../src/resample/index.js';
import { reorientOwned } from '../../src/resample/reorient.js';
import { rotation, sameBits } from './helpers.js';

afterAll(() => closePool());

/** Each voxel holds its own source index, so the copy can be traced exactly. */
function indexVolume(g: Geometry): Volume<Float32Array> {
  const data = new Float32Array(g.dims[0] * g.dims[1] * g.dims[2]);
  for (let v = 0; v < data.length; v++) data[v] = v;
  return { data, geometry: g };
}

/** Sagittal slices: i toward -y (anterior), j toward -z (inferior), k toward +x... with a flip on k. */
const sagittal: Geometry = { dims: [7, 5, 4], spacing: [0.5, 0.7, 3], origin: [20, -5, 40], direction: [0, 0, -1, -1, 0, 0, 0, -1, 0] };

describe('reorient', () => {
  for (const target of ['LPS', 'RAS', 'RAI', 'PIL'] as const)
    for (const [name, g] of [['sagittal', sagittal], ['oblique axial', { ...sagittal, direction: rotation(2, 25) }], ['coronal tilted', { ...sagittal, direction: [1, 0, 0, 0, 0, 1, 0, -1, 0].map((x, i) => x + (i === 4 ? 0.2 : 0)) as Geometry['direction'] }]] as const) {
      it(`${name} -> ${target}: every voxel keeps its LPS position, values are copied`, async () => {
        const g0 = name === 'coronal tilted' ? { ...g, direction: normCols(g.direction) } : g;
        const src = indexVolume(g0);
        const out = await reorient(src, target, { workers: name === 'sagittal' ? 0 : 2 });
        const [mx, my, mz] = out.geometry.dims;
        for (let k = 0; k < mz; k++)
          for (let j = 0; j < my; j++)
            for (let i = 0; i < mx; i++) {
              const v = out.data[i + mx * (j + my * k)]!;
              const s: Vec3 = [v % g0.dims[0], Math.floor(v / g0.dims[0]) % g0.dims[1], Math.floor(v / (g0.dims[0] * g0.dims[1]))];
              const a = voxelToLps(out.geometry, [i, j, k]), b = voxelToLps(g0, s);
              for (let r = 0; r < 3; r++) expect(a[r]).toBeCloseTo(b[r]!, 9);
            }
        // Each axis now points the target's way: its largest component is on the letter's world axis, with its sign.
        const d = out.geometry.direction;
        const letters: Record<string, [number, number]> = { L: [0, 1], R: [0, -1], P: [1, 1], A: [1, -1], S: [2, 1], I: [2, -1] };
        for (let a = 0; a < 3; a++) {
          const [row, sign] = letters[target[a]!]!;
          const col = [d[a]!, d[3 + a]!, d[6 + a]!];
          expect(col.map(Math.abs).indexOf(Math.max(...col.map(Math.abs)))).toBe(row);
          expect(Math.sign(col[row]!)).toBe(sign);
        }
      });
    }

  it('is the identity on an LPS volume and an involution LPS <-> RAS', async () => {
    const g: Geometry = { dims: [6, 5, 4], spacing: [1, 1, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const src = indexVolume(g);
    const same = await reorient(src, 'LPS', { workers: 0 });
    expect(sameBits(same.data, src.data)).toBe(true);
    expect(orientationPlan(g, 'LPS').plan.flip).toEqual([false, false, false]);
    const ras = await reorient(src, 'RAS', { workers: 0 });
    const back = await reorient(ras, 'LPS', { workers: 0 });
    expect(sameBits(back.data, src.data)).toBe(true);
    expect(back.geometry.origin).toEqual(g.origin);
  });

  it('rejects an unknown orientation', async () => {
    for (const bad of ['XYZ', 'LLS', 'LP', 'lps', 'LPSR'])
      await expect(reorient(indexVolume(sagittal), bad as never)).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

function normCols(d: number[]): Geometry['direction'] {
  const out = [...d];
  for (let c = 0; c < 3; c++) {
    const n = Math.hypot(d[c]!, d[3 + c]!, d[6 + c]!);
    for (let r = 0; r < 3; r++) out[r * 3 + c] = d[r * 3 + c]! / n;
  }
  return out as Geometry['direction'];
}

describe('reorientOwned: flips in place', () => {
  // Every flip-only orientation of an odd-by-even-by-odd grid (middle rows and slices stay put).
  const cases: Array<[string, Geometry['direction']]> = [
    ['HFS (none)', [1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ['x', [-1, 0, 0, 0, 1, 0, 0, 0, 1]],
    ['y', [1, 0, 0, 0, -1, 0, 0, 0, 1]],
    ['z', [1, 0, 0, 0, 1, 0, 0, 0, -1]],
    ['HFP (x, y)', [-1, 0, 0, 0, -1, 0, 0, 0, 1]],
    ['x, y, z', [-1, 0, 0, 0, -1, 0, 0, 0, -1]],
  ];
  it.each(cases)('%s: the same voxels and geometry as the copying reorient', async (_name, direction) => {
    const g: Geometry = { dims: [7, 6, 5], spacing: [0.7, 0.8, 1.5], origin: [10, -20, 30], direction };
    const data = new Int16Array(7 * 6 * 5).map((_, i) => i * 7 - 300);
    const copied = await reorient({ data: data.slice(), geometry: g }, 'LPS', { workers: 0 });
    const owned = { data: data.slice(), geometry: g };
    const inPlace = await reorientOwned(owned, 'LPS', { workers: 0 });
    expect(inPlace.data).toBe(owned.data);
    expect(Array.from(inPlace.data)).toEqual(Array.from(copied.data));
    expect(inPlace.geometry).toEqual(copied.geometry);
  });

  it('a permutation of axes falls back to a copy', async () => {
    const g: Geometry = { dims: [4, 3, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [0, 1, 0, 1, 0, 0, 0, 0, 1] };
    const owned = { data: new Int16Array(24).map((_, i) => i), geometry: g };
    const out = await reorientOwned(owned, 'LPS', { workers: 0 });
    const copied = await reorient({ data: owned.data.slice(), geometry: g }, 'LPS', { workers: 0 });
    expect(out.data).not.toBe(owned.data);
    expect(Array.from(out.data)).toEqual(Array.from(copied.data));
  });
});
