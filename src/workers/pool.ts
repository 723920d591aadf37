import { CtscopeError, toCtscopeError } from '../errors.js';
import { Piscina } from 'piscina';
import { usableCores } from './cores.js';
import { decimal } from '../io/decimal.js';
import { compiledSibling } from '../io/compiled.js';

/**
 * The one worker pool of the pipeline (decode, resample, preprocessing). Created lazily on first use,
 * sized to the machine, and closed by `closePool()`; its threads are unref'd while idle so a host
 * process can exit without closing it.
 *
 * Task functions are named exports of `./entry.cjs` (see there why it is CommonJS).
 */
let pool: Piscina | undefined;
let poolThreads = 0;

export interface PoolOptions {
  /** Worker threads; default: the usable cores (affinity and cgroup CPU quota). */
  threads?: number;
}

/** Path of the compiled worker entry. */
export function workerFilename(): string {
  return compiledSibling(import.meta.url, './entry.cjs');
}

export function defaultThreads(): number {
  const env = decimal(process.env.CTSCOPE_THREADS ?? '');
  if (Number.isInteger(env) && env > 0) return Math.min(env, MAX_THREADS);
  return usableCores();
}

/** Most worker threads a pool may have: far above any machine's cores, far below what exhausts memory. */
export const MAX_THREADS = 256;

/** A thread count ctscope accepts: an integer from `min` (0 where "no workers" means work inline) to MAX_THREADS. */
export const isThreadCount = (n: unknown, min = 1): n is number => Number.isInteger(n) && (n as number) >= min && (n as number) <= MAX_THREADS;

/** E_USAGE unless `n` is a thread count of 1 to MAX_THREADS. */
export function checkThreadCount(n: unknown): asserts n is number {
  if (!isThreadCount(n)) throw new CtscopeError('E_USAGE', `threads must be an integer from 1 to ${MAX_THREADS} (got ${String(n)})`);
}

export function getPool(options: PoolOptions = {}): Piscina {
  const threads = options.threads ?? defaultThreads();
  checkThreadCount(threads);
  if (pool && poolThreads === threads) return pool;
  if (pool) void pool.destroy();
  pool = new Piscina({
    filename: workerFilename(),
    minThreads: 0,
    maxThreads: threads,
    idleTimeout: 2_000,
    // Tasks are coarse (a slab, a batch of frames); a short queue keeps memory bounded.
    concurrentTasksPerWorker: 1,
    // Idle workers wait on the event loop, not in a blocking Atomics.wait: a blocked worker never runs
    // its GC, so the SharedArrayBuffers of every volume it touched (hundreds of MB each) stayed alive
    // until the pool closed. The per-task latency this adds is microseconds against tasks of milliseconds.
    atomics: 'disabled',
  });
  poolThreads = threads;
  watchForStall(pool);
  return pool;
}

/**
 * Piscina rejects the tasks a dying worker was running, but tasks still queued wait for a thread it may
 * never start (it stops replacing workers that die before they are ready, and with minThreads 0 it
 * starts none until the next submission). A pool left with queued tasks and no thread is therefore
 * destroyed, which rejects the queued tasks (callers report E_WORKER), and the next getPool() makes a
 * fresh one: a dead worker costs the tasks it touched, never a hang.
 */
function watchForStall(p: Piscina): void {
  p.on('workerDestroy', () => {
    setImmediate(() => {
      if (pool !== p || p.threads.length > 0 || p.queueSize === 0) return;
      pool = undefined;
      poolThreads = 0;
      void p.destroy();
    });
  });
}

export function poolSize(): number {
  return pool ? poolThreads : defaultThreads();
}

/**
 * Aborted by closePool(). Runs in flight (detect) watch it, so a host shutting down stops them at whatever stage
 * they are, not only in their pool tasks: a run on the main thread would otherwise go on and start a new pool.
 */
let shutdown = new AbortController();

/** The signal the next closePool() aborts. */
export function poolShutdownSignal(): AbortSignal {
  return shutdown.signal;
}

/** Ends all worker threads. Safe to call when no pool exists. Runs still going fail with E_ABORTED. */
export async function closePool(): Promise<void> {
  const p = pool;
  pool = undefined;
  poolThreads = 0;
  const ending = shutdown;
  shutdown = new AbortController();
  ending.abort(new CtscopeError('E_ABORTED', 'the run was stopped: closePool() ended the worker pool while it ran'));
  if (p) {
    closedPools.add(p);
    await p.destroy();
  }
}

/** Pools ended by closePool: their tasks failed because the host shut them down, not because a worker broke. */
const closedPools = new WeakSet<Piscina>();

export function closedByHost(p: Piscina): boolean {
  return closedPools.has(p);
}

/**
 * What V8 throws when a WebAssembly memory or an ArrayBuffer cannot grow to the size asked for (not a negative or
 * NaN length, which is a bug and stays E_WORKER).
 */
const OUT_OF_MEMORY = /Memory\.grow|Unable to grow instance memory|Array buffer allocation failed|WebAssembly\.Memory\(\): could not allocate/i;

/**
 * The error for a task of `p` that failed: E_ABORTED when closePool ended the pool under it (a host shutting
 * down mid-run), E_TOO_LARGE when it ran out of memory, else E_WORKER with `message`.
 */
export function poolTaskError(p: Piscina, e: unknown, message: string, where?: string): CtscopeError {
  if (closedByHost(p)) return new CtscopeError('E_ABORTED', `${where ?? 'the run'} was stopped: closePool() ended the worker pool while it ran`, where !== undefined ? { where } : {});
  // A grid within maxVoxels can still need more than a worker's WebAssembly memory (4 GiB) or heap can hold: that
  // is the input's size, not a broken worker.
  if (e instanceof RangeError && OUT_OF_MEMORY.test(e.message))
    return new CtscopeError('E_TOO_LARGE', `${where ?? 'the task'} needs more memory than a worker thread can have (${e.message}); use a coarser spacing or a smaller region`, { ...(where !== undefined ? { where } : {}), cause: e });
  return toCtscopeError(e, 'E_WORKER', message, where);
}

/**
 * Starts the pool's threads without waiting for them (piscina starts a thread only for a queued task),
 * so that work known to come soon does not wait for their start-up. Failures surface on real tasks.
 */
export function warmPool(threads?: number): void {
  const p = getPool();
  // More than the pool's size would only queue (a huge count used to queue until the heap ran out).
  const want = Math.min(threads ?? poolThreads, poolThreads);
  for (let i = p.threads.length; i < want; i++) void p.run(undefined, { name: 'readyTask' }).catch(() => undefined);
}
