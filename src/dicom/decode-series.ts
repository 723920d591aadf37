import { CtscopeError, toCtscopeError } from '../errors.js';
import { checkThreadCount, getPool, poolSize, poolTaskError } from '../workers/pool.js';
import { usableCores } from '../workers/cores.js';
import { eventLoopTurns } from '../io/turns.js';
import type { DicomInstance } from './types.js';
import { getTransferSyntax } from './transfer-syntax.js';
import {
  brokenOrThrow,
  decodeFileInto,
  newScratch,
  readSource,
  volumeView,
  type BrokenSlice,
  type DecodeFileJob,
  type DecodeSlicesTaskInput,
  type DecodeSlicesTaskResult,
} from './decode-task.js';
import { DEFAULT_HU_OPTIONS } from './decode.js';
import { taskController } from '../io/abort.js';

export interface SliceSource {
  /** A file path (read by the worker that decodes it) or the instance's bytes already in memory. */
  source: string | Uint8Array;
  instance: DicomInstance;
  frameIndex: number;
  /** Slice k of the volume: written at k * sliceVoxels. */
  sliceIndex: number;
}

export interface DecodeTarget {
  buffer: SharedArrayBuffer;
  dtype: 'int16' | 'float32';
  /** Rows x columns of every slice. */
  sliceVoxels: number;
}

export interface DecodeOptions {
  signal?: AbortSignal;
  /** Decoding lanes; 1 decodes on the calling thread. Default: the shared pool's size. */
  threads?: number;
  /** HU for PixelPaddingValue voxels (default -1024). */
  paddingHu?: number;
  onProgress?: (done: number, total: number) => void;
  /**
   * Leave out slices whose file cannot be read or whose pixel data does not decode, and return them as `broken`,
   * instead of rejecting with the first one's error (default false).
   */
  skipBroken?: boolean;
}

interface FilledDecodeOptions {
  signal: AbortSignal | undefined;
  threads: number;
  paddingHu: number;
  onProgress: (done: number, total: number) => void;
  skipBroken: boolean;
}

/** Worker batches per lane: enough to balance uneven files, few enough to keep per-task overhead small. */
const BATCHES_PER_LANE = 4;
/** Largest worker batch (files). */
const MAX_BATCH = 16;
/** File reads kept in flight ahead of inline decoding. */
const READ_AHEAD = 4;

function fill(o: DecodeOptions): FilledDecodeOptions {
  const threads = o.threads ?? poolSize();
  checkThreadCount(threads);
  return {
    signal: o.signal,
    threads,
    paddingHu: o.paddingHu ?? DEFAULT_HU_OPTIONS.paddingHu,
    onProgress: o.onProgress ?? (() => {}),
    skipBroken: o.skipBroken ?? false,
  };
}

function checkTarget(slices: SliceSource[], t: DecodeTarget): void {
  const bytesPer = t.dtype === 'int16' ? 2 : 4;
  if (!(t.buffer instanceof SharedArrayBuffer)) throw new CtscopeError('E_USAGE', 'target.buffer must be a SharedArrayBuffer');
  if (t.buffer.byteLength % bytesPer !== 0) throw new CtscopeError('E_USAGE', `target buffer size is not a multiple of ${bytesPer}`);
  const capacity = t.buffer.byteLength / bytesPer;
  for (const s of slices) {
    const n = s.instance.rows * s.instance.columns;
    const where = typeof s.source === 'string' ? s.source : s.instance.source;
    if (n !== t.sliceVoxels) throw new CtscopeError('E_USAGE', `slice ${s.sliceIndex} has ${n} voxels, target slices hold ${t.sliceVoxels}`, { where });
    if (!Number.isInteger(s.sliceIndex) || s.sliceIndex < 0 || (s.sliceIndex + 1) * t.sliceVoxels > capacity) {
      throw new CtscopeError('E_USAGE', `slice index ${s.sliceIndex} is outside the target buffer`, { where });
    }
  }
}

/**
 * Groups slices by source (a file path, or in-memory bytes by identity) so a multi-frame source is one job,
 * read or shipped once per batch. Order follows first appearance.
 */
function sourceJobs(slices: SliceSource[]): DecodeFileJob[] {
  const bySource = new Map<string | Uint8Array, DecodeFileJob>();
  for (const s of slices) {
    let job = bySource.get(s.source);
    if (!job) {
      job = typeof s.source === 'string' ? { path: s.source, instance: s.instance, frames: [] } : { path: s.instance.source, bytes: s.source, instance: s.instance, frames: [] };
      bySource.set(s.source, job);
    }
    job.frames.push({ frameIndex: s.frameIndex, sliceIndex: s.sliceIndex });
  }
  return [...bySource.values()];
}

