import type { Geometry, Vec3, Volume, VoxelArray } from '../volume/types.js';
import { voxelToLps } from '../volume/affine.js';
import { CtscopeError } from '../errors.js';
import { fillResampleOptions, type ResampleOptions } from './options.js';
import type { SeparablePlan } from './plan.js';
import { voxelTypeOf } from './arrays.js';
import { executePlan } from './run.js';

/**
 * The target grid for a new spacing, same direction. Rule: dims = round(n * s / s') (at least 1),
 * so the field of view (n * s, voxel edge to edge) is kept to within half a target voxel, and the grid
 * is centred on the source grid: the centre of the field of view does not move. Source index of output
 * index o along an axis: (n - 1) / 2 + (o - (n' - 1) / 2) * s' / s. This is PyTorch's
 * align_corners=False convention when n' = n * s / s' exactly, and SimpleITK-style geometry
 * (origin moves by the half-voxel difference) otherwise.
 */
export function spacingGrid(g: Geometry, spacing: Vec3, dims?: Vec3): { geometry: Geometry; start: Vec3; step: Vec3 } {
  const out: number[] = [], start: number[] = [], step: number[] = [];
  for (let a = 0; a < 3; a++) {
    const n = g.dims[a]!, s = g.spacing[a]!, t = spacing[a]!;
    const m = dims ? dims[a]! : Math.max(1, Math.round((n * s) / t));
    if (!Number.isInteger(m) || m < 1) throw new CtscopeError('E_USAGE', `Expected whole positive dims but received ${String(dims)}`);
    out.push(m);
    step.push(t / s);
    start.push((n - 1) / 2 - ((m - 1) / 2) * (t / s));
  }
  const geometry: Geometry = {
    dims: out as Vec3,
    spacing: [...spacing] as Vec3,
    origin: voxelToLps(g, start as Vec3),
    direction: [...g.direction] as Geometry['direction'],
  };
  return { geometry, start: start as Vec3, step: step as Vec3 };
}

/** Resamples to a new spacing (axis-aligned: the direction, shear included, is kept). */
export async function resample<V extends Volume>(volume: V, options: ResampleOptions): Promise<Volume> {
  const o = fillResampleOptions(options);
  checkVolume(volume);
  const { geometry, start, step } = spacingGrid(volume.geometry, o.spacing, o.dims);
  const sigma = step.map((r) => (o.antialias && r > 1 ? (r - 1) / 2 : 0)) as Vec3;
  const zPos: number[] = [];
  for (let k = 0; k < geometry.dims[2]; k++) zPos.push(start[2] + step[2] * k);
  const plan: SeparablePlan = {
    kind: 'separable',
    interp: o.interp,
    interpZ: o.interp,
    srcDims: [...volume.geometry.dims] as Vec3,
    outDims: geometry.dims,
    x: { start: start[0], step: step[0] },
    y: { start: start[1], step: step[1] },
    zPos,
    sigma,
    fill: o.fill,
  };
  const outType = o.outType ?? (o.interp === 'nearest' ? voxelTypeOf(volume.data) : 'float32');
  const data = await executePlan(volume.data, plan, outType, options);
  return { data, geometry };
}

export function checkVolume(v: Volume): void {
  // A host's wrong value (null, a plain object, a missing geometry) is a usage error, not a TypeError.
  const g = (v as Partial<Volume> | null | undefined)?.geometry;
  if (!v || typeof v !== 'object' || !ArrayBuffer.isView(v.data) || !g || !Array.isArray(g.dims) || g.dims.length !== 3 || !Array.isArray(g.spacing) || !Array.isArray(g.origin) || !Array.isArray(g.direction))
    throw new CtscopeError('E_USAGE', 'Expected a volume { data: a typed array, geometry: { dims, spacing, origin, direction } }');
  const d = v.geometry.dims;
  if (!d.every((n) => Number.isInteger(n) && n > 0) || d[0] * d[1] * d[2] !== v.data.length)
    throw new CtscopeError('E_GEOMETRY', `volume dims ${d.join('x')} do not match its ${v.data.length} voxels`);
}

export type { VoxelArray };
