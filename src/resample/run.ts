import { DEFAULT_MAX_VOXELS, type VoxelArray } from '../volume/types.js';
import { CtscopeError, throwIfAborted, toCtscopeError } from '../errors.js';
import { getPool, MAX_THREADS, poolSize, poolTaskError } from '../workers/pool.js';
import type { Plan, VoxelType } from './plan.js';
import { allocVoxels, ensureShared, voxelTypeOf } from './arrays.js';
import { refOf, runSlab, type SlabTask } from './task.js';
import { cancelSlices, rangeClaims, shareSlices } from './claims.js';
import { onAbort, taskController } from '../io/abort.js';
import { checkValues, is, type OptionRule } from '../io/options-check.js';

export interface RunOptions {
  /**
   * Slabs run in parallel on the shared pool; 0 runs inline on the calling thread.
   * Default: the pool size. Results are bit-identical for every value.
   */
  workers?: number;
  signal?: AbortSignal;
  /**
   * Write into this array instead of allocating (same type and voxel count as the output; on a
   * SharedArrayBuffer when workers > 0). Lets a pipeline reuse one buffer across series: fresh
   * memory costs a page fault per 4 KiB on first write, which on small VMs rivals the compute.
   */
  into?: VoxelArray;
  /** Largest output grid accepted, in voxels (E_TOO_LARGE before allocating); default and ceiling 2^31 - 1. */
  maxVoxels?: number;
  /** Longest side of the output grid accepted, in voxels (a file format's limit: NIfTI-1 holds 32767). */
  maxDim?: number;
}

export interface FilledRunOptions {
  workers: number;
  signal: AbortSignal | undefined;
  into: VoxelArray | undefined;
  maxVoxels: number;
  maxDim: number;
}

/** Typed arrays index with 32-bit signed integers. */
const MAX_OUTPUT_VOXELS = 2 ** 31 - 1;

/** What each run option must be (resample's rules include these). */
export const RUN_RULES: Readonly<Record<keyof RunOptions, OptionRule>> = {
  workers: is.integer(0, MAX_THREADS),
  signal: is.signal,
  into: is.where('an Int16Array, Float32Array or Uint8Array', (v) => v instanceof Int16Array || v instanceof Float32Array || v instanceof Uint8Array),
  maxVoxels: is.integer(1),
  maxDim: is.integer(1),
};

export function fillRunOptions(o: RunOptions = {}): FilledRunOptions {
  const d = checkValues<RunOptions>('resample', o, RUN_RULES);
  // The same default cap as a loaded series: a fine spacing asked of a library call must not allocate 8 GB unasked.
  return { workers: d.workers ?? poolSize(), signal: d.signal, into: d.into, maxVoxels: Math.min(d.maxVoxels ?? DEFAULT_MAX_VOXELS, MAX_OUTPUT_VOXELS), maxDim: d.maxDim ?? MAX_OUTPUT_VOXELS };
}

/** Contiguous [k0, k1) ranges of about equal size, at most `parts` of them. */
export function splitRange(n: number, parts: number): Array<[number, number]> {
  const p = Math.max(1, Math.min(parts, n));
  const out: Array<[number, number]> = [];
  for (let i = 0; i < p; i++) {
    const a = Math.floor((i * n) / p), b = Math.floor(((i + 1) * n) / p);
    if (b > a) out.push([a, b]);
  }
  return out;
}

/** After an abort, how long a task may take to finish its current slice before its thread is terminated. */
const HARD_STOP_MS = 250;

/**
 * Executes a plan: allocates the output once (shared when workers write it), gives each worker one task
 * that owns an equal run of output slices and steals from the others' once done (see claims.ts), and
 * waits for all. An abort rejects with E_ABORTED once every task has stopped (after its current slice,
 * at most HARD_STOP_MS).
 */
export async function executePlan(src: VoxelArray, plan: Plan, outType: VoxelType, options: RunOptions = {}): Promise<VoxelArray> {
  const o = fillRunOptions(options);
  throwIfAborted(o.signal, 'resample');
  const [mx, my, mz] = plan.outDims;
  const total = mx * my * mz;
  if (!Number.isSafeInteger(total) || total > o.maxVoxels) throw new CtscopeError('E_TOO_LARGE', `output grid ${mx}x${my}x${mz} is over the limit of ${o.maxVoxels} voxels`);
  if (Math.max(mx, my, mz) > o.maxDim) throw new CtscopeError('E_TOO_LARGE', `output grid ${mx}x${my}x${mz} has a side over ${o.maxDim} voxels`);
  if (o.into && (o.into.length !== total || voxelTypeOf(o.into) !== outType))
    throw new CtscopeError('E_USAGE', `Expected ${total} ${outType} voxels for into but received ${o.into.length} ${voxelTypeOf(o.into)}`);
  if (o.into && o.workers > 0 && !(o.into.buffer instanceof SharedArrayBuffer))
    throw new CtscopeError('E_USAGE', 'Expected a SharedArrayBuffer-backed array for into when workers > 0');
  if (o.workers === 0 || mz === 0) {
    const out = o.into ?? allocVoxels(outType, total, false);
    // One run over all slices: on this thread nothing can abort it midway, and every split would
    // recompute the source planes at its start.
    runSlab(src, out, outType, plan, rangeClaims(0, mz));
    return out;
  }
  const shared = ensureShared(src);
  const out = o.into ?? allocVoxels(outType, total, true);
  const pool = getPool();
  // One task per worker. Slices are claimed, not assigned: a task that starts late (its worker was busy)
  // or runs on a core slowed by other load computes fewer of them instead of holding up the result.
  const slices = shareSlices(splitRange(mz, o.workers));
  // An abort (or a failed task) empties the claims, so every task ends after its current slice and the
  // threads stay warm; a task still running HARD_STOP_MS later is terminated (piscina restarts its
  // thread). Either way this waits until every task has ended before it returns or rejects: the output
  // may be the caller's `into`, and no slice may land in it after that.
  const { controller: hard } = taskController();
  let hardTimer: NodeJS.Timeout | undefined;
  const stop = (): void => {
    cancelSlices(slices);
    hardTimer ??= setTimeout(() => hard.abort(), HARD_STOP_MS).unref();
  };
  const unwatch = o.signal ? onAbort(o.signal, stop) : () => undefined;
  const tasks = Array.from({ length: slices.segments }, (_, own) => {
    const task: SlabTask = { src: refOf(shared, voxelTypeOf(shared)), out: refOf(out, outType), plan, slices, own };
    const run = pool.run(task, { name: 'resampleSlabTask', signal: hard.signal });
    run.catch(stop);
    return run;
  });
  const results = await Promise.allSettled(tasks);
  clearTimeout(hardTimer);
  unwatch();
  if (o.signal?.aborted) throw new CtscopeError('E_ABORTED', 'resample was aborted', { where: 'resample' });
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw poolTaskError(pool, failed.reason, 'resample worker failed', 'resample');
  return out;
}
