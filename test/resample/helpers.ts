import type { Geometry, Vec3, Volume } from '../../src/volume/types.js';
import { voxelToLps } from '../../src/volume/affine.js';

/** Rotation about an axis by `deg`, as a direction matrix (columns = unit axes). */
export function rotation(axis: 0 | 1 | 2, deg: number): Geometry['direction'] {
  const c = Math.cos((deg * Math.PI) / 180), s = Math.sin((deg * Math.PI) / 180);
  if (axis === 0) return [1, 0, 0, 0, c, -s, 0, s, c];
  if (axis === 1) return [c, 0, s, 0, 1, 0, -s, 0, c];
  return [c, -s, 0, s, c, 0, 0, 0, 1];
}

/** A volume whose every voxel holds f(LPS position): the oracle for interpolation and geometry. */
export function fieldVolume(g: Geometry, f: (p: Vec3) => number, type: 'float32' | 'int16' = 'float32'): Volume {
  const [nx, ny, nz] = g.dims;
  const data = type === 'float32' ? new Float32Array(nx * ny * nz) : new Int16Array(nx * ny * nz);
  let o = 0;
  for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < nx; i++) data[o++] = f(voxelToLps(g, [i, j, k]));
  return { data, geometry: g };
}

/** An affine intensity field in LPS (a CT-like range over a few hundred mm). */
export const affineField = (p: Vec3): number => 12.5 + 0.75 * p[0] - 1.25 * p[1] + 2.0 * p[2];

export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

export function sameBits(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}
