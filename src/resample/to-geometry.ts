import type { Geometry, Vec3, Volume } from '../volume/types.js';
import { ijkToLps, invertAffine, multiplyAffine } from '../volume/affine.js';
import { CtscopeError } from '../errors.js';
import { isInterpName, type InterpName } from './kernels.js';
import type { AffinePlan, SeparablePlan, VoxelType } from './plan.js';
import { DEFAULT_FILL } from './options.js';
import { executePlan, type RunOptions } from './run.js';
import { checkVolume } from './resample.js';
import { voxelTypeOf } from './arrays.js';

export interface ToGeometryOptions extends RunOptions {
  interp?: InterpName;
  fill?: number;
  outType?: VoxelType;
}

/**
 * Resamples onto any target grid (another series, an oblique box). When the index-to-index map is
 * axis-aligned it runs the separable path; otherwise each output voxel gathers T^3 taps.
 */
export async function resampleToGeometry(volume: Volume, target: Geometry, options: ToGeometryOptions = {}): Promise<Volume> {
  checkVolume(volume);
  const interp = options.interp ?? 'linear';
  if (!isInterpName(interp)) throw new CtscopeError('E_USAGE', `Expected nearest, linear, cubic or lanczos3 for interp but received ${String(interp)}`);
  const fill = options.fill ?? DEFAULT_FILL;
  const outType = options.outType ?? (interp === 'nearest' ? voxelTypeOf(volume.data) : 'float32');
  let m: number[];
  try {
    m = multiplyAffine(invertAffine(ijkToLps(volume.geometry)), ijkToLps(target));
  } catch (e) {
    throw new CtscopeError('E_GEOMETRY', 'singular geometry', { cause: e, where: 'resampleToGeometry' });
  }
  const dims = [...target.dims] as Vec3;
  const srcDims = [...volume.geometry.dims] as Vec3;
  const off = (r: number, c: number): number => Math.abs(m[r * 4 + c]!);
  const aligned = off(0, 1) + off(0, 2) + off(1, 0) + off(1, 2) + off(2, 0) + off(2, 1) < 1e-9;
  let data;
  if (aligned) {
    const zPos: number[] = [];
    for (let k = 0; k < dims[2]; k++) zPos.push(m[11]! + m[10]! * k);
    const plan: SeparablePlan = {
      kind: 'separable', interp, interpZ: interp, srcDims, outDims: dims,
      x: { start: m[3]!, step: m[0]! }, y: { start: m[7]!, step: m[5]! }, zPos, sigma: [0, 0, 0], fill,
    };
    data = await executePlan(volume.data, plan, outType, options);
  } else {
    const plan: AffinePlan = { kind: 'affine', interp, srcDims, outDims: dims, m: m.slice(0, 12), fill };
    data = await executePlan(volume.data, plan, outType, options);
  }
  return { data, geometry: { dims, spacing: [...target.spacing] as Vec3, origin: [...target.origin] as Vec3, direction: [...target.direction] as Geometry['direction'] } };
}
