/** Public library API of ctscope. */
export { CtscopeError, isCtscopeError } from './errors.js';
export type { ErrorCode } from './errors.js';
export type { Vec3, Mat3, Mat4, Geometry, Volume, VoxelArray, CtVolume, SliceGeometry } from './volume/types.js';
export { ijkToLps, voxelToLps, lpsToVoxel, invertAffine } from './volume/affine.js';
export { closePool } from './workers/pool.js';
