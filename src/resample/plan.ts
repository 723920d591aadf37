import type { Vec3 } from '../volume/types.js';
import type { InterpName } from './kernels.js';

/** Voxel types a plan reads and writes, by name so they cross the worker boundary. */
export type VoxelType = 'int16' | 'float32' | 'uint8';

/**
 * A separable resampling: output voxel (I, J, K) reads source slice positions `zPos[K]` (continuous
 * slice index, NaN = outside), and within source slice ks the continuous in-plane position
 * `x.start + xShift[ks] + x.step * I`, `y.start + yShift[ks] + y.step * J`.
 * Per-slice shifts express gantry tilt and slice positions off the nominal line; without them all
 * slices share one pair of in-plane tables. Plain data: it is structured-cloned to the workers.
 */
export interface SeparablePlan {
  kind: 'separable';
  interp: InterpName;
  /** Interpolation across slices (defaults to `interp`). */
  interpZ: InterpName;
  srcDims: Vec3;
  outDims: Vec3;
  x: { start: number; step: number };
  y: { start: number; step: number };
  xShift?: number[];
  yShift?: number[];
  zPos: number[];
  /** Gaussian prefilter sigma per axis, in source voxels (0 = none). */
  sigma: Vec3;
  fill: number;
}

/**
 * A general affine resampling (oblique targets): source index = M * (I, J, K, 1), with a full
 * T^3-tap gather per output voxel. `m` is the top 3 rows of the 4x4 matrix, row-major.
 */
export interface AffinePlan {
  kind: 'affine';
  interp: InterpName;
  srcDims: Vec3;
  outDims: Vec3;
  m: number[];
  fill: number;
}

/** Axis permutation and flips only: output axis a reads source axis `perm[a]`, reversed when `flip[a]`. */
export interface PermutePlan {
  kind: 'permute';
  srcDims: Vec3;
  outDims: Vec3;
  perm: Vec3;
  flip: [boolean, boolean, boolean];
}

export type Plan = SeparablePlan | AffinePlan | PermutePlan;
