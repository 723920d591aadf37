import type { Vec3, Volume, VoxelArray } from '../volume/types.js';
import { voxelToLps } from '../volume/affine.js';
import { CtscopeError, throwIfAborted, toCtscopeError } from '../errors.js';
import { getPool, poolTaskError } from '../workers/pool.js';
import { taskController } from '../io/abort.js';
import type { SeparablePlan } from './plan.js';
import { allocVoxels, ensureShared, voxelTypeOf } from './arrays.js';
import { DEFAULT_FILL } from './options.js';
import { executePlan, fillRunOptions, splitRange, type RunOptions } from './run.js';
import { checkVolume } from './resample.js';
import { preprocessRange, type PreprocessOp, type RangeStats } from './preprocess-kernels.js';
import { refOf, type PreprocessTask } from './task.js';

/** Below this many voxels element-wise work stays on the calling thread (posting costs more). */
const INLINE_BELOW = 1 << 22;

export interface Box {
  /** First voxel of the box in source indices; may be negative (padding). */
  start: Vec3;
  size: Vec3;
}

/** Crops and/or pads to a box of voxels; outside the source gets `fill` (default -1024). Exact copy. */
export async function cropOrPad(volume: Volume, box: Box, options: RunOptions & { fill?: number } = {}): Promise<Volume> {
  checkVolume(volume);
  const three = (v: unknown): v is Vec3 => Array.isArray(v) && v.length === 3;
  if (!box || !three(box.start) || !three(box.size)) throw new CtscopeError('E_USAGE', 'Expected a box { start: [i, j, k], size: [nx, ny, nz] }');
  if (!box.size.every((n) => Number.isInteger(n) && n > 0) || !box.start.every(Number.isInteger))
    throw new CtscopeError('E_USAGE', `Expected whole box start and positive size but received ${box.start.join(',')} / ${box.size.join(',')}`);
  const zPos: number[] = [];
  for (let k = 0; k < box.size[2]; k++) zPos.push(box.start[2] + k);
  const plan: SeparablePlan = {
    kind: 'separable', interp: 'nearest', interpZ: 'nearest', srcDims: [...volume.geometry.dims] as Vec3, outDims: [...box.size] as Vec3,
    x: { start: box.start[0], step: 1 }, y: { start: box.start[1], step: 1 }, zPos, sigma: [0, 0, 0], fill: options.fill ?? DEFAULT_FILL,
  };
  const data = await executePlan(volume.data, plan, voxelTypeOf(volume.data), { ...options, workers: volume.data.length < INLINE_BELOW ? 0 : options.workers });
  const g = volume.geometry;
  return { data, geometry: { ...g, dims: [...box.size] as Vec3, origin: voxelToLps(g, box.start) } };
}

export interface ClipScaleOptions extends RunOptions {
  /** HU range mapped onto [outMin, outMax]; values outside are clipped. */
  min: number;
  max: number;
  outMin?: number;
  outMax?: number;
}

/** HU clip and linear scale (default onto [0, 1]), float32 out. */
export async function clipScale(volume: Volume, o: ClipScaleOptions): Promise<Volume> {
  if (!o || typeof o !== 'object') throw new CtscopeError('E_USAGE', 'Expected clipScale options { min, max }');
  if (!(o.max > o.min)) throw new CtscopeError('E_USAGE', `Expected max > min but received ${o.min}..${o.max}`);
  const op: PreprocessOp = { kind: 'clipScale', min: o.min, max: o.max, outMin: o.outMin ?? 0, outMax: o.outMax ?? 1 };
  return { data: await mapVoxels(volume, op, o), geometry: volume.geometry };
}

/** A display window (centre/width, e.g. 40/80 brain) as clipScale onto [0, 1]. */
export function applyWindow(volume: Volume, center: number, width: number, o: RunOptions = {}): Promise<Volume> {
  return clipScale(volume, { ...o, min: center - width / 2, max: center + width / 2 });
}

export interface ZScoreOptions extends RunOptions {
  /** Statistics only over voxels >= this value (e.g. -500 for a body mask); default all. */
  above?: number;
}

/** (v - mean) / std over the (masked) voxels, float32 out. Sums in float64, combined per slab. */
export async function zscore(volume: Volume, o: ZScoreOptions = {}): Promise<{ volume: Volume; mean: number; std: number }> {
  const parts = await runElementwise(volume.data, undefined, { kind: 'stats', above: o.above ?? -Infinity }, o);
  const s: RangeStats = { count: 0, sum: 0, sumSq: 0, min: Infinity, max: -Infinity };
  for (const p of parts) {
    if (!p) continue;
    s.count += p.count;
    s.sum += p.sum;
    s.sumSq += p.sumSq;
    s.min = Math.min(s.min, p.min);
    s.max = Math.max(s.max, p.max);
  }
  if (s.count === 0) throw new CtscopeError('E_USAGE', 'z-score: no voxels above the mask threshold');
  const mean = s.sum / s.count;
  const std = Math.sqrt(Math.max(0, s.sumSq / s.count - mean * mean)) || 1;
  const data = await mapVoxels(volume, { kind: 'affine', scale: 1 / std, offset: -mean / std }, o);
  return { volume: { data, geometry: volume.geometry }, mean, std };
}

async function mapVoxels(volume: Volume, op: PreprocessOp, o: RunOptions): Promise<VoxelArray> {
  checkVolume(volume);
  const big = volume.data.length >= INLINE_BELOW && (o.workers ?? 1) !== 0;
  const out = allocVoxels('float32', volume.data.length, big);
  await runElementwise(volume.data, out, op, o);
  return out;
}

async function runElementwise(src: VoxelArray, out: VoxelArray | undefined, op: PreprocessOp, options: RunOptions): Promise<Array<RangeStats | undefined>> {
  const o = fillRunOptions(options);
  throwIfAborted(o.signal, 'preprocess');
  if (src.length < INLINE_BELOW || o.workers === 0) return [preprocessRange(src, out, op, 0, src.length)];
  const shared = ensureShared(src);
  const pool = getPool();
  // The tasks listen on an internal signal, not one each on the caller's (a warning past ten workers).
  const { controller, release } = taskController(o.signal);
  try {
    return await Promise.all(
      splitRange(src.length, o.workers).map(([start, end]) => {
        const t: PreprocessTask = { src: refOf(shared, voxelTypeOf(shared)), op, start, end };
        if (out) t.out = refOf(out, 'float32');
        return pool.run(t, { name: 'preprocessTask', signal: controller.signal }) as Promise<RangeStats | undefined>;
      }),
    );
  } catch (e) {
    if (o.signal?.aborted) throw new CtscopeError('E_ABORTED', 'preprocess was aborted', { cause: e, where: 'preprocess' });
    throw poolTaskError(pool, e, 'preprocess worker failed', 'preprocess');
  } finally {
    release();
  }
}
