import type { Vec3 } from '../volume/types.js';

/** A detection before it is tied to patient space: everything in voxels of the grid the model saw. */
export interface Candidate {
  /** Continuous voxel position (i, j, k) of the centre in the model grid. */
  center: Vec3;
  score: number;
  /** Voxels in the candidate's region (0 when the output gives no region, e.g. boxes). */
  voxels: number;
  /** Box extent (voxels along i, j, k) for box outputs. */
  extent?: Vec3;
}

/** A 3-D map on a grid: `data[i + nx * (j + ny * k)]`. */
export interface Map3 {
  data: ArrayLike<number>;
  dims: Vec3;
}
