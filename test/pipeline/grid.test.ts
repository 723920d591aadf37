import { afterAll, describe, expect, it } from 'vitest';
import type { ModelPackage } from '../../src/inference/model.js';
import { modelGrid } from '../../src/pipeline/grid.js';
import { voxelToLps } from '../../src/volume/affine.js';
import type { Geometry, Volume } from '../../src/volume/types.js';
import { closePool } from '../../src/workers/pool.js';

afterAll(() => closePool());

const packageIn = (orientation: string): ModelPackage => ({ manifest: { id: 't', input: { spacing: [1, 1, 1], orientation } } }) as unknown as ModelPackage;

describe('modelGrid', () => {
  // An axial LPS volume whose voxels hold their own z index, so the grid's k direction can be read off the values.
  const g: Geometry = { dims: [4, 3, 5], spacing: [1, 1, 1], origin: [10, 20, 30], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  const data = new Int16Array(60).map((_, v) => Math.floor(v / 12));
  const volume: Volume = { data, geometry: g };

  for (const code of ['LPS', 'RAS', 'RAI', 'SPL'])
    it(`puts the series in the manifest's orientation ${code}, every voxel at its LPS position`, async () => {
      const grid = await modelGrid(volume, packageIn(code));
      const letters: Record<string, [number, number]> = { L: [0, 1], R: [0, -1], P: [1, 1], A: [1, -1], S: [2, 1], I: [2, -1] };
      for (let a = 0; a < 3; a++) {
        const [row, sign] = letters[code[a]!]!;
        expect(grid.geometry.direction[row * 3 + a]).toBe(sign);
      }
      // Every grid voxel holds the source z index of its own position.
      const [nx, ny, nz] = grid.geometry.dims;
      for (let k = 0; k < nz; k++)
        for (let j = 0; j < ny; j++)
          for (let i = 0; i < nx; i++) expect(grid.data[i + nx * (j + ny * k)]).toBe(voxelToLps(grid.geometry, [i, j, k])[2] - 30);
    });
});
