import { isMainThread } from 'node:worker_threads';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { PerformanceObserver, constants } from 'node:perf_hooks';
import type { VoxelArray } from '../volume/types.js';
import type { Plan, VoxelType } from './plan.js';
import { viewOf } from './arrays.js';
import { resampleSeparableSlab } from './separable.js';
import { resampleAffineSlab } from './gather.js';
import { permuteSlab } from './permute.js';
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
  /** Output slice range [k0, k1). */
  k0: number;
  k1: number;
}

export const refOf = (a: VoxelArray, type: VoxelType): VoxelRef => ({ buffer: a.buffer, byteOffset: a.byteOffset, length: a.length, type });
export const arrayOf = (r: VoxelRef): VoxelArray => viewOf(r.type, r.buffer, r.byteOffset, r.length);

/** Runs one slab of any plan kind; the same function is the inline path and the pool task. */
export function runSlab(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: Plan, k0: number, k1: number): void {
  SLAB_RUNNERS[plan.kind](src, out, outType, plan as never, k0, k1);
}

const SLAB_RUNNERS: Readonly<Record<Plan['kind'], (src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: never, k0: number, k1: number) => void>> = {
  separable: resampleSeparableSlab,
  affine: resampleAffineSlab,
  permute: (src, out, _t, plan, k0, k1) => permuteSlab(src, out, plan, k0, k1),
};

/** Pool task: writes its slab straight into the shared output; returns nothing. */
export function resampleSlabTask(t: SlabTask): void {
  cancelRelease();
  try {
    runSlab(arrayOf(t.src), arrayOf(t.out), t.out.type, t.plan, t.k0, t.k1);
  } finally {
    releaseShared(t.src.buffer.byteLength + t.out.buffer.byteLength);
  }
}

/** Above this many bytes a task's shared buffers are released once the worker idles (see releaseShared). */
const RELEASE_ABOVE = 64 * 2 ** 20;
const RELEASE_AFTER_MS = 5;
/** A worker idle this long gets a full GC anyway (views promoted by a scavenge the observer had not reported yet). */
const FULL_GC_AFTER_MS = 250;
type Gc = (options?: { type: 'minor' | 'major' }) => void;
let workerGc: Gc | undefined;
let pending: NodeJS.Timeout[] = [];
/** Young-generation collections seen in this thread, and the count when the current run of tasks began. */
let scavenges = 0;
let scavengesAtStart = -1;
/** Scavenges this module asked for, not yet seen by the observer (they do not count as promotions). */
let ownScavenges = 0;
if (!isMainThread)
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if ((e as { detail?: { kind?: number } }).detail?.kind !== constants.NODE_PERFORMANCE_GC_MINOR) continue;
      if (ownScavenges > 0) ownScavenges--;
      else scavenges++;
    }
  }).observe({ entryTypes: ['gc'] });

/**
 * A worker's handle on a SharedArrayBuffer keeps the whole volume alive until that worker's isolate
 * collects it, and an idle worker rarely does: a pipeline would hold every volume it ever resampled,
 * and every new output would fault in never-touched pages (on small VMs slower than the resample).
 * So once a worker goes idle after tasks on large buffers, it collects. The slab kernels allocate next
 * to nothing, so usually no scavenge ran during the tasks, their views are still in the young
 * generation, and a scavenge (well under a millisecond) frees them. Only where one did run (the views
 * may have been promoted: first tasks of a fresh worker, JS fallback kernels) does it take a full GC,
 * which is avoided otherwise because it runs V8's parallel helper threads: on a 2-core machine they
 * took cores from the other workers' slabs (a full GC after every run made the 2-worker resample about
 * 30 % slower). A task arriving first postpones the collection, so back-to-back slabs pay none.
 */
function releaseShared(bytes: number): void {
  if (isMainThread || bytes < RELEASE_ABOVE) return;
  if (!workerGc) {
    setFlagsFromString('--expose-gc');
    workerGc = runInNewContext('gc') as Gc;
  }
  const gc = workerGc;
  // The task's typed-array views are still on this stack; collect once we have returned and idled (by
  // then the observer has usually seen this task's collections; the later full GC covers the rest).
  const minor = setTimeout(() => {
    const promoted = scavengesAtStart < 0 || scavenges > scavengesAtStart;
    scavengesAtStart = -1;
    if (promoted) {
      gc();
      clearTimeout(full);
    } else {
      ownScavenges++;
      gc({ type: 'minor' });
    }
  }, RELEASE_AFTER_MS);
  const full = setTimeout(() => gc(), FULL_GC_AFTER_MS);
  pending = [minor, full];
  for (const t of pending) t.unref();
}

function cancelRelease(): void {
  for (const t of pending) clearTimeout(t);
  pending = [];
  if (scavengesAtStart < 0) scavengesAtStart = scavenges;
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