/**
 * In-memory bytes as they should travel to workers in `batches` tasks: structured clone copies a plain
 * buffer with each task (and for a view, its whole underlying buffer), so several batches share one copy
 * in shared memory, and a single one gets a copy of just the instance's bytes (Buffer#slice is a view).
 */
function shippable(b: Uint8Array, batches: number): Uint8Array {
  if (b.buffer instanceof SharedArrayBuffer) return b;
  if (batches > 1) {
    const shared = new Uint8Array(new SharedArrayBuffer(b.byteLength));
    shared.set(b);
    return shared;
  }
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength ? b : Uint8Array.prototype.slice.call(b);
}

/** Splits `items` into at most `count` runs of near-equal length, keeping order. */
function chunks<T>(items: T[], count: number): T[][] {
  const size = Math.ceil(items.length / Math.min(count, items.length || 1));
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

function isNative(inst: DicomInstance): boolean {
  return getTransferSyntax(inst.transferSyntaxUid, inst.source).codec === 'native';
}

function abortedError(): CtscopeError {
  return new CtscopeError('E_ABORTED', 'decoding was aborted');
}

interface Run {
  out: Int16Array | Float32Array;
  target: DecodeTarget;
  opts: FilledDecodeOptions;
  stop: AbortController;
  total: number;
  done: number;
  saturated: number;
  /** Slices left out (skipBroken), from every lane. */
  broken: BrokenSlice[] | undefined;
}

function progress(run: Run, slices: number): void {
  run.done += slices;
  run.opts.onProgress(run.done, run.total);
}

/** One unit of work: a file (read lazily) or in-memory bytes, with the frames to decode from it. */
interface WorkItem {
  job: DecodeFileJob;
  bytes?: Uint8Array;
}

/**
 * Work queues shared by all lanes. Native (uncompressed) items are taken by this thread and by the
 * workers alike, whichever is free; compressed items go to workers only (unless there are none).
 */
interface Queues {
  native: WorkItem[];
  compressed: WorkItem[];
}

/** This thread's lane: takes a few native items at a time so their reads overlap the conversion. */
async function inlineLane(run: Run, q: Queues, takeCompressed: boolean): Promise<void> {
  // One read buffer per read in flight; a buffer is reused once its file has been decoded.
  const scratch = Array.from({ length: READ_AHEAD }, newScratch);
  const turn = eventLoopTurns();
  for (;;) {
    if (run.stop.signal.aborted) return;
    const src = q.native.length > 0 ? q.native : takeCompressed ? q.compressed : undefined;
    if (!src || src.length === 0) return;
    const items = src.splice(0, READ_AHEAD);
    const reads = items.map((it, i) => (it.bytes ? Promise.resolve(it.bytes) : readSource(it.job.path, scratch[i])));
    for (const r of reads) r.catch(() => {}); // reported when awaited
    for (let i = 0; i < items.length; i++) {
      const { job } = items[i]!;
      let bytes: Uint8Array | undefined;
      try {
        bytes = await reads[i]!;
      } catch (e) {
        brokenOrThrow(e, job.path, job.frames, run.broken);
      }
      if (run.stop.signal.aborted) return;
      if (bytes) run.saturated += await decodeFileInto(bytes, job, run.out, run.target.sliceVoxels, run.opts.paddingHu, run.broken);
      progress(run, job.frames.length);
      // In-memory bytes resolve without a trip through the event loop: give the host's timers and I/O
      // (and an abort) a turn every few milliseconds.
      await turn();
    }
  }
}

/**
 * A worker lane: takes batches (compressed first) and runs them on the shared pool. It first waits for
 * its worker with an empty task, so a cold start does not hold queued files that this thread could
 * decode meanwhile. `takeNative`: this lane also helps with uncompressed files.
 */
async function workerLane(run: Run, q: Queues, batchSize: number, takeNative: boolean): Promise<void> {
  const pool = getPool();
  const task = (files: DecodeFileJob[]): DecodeSlicesTaskInput => ({
    buffer: run.target.buffer,
    dtype: run.target.dtype,
    sliceVoxels: run.target.sliceVoxels,
    paddingHu: run.opts.paddingHu,
    files,
    skipBroken: run.opts.skipBroken,
  });
  if (q.compressed.length === 0) {
    if (!takeNative) return;
    try {
      await pool.run(task([]), { name: 'decodeSlicesTask', signal: run.stop.signal });
    } catch (e) {
      if (run.stop.signal.aborted) return;
      throw poolTaskError(pool, e, 'decode worker failed to start', 'decode');
    }
  }
  for (;;) {
    if (run.stop.signal.aborted) return;
    const src = q.compressed.length > 0 ? q.compressed : takeNative ? q.native : [];
    if (src.length === 0) return;
    const batch = src.splice(0, batchSize).map((it) => it.job);
    let result: DecodeSlicesTaskResult;
    try {
      result = (await pool.run(task(batch), { name: 'decodeSlicesTask', signal: run.stop.signal })) as DecodeSlicesTaskResult;
    } catch (e) {
      if (run.stop.signal.aborted) return;
      throw poolTaskError(pool, e, 'decode worker failed', 'decode');
    }
    if (result.error) throw toCtscopeError(result.error, 'E_WORKER');
    run.broken?.push(...result.broken);
    run.saturated += result.saturatedVoxels;
    progress(run, result.slices);
  }
}

/** Uncompressed files below this count are not worth starting workers for. */
const NATIVE_WORKER_MIN_FILES = 64;

/**
 * Whether workers should help with uncompressed files. Measured on a 2-core machine: with the pool
 * already running, this thread plus one worker beat this thread alone (about 660 vs 470 Mvox/s on
 * 140 slices); a cold pool costs more CPU to start than it saves there. With 4+ cores a large series
 * pays for the start-up. This thread always counts as one of the `threads` lanes.
 */
function helpWithNative(nativeFiles: number): boolean {
  if (nativeFiles === 0) return false;
  if (getPool().threads.length > 0) return true;
  return nativeFiles >= NATIVE_WORKER_MIN_FILES && usableCores() >= 4;
}

/**
 * Decodes every slice into the shared volume buffer as HU (slice k at k * sliceVoxels).
 *
 * Lanes share one queue. `threads` pool workers take batches of compressed files (a multi-frame file
 * is split by frames) and read the files themselves. This thread decodes uncompressed files (a few at a
 * time, reads overlapping the conversion, which runs near memory speed) and in-memory sources; workers
 * help with uncompressed files when that pays (see helpWithNative). `threads: 1` keeps everything on
 * this thread. An abort rejects with E_ABORTED once the lanes have stopped (workers at once, this thread
 * after its current frame); the first failing slice rejects with its coded error naming the file, unless
 * `skipBroken`, where damaged or unreadable slices come back in `broken` (by slice index) and the rest is decoded.
 */
export async function decodeSlicesInto(slices: SliceSource[], target: DecodeTarget, options: DecodeOptions = {}): Promise<{ saturatedVoxels: number; broken: BrokenSlice[] }> {
  const opts = fill(options);
  checkTarget(slices, target);
  if (opts.signal?.aborted) throw abortedError();
  const { controller: stop, release: unwatch } = taskController(opts.signal);
  const run: Run = { out: volumeView(target.buffer, target.dtype), target, opts, stop, total: slices.length, done: 0, saturated: 0, broken: opts.skipBroken ? [] : undefined };
  try {
    const q: Queues = { native: [], compressed: [] };
    const memory: WorkItem[] = [];
    const workers = opts.threads > 1 ? opts.threads : 0;
    for (const job of sourceJobs(slices)) {
      const native = isNative(job.instance);
      if (job.bytes && (native || workers === 0)) {
        // In-memory bytes decoded here (uncompressed: shipping them would cost a copy as large as the
        // work), one item per frame so the inline lane gives the event loop a turn between frames.
        for (const f of job.frames) memory.push({ bytes: job.bytes, job: { ...job, frames: [f] } });
      } else if (native) q.native.push({ job });
      else {
        // Compressed: a multi-frame source is split so its frames spread over the workers; files are
        // re-read by each, in-memory bytes copied with the task (small against the decode).
        const parts = chunks(job.frames, Math.max(1, workers * BATCHES_PER_LANE));
        const bytes = job.bytes && shippable(job.bytes, parts.length);
        for (const frames of parts) q.compressed.push({ job: { ...job, ...(bytes ? { bytes } : {}), frames } });
      }
    }
    const batchSize = Math.max(1, Math.min(MAX_BATCH, Math.ceil((q.native.length + q.compressed.length) / Math.max(1, workers * BATCHES_PER_LANE))));
    const lanes: Array<Promise<void>> = [
      inlineLane(run, { native: memory, compressed: [] }, false).then(() => inlineLane(run, q, workers === 0)),
    ];
    const nativeHelpers = workers > 0 && helpWithNative(q.native.length) ? workers - 1 : 0;
    for (let i = 0; i < workers; i++) lanes.push(workerLane(run, q, batchSize, i < nativeHelpers));
    // A failing lane stops the others (piscina terminates their running tasks at once). Wait until every
    // lane has stopped, so nothing lands in the target after this returns or rejects: after a stop, this
    // thread's lane only finishes the frame it is on.
    for (const lane of lanes) lane.catch(() => stop.abort());
    const results = await Promise.allSettled(lanes);
    if (opts.signal?.aborted) throw abortedError();
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
    return { saturatedVoxels: run.saturated, broken: (run.broken ?? []).sort((a, b) => a.sliceIndex - b.sliceIndex) };
  } catch (e) {
    if (opts.signal?.aborted) throw abortedError();
    throw toCtscopeError(e, 'E_WORKER');
  } finally {
    stop.abort();
    unwatch();
  }
}
