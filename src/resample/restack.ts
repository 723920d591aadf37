import type { CtVolume, Geometry, Mat3, Vec3, Volume } from '../volume/types.js';
import { cross, dot, invertAffine, normalize, sub } from '../volume/affine.js';
import { CtscopeError } from '../errors.js';
import { isInterpName, type InterpName } from './kernels.js';
import type { SeparablePlan, VoxelType } from './plan.js';
import { DEFAULT_FILL } from './options.js';
import { executePlan, type RunOptions } from './run.js';
import { checkVolume } from './resample.js';

export interface RestackOptions extends RunOptions {
  /** Interpolation in-plane and across slices; default 'linear' (between the two bracketing real slices). */
  interp?: InterpName;
  fill?: number;
  /** Default float32 (int16 input stays exact where slices are copied, but blends are fractional). */
  outType?: VoxelType;
}

export interface FilledRestackOptions {
  interp: InterpName;
  fill: number;
  outType: VoxelType;
}

function fillRestackOptions(o: RestackOptions): FilledRestackOptions {
  const interp = o.interp ?? 'linear';
  if (!isInterpName(interp)) throw new CtscopeError('E_USAGE', `Expected nearest, linear, cubic or lanczos3 for interp but received ${String(interp)}`);
  return { interp, fill: o.fill ?? DEFAULT_FILL, outType: o.outType ?? 'float32' };
}

/** Relative gap difference above which slices count as uneven. */
const UNEVEN_TOLERANCE = 0.01;

/**
 * Gantry-tilt correction: resamples a sheared stack onto an orthogonal grid. Rows and columns keep
 * their direction and spacing; the slice axis becomes the normal of the image plane. Each output
 * slice blends the two real slices that bracket it along the normal, each sampled at its own in-plane
 * offset, so the shear is undone exactly. Rows grow to cover every slice's footprint:
 * ceil(extent / spacing) + 1, the same as dcm2niix's `_Tilt` (rows + ceil(tan(tilt) * depth / dy)).
 * Uneven slices are made equidistant in the same pass (see `makeUniform`).
 */
export function correctTilt(volume: Volume | CtVolume, options: RestackOptions = {}): Promise<Volume> {
  return restack(volume, true, options);
}

/**
 * Uneven slice spacing to equidistant slices along the volume's own slice direction (no tilt
 * correction). Rule, as dcm2niix's `_Eq`: step = the smallest gap; at most 2n slices, else the step
 * becomes depth / (2n - 1). As with dcm2niix, when the depth is not a whole number of steps the grid ends
 * short of the last real slice (by less than a step; the last output slice still blends it in).
 * An even stack keeps its n slices.
 */
export function makeUniform(volume: Volume | CtVolume, options: RestackOptions = {}): Promise<Volume> {
  return restack(volume, false, options);
}

export interface RestackGrid {
  geometry: Geometry;
  plan: Omit<SeparablePlan, 'interp' | 'interpZ' | 'fill'>;
  uneven: boolean;
}

function slicePositions(v: Volume | CtVolume): Vec3[] {
  const s = (v as CtVolume).slices;
  if (s && s.positions.length === v.geometry.dims[2]) return s.positions;
  const g = v.geometry;
  const out: Vec3[] = [];
  for (let k = 0; k < g.dims[2]; k++)
    out.push([0, 1, 2].map((r) => g.origin[r]! + g.direction[r * 3 + 2]! * g.spacing[2] * k) as Vec3);
  return out;
}

