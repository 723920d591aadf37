import { isMainThread } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import type { VoxelArray } from '../volume/types.js';
import type { Plan, VoxelType } from './plan.js';
import { viewOf } from './arrays.js';
import { resampleSeparableSlab } from './separable.js';
import { resampleAffineSlab } from './gather.js';
import { permuteSlab } from './permute.js';
import { sharedClaims, type SharedSlices, type SliceClaims } from './claims.js';
import { preprocessRange, type PreprocessOp, type RangeStats } from './preprocess-kernels.js';

/** Where a voxel array lives, so it crosses to a worker without copying (SharedArrayBuffer). */
export interface VoxelRef {
  buffer: ArrayBufferLike;
  byteOffset: number;
  length: number;
  type: VoxelType;
}

export interface SlabTask {
  src: VoxelRef;
  out: VoxelRef;
  plan: Plan;
  /** Output slices shared by the run's tasks; this task owns segment `own` and then steals. */
  slices: SharedSlices;
  own: number;
}

export const refOf = (a: VoxelArray, type: VoxelType): VoxelRef => ({ buffer: a.buffer, byteOffset: a.byteOffset, length: a.length, type });
export const arrayOf = (r: VoxelRef): VoxelArray => viewOf(r.type, r.buffer, r.byteOffset, r.length);

/** Computes the output slices `claims` hands out, for any plan kind; the inline path and the pool task. */
export function runSlab(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: Plan, claims: SliceClaims): void {
  SLAB_RUNNERS[plan.kind](src, out, outType, plan as never, claims);
}

const SLAB_RUNNERS: Readonly<Record<Plan['kind'], (src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: never, claims: SliceClaims) => void>> = {
  separable: resampleSeparableSlab,
  affine: resampleAffineSlab,
  permute: (src, out, _t, plan, claims) => permuteSlab(src, out, plan, claims),
};

/** Pool task: writes the slices it claims straight into the shared output; returns nothing. */
export function resampleSlabTask(t: SlabTask): void {
  cancelRelease();
  try {
    runSlab(arrayOf(t.src), arrayOf(t.out), t.out.type, t.plan, sharedClaims(t.slices, t.own));
  } finally {
    releaseShared(t.src.buffer.byteLength + t.out.buffer.byteLength);
  }
}

/** Above this many bytes a task's shared buffers are released once the worker idles (see releaseShared). */
const RELEASE_ABOVE = 64 * 2 ** 20;
/**
 * Idle time before that GC: longer than the gap between the ends of two workers' tasks in one run, short
 * against the time between the series of a pipeline.
 */
const RELEASE_AFTER_MS = 100;
let workerGc: (() => void) | undefined;
let pending: NodeJS.Timeout | undefined;

/**
 * A worker's handle on a SharedArrayBuffer keeps the whole volume alive until that worker's isolate
 * collects it, and an idle worker rarely does: a pipeline would hold every volume it ever resampled,
 * and every new output would fault in never-touched pages (on small VMs slower than the resample).
 * So once a worker has been idle for RELEASE_AFTER_MS after tasks on large buffers, it runs a full GC of
 * its own small heap. Not sooner: the GC runs V8's parallel helper threads, and on a 2-core machine,
 * run 5 ms after every task, they took the core of the other worker still finishing its slices (the
 * 2-worker resample was about 30 % slower). A scavenge instead is not enough: views that V8 allocated or
 * promoted into the old generation keep the buffers alive through it. A task arriving first postpones
 * the GC, so back-to-back slabs never pay it.
 */
function releaseShared(bytes: number): void {
  if (isMainThread || bytes < RELEASE_ABOVE) return;
  if (!workerGc) {
    setFlagsFromString('--expose-gc');
    workerGc = runInNewContext('gc') as () => void;
  }
  // The task's typed-array views are still on this stack; collect once we have returned and idled.
  pending = setTimeout(workerGc, RELEASE_AFTER_MS);
  pending.unref();
}

function cancelRelease(): void {
  if (pending) clearTimeout(pending);
  pending = undefined;
}

export interface PreprocessTask {
  src: VoxelRef;
  out?: VoxelRef;
  op: PreprocessOp;
  start: number;
  end: number;
}

/** Pool task for element-wise preprocessing over voxels [start, end). */
export function preprocessTask(t: PreprocessTask): RangeStats | undefined {
  cancelRelease();
  try {
    return preprocessRange(arrayOf(t.src), t.out ? arrayOf(t.out) : undefined, t.op, t.start, t.end);
  } finally {
    releaseShared(t.src.buffer.byteLength + (t.out?.buffer.byteLength ?? 0));
  }
}