/** The output grid and plan for a restack; exported for tests and for callers that only want dims. */
export function restackGrid(volume: Volume | CtVolume, orthogonal: boolean): RestackGrid {
  const g = volume.geometry;
  const [nx, ny, nz] = g.dims;
  const [sx, sy] = g.spacing;
  const d = g.direction;
  const u: Vec3 = [d[0], d[3], d[6]];
  const v: Vec3 = [d[1], d[4], d[7]];
  const P = slicePositions(volume);
  if (nz < 2) throw new CtscopeError('E_GEOMETRY', 'a restack needs at least 2 slices', { where: 'restack' });
  let w: Vec3 = orthogonal ? normalize(cross(u, v)) : normalize([d[2], d[5], d[8]]);
  if (orthogonal && dot(sub(P[nz - 1]!, P[0]!), w) < 0) w = [-w[0], -w[1], -w[2]];
  // Coefficients of each slice position in the (u, v, w) basis, relative to slice 0.
  const inv = invertAffine([u[0], v[0], w[0], 0, u[1], v[1], w[1], 0, u[2], v[2], w[2], 0, 0, 0, 0, 1]);
  const a: number[] = [], b: number[] = [], t: number[] = [];
  for (const p of P) {
    const r = sub(p, P[0]!);
    a.push(inv[0]! * r[0] + inv[1]! * r[1] + inv[2]! * r[2]);
    b.push(inv[4]! * r[0] + inv[5]! * r[1] + inv[6]! * r[2]);
    t.push(inv[8]! * r[0] + inv[9]! * r[1] + inv[10]! * r[2]);
  }
  const gaps: number[] = [];
  for (let k = 1; k < nz; k++) {
    const gap = t[k]! - t[k - 1]!;
    if (!(gap > 0)) throw new CtscopeError('E_GEOMETRY', `slice positions are not strictly increasing along the slice axis (slice ${k})`, { where: 'restack' });
    gaps.push(gap);
  }
  const depth = t[nz - 1]!;
  const minGap = Math.min(...gaps), maxGap = Math.max(...gaps);
  const uneven = (maxGap - minGap) / maxGap > UNEVEN_TOLERANCE;
  let mz = nz, step = depth / (nz - 1);
  if (uneven) {
    mz = Math.floor(depth / minGap + 0.01) + 1;
    step = minGap;
    if (mz > 2 * nz) {
      mz = 2 * nz;
      step = depth / (mz - 1);
    }
  }
  // In-plane extent covering every slice's footprint; 0.01 voxel slack absorbs rounded DICOM positions.
  const span = (c: number[], n: number, s: number): { min: number; count: number } => {
    const lo = Math.min(...c), hi = Math.max(...c) + (n - 1) * s;
    return { min: lo, count: Math.ceil((hi - lo) / s - 0.01) + 1 };
  };
  const X = span(a, nx, sx), Y = span(b, ny, sy);
  const xShift = a.map((x) => -x / sx), yShift = b.map((y) => -y / sy);
  const zPos: number[] = [];
  for (let K = 0; K < mz; K++) zPos.push(sliceIndexAt(K * step, t, gaps));
  const direction: Mat3 = [u[0], v[0], w[0], u[1], v[1], w[1], u[2], v[2], w[2]];
  const o = P[0]!;
  const geometry: Geometry = {
    dims: [X.count, Y.count, mz],
    spacing: [sx, sy, step],
    origin: [0, 1, 2].map((r) => o[r]! + X.min * u[r]! + Y.min * v[r]!) as Vec3,
    direction,
  };
  const tiny = (s: number[]): boolean => s.every((x) => Math.abs(x) < 1e-6);
  const plan: RestackGrid['plan'] = {
    kind: 'separable',
    srcDims: [nx, ny, nz],
    outDims: geometry.dims,
    x: { start: X.min / sx, step: 1 },
    y: { start: Y.min / sy, step: 1 },
    zPos,
    sigma: [0, 0, 0],
  };
  if (!tiny(xShift)) plan.xShift = xShift;
  if (!tiny(yShift)) plan.yShift = yShift;
  return { geometry, plan, uneven };
}

/** Continuous slice index at distance `z` along the slice axis: piecewise linear between real slices. */
function sliceIndexAt(z: number, t: number[], gaps: number[]): number {
  const n = t.length;
  if (z <= 0) return z / gaps[0]!;
  if (z >= t[n - 1]!) return n - 1 + (z - t[n - 1]!) / gaps[n - 2]!;
  let lo = 0, hi = n - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (t[mid]! <= z) lo = mid;
    else hi = mid;
  }
  return lo + (z - t[lo]!) / gaps[lo]!;
}

async function restack(volume: Volume | CtVolume, orthogonal: boolean, options: RestackOptions): Promise<Volume> {
  checkVolume(volume);
  const o = fillRestackOptions(options);
  const { geometry, plan } = restackGrid(volume, orthogonal);
  const full: SeparablePlan = { ...plan, interp: o.interp, interpZ: o.interp, fill: o.fill };
  const data = await executePlan(volume.data, full, o.outType, options);
  return { data, geometry };
}
