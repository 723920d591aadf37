import { Worker } from 'node:worker_threads';
import { CtscopeError } from '../errors.js';
import { checkThreadCount } from '../workers/pool.js';
import { usableCores } from '../workers/cores.js';
import { raceAbort } from '../io/abort.js';
import { compiledSibling } from '../io/compiled.js';
import { loadedOrder, type ModelPackage } from './model.js';
import { autoCandidates, candidatesFor, describeAttempts, PROBE_MODEL, PROVIDERS, unavailableError, type EpAttempt, type EpName, type EpRequest } from './providers.js';
import type { SessionWorkerData, TensorData, ValueInfo, WorkerReply, WorkerRequest } from './tensor.js';

export interface RunnerOptions {
  /** Execution provider; default 'auto'. */
  ep?: EpRequest;
  /** GPU index for cuda/tensorrt/dml; default 0. */
  deviceId?: number;
  /** intraOpNumThreads of the session; default: every core (the models of a run go one after another). */
  threads?: number;
  /** Receives the one line saying which provider was chosen and why others failed. */
  onLog?: (line: string) => void;
}

export interface FilledRunnerOptions {
  ep: EpRequest;
  deviceId: number;
  threads: number;
  onLog: (line: string) => void;
}

export interface RunResult {
  outputs: Record<string, TensorData>;
  /** Milliseconds spent inside session.run (native inference), measured in the worker. */
  runMs: number;
}

const sessionWorkerFile = (): string => compiledSibling(import.meta.url, './session-worker.js');

/**
 * One ONNX session in its own worker thread. Created once per model (see `getRunner`) and reused; inputs
 * are transferred to the worker, outputs transferred back. The worker is unref'd while idle.
 */
export class ModelRunner {
  readonly provider: EpName;
  readonly attempts: EpAttempt[];
  readonly inputs: ValueInfo[];
  readonly outputs: ValueInfo[];
  readonly threads: number;
  /** Totals over this runner's life, for benchmarks: runs answered, their time, and queued runs dropped after an abort or close. */
  readonly stats = { runs: 0, runMs: 0, dropped: 0 };
  #worker: Worker;
  #nextId = 1;
  #pending = new Map<number, { resolve: (r: RunResult) => void; reject: (e: unknown) => void }>();
  /**
   * Runs posted to the thread and not yet answered, the aborted ones included: the thread stays ref'd until all are
   * answered, since a process that exits while one is in a native run aborts (exit 134).
   */
  #unanswered = new Set<number>();
  #closed = false;
  /** Set when the worker thread ended without being closed: every later run fails fast instead of waiting forever. */
  #dead: CtscopeError | undefined;
  #onDeath: (() => void) | undefined;

  private constructor(worker: Worker, ready: Extract<WorkerReply, { type: 'ready' }>, threads: number) {
    this.#worker = worker;
    this.attempts = ready.attempts as EpAttempt[];
    this.provider = this.attempts.find((a) => a.ok)!.ep;
    this.inputs = ready.inputs;
    this.outputs = ready.outputs;
    this.threads = threads;
    worker.on('message', (m: WorkerReply) => this.#onMessage(m));
    worker.on('error', (e) => this.#die(new CtscopeError('E_WORKER', `inference worker failed: ${e.message}`, { cause: e })));
    worker.on('exit', (code) => this.#die(new CtscopeError('E_WORKER', `inference worker exited (code ${code})`)));
    worker.unref();
  }

  static async create(pkg: ModelPackage, options: RunnerOptions = {}): Promise<ModelRunner> {
    // A fraction or a negative count was blamed on the model ("cannot create a session"); 1e6 threads hung.
    if (options.threads !== undefined) checkThreadCount(options.threads);
    const o: FilledRunnerOptions = {
      ep: options.ep ?? 'auto',
      deviceId: options.deviceId ?? 0,
      // Models run one after another (detect's stages are sequential), so each session may use every core; a host
      // that runs several detects at once caps this with `threads` (detect's `sessionThreads`).
      threads: options.threads ?? usableCores(),
      onLog: options.onLog ?? (() => undefined),
    };
    const candidates = candidatesFor(o.ep);
    const here = candidates.filter((ep) => PROVIDERS[ep].platforms.includes(process.platform));
    // auto loads a GPU provider's library in this process only once a child has loaded it without crashing.
    const { safe, failed } = o.ep === 'auto' ? await autoCandidates(here, o.deviceId) : { safe: here, failed: [] };
    const data: SessionWorkerData = {
      bytes: pkg.bytes,
      candidates: safe.map((ep) => ({ ep, config: PROVIDERS[ep].config(o.deviceId) })),
      intraOpNumThreads: o.threads,
      spin: process.env.CTSCOPE_ORT_SPIN === '1',
      probeModel: PROBE_MODEL,
    };
    if (data.candidates.length === 0) throw unavailableError(candidates[0]!, `not available on ${process.platform}`);
    const worker = startWorker(data, `ctscope-session-${pkg.manifest.id}`);
    let reply: WorkerReply;
    const listeners: { onMessage?: (m: WorkerReply) => void; onError?: (e: Error) => void; onExit?: (code: number) => void } = {};
    try {
      reply = await new Promise<WorkerReply>((resolve, reject) => {
        listeners.onMessage = resolve;
        listeners.onError = reject;
        listeners.onExit = (code) => reject(new Error(`exited with code ${code}`));
        worker.once('message', listeners.onMessage).once('error', listeners.onError).once('exit', listeners.onExit);
      });
    } catch (e) {
      await worker.terminate();
      throw new CtscopeError('E_WORKER', `inference worker did not start: ${(e as Error).message}`, { cause: e });
    }
    worker.off('message', listeners.onMessage!).off('error', listeners.onError!).off('exit', listeners.onExit!);
    if (reply.type !== 'ready') {
      await worker.terminate();
      const attempts = reply.type === 'failed' ? reply.attempts : [];
      // A provider that loads but rejects this graph is the model's fault; one that does not load is the environment's.
      const modelFault = attempts.find((a) => a.providerLoads);
      if (modelFault) {
        throw new CtscopeError('E_MODEL', `cannot create a session for model '${pkg.manifest.id}' on ${modelFault.ep}: ${modelFault.error}`, { where: pkg.modelPath });
      }
      const last = attempts[attempts.length - 1];
      if (o.ep !== 'auto' && last) throw unavailableError(last.ep as EpName, last.error ?? 'failed');
      throw new CtscopeError('E_EP_UNAVAILABLE', `no execution provider could run model '${pkg.manifest.id}': ${describeAttempts(o.ep, [...failed, ...(attempts as EpAttempt[])])}`);
    }
    const runner = new ModelRunner(worker, { ...reply, attempts: [...failed, ...reply.attempts] }, o.threads);
    if (o.ep === 'auto' || reply.attempts.length > 1) o.onLog(describeAttempts(o.ep, runner.attempts));
    return runner;
  }

  /**
   * Runs the session once; the feeds' buffers are transferred (unusable afterwards). An abort of `signal` rejects
   * at once with E_ABORTED and drops the run if the thread has not started it (one in progress runs to its end).
   */
  run(feeds: Record<string, TensorData>, signal?: AbortSignal): Promise<RunResult> {
    if (this.#dead) return Promise.reject(this.#dead);
    // Closed by the host (closeRunners at shutdown) while a run still had batches to go: that run is aborted, as
    // the batches in flight at the close were, not failed.
    if (this.#closed) return Promise.reject(new CtscopeError('E_ABORTED', 'the model runner was closed'));
    if (signal?.aborted) return Promise.reject(new CtscopeError('E_ABORTED', 'aborted during inference'));
    const id = this.#nextId++;
    const transfer = Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer);
    const msg: WorkerRequest = { type: 'run', id, feeds };
    return new Promise<RunResult>((resolve, reject) => {
      const onAbort = (): void => {
        if (!this.#pending.has(id)) return;
        // Its reply, which still comes (a run in progress finishes), is then ignored.
        this.#pending.delete(id);
        if (!this.#closed && !this.#dead) this.#worker.postMessage({ type: 'cancel', ids: [id] } satisfies WorkerRequest);
        reject(new CtscopeError('E_ABORTED', 'aborted during inference'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = (): void => signal?.removeEventListener('abort', onAbort);
      this.#pending.set(id, { resolve: (r) => (done(), resolve(r)), reject: (e) => (done(), reject(e)) });
      if (this.#unanswered.size === 0) this.#worker.ref();
      this.#unanswered.add(id);
      this.#worker.postMessage(msg, transfer);
    });
  }

  #onMessage(m: WorkerReply): void {
    if (m.type !== 'result' && m.type !== 'error') return;
    // Once closing, the thread stays held until it has ended (close() awaits its exit, which alone keeps no process alive).
    if (this.#unanswered.delete(m.id) && this.#unanswered.size === 0 && !this.#closed) this.#worker.unref();
    if (m.type === 'error' && m.cancelled) this.stats.dropped++;
    const p = this.#pending.get(m.id);
    if (!p) return;
    this.#pending.delete(m.id);
    if (m.type === 'error') {
      p.reject(new CtscopeError('E_INFERENCE', `session.run failed: ${m.message}`));
      return;
    }
    this.stats.runs++;
    this.stats.runMs += m.runMs;
    p.resolve({ outputs: m.outputs, runMs: m.runMs });
  }

  #holds = 0;
  /** Called when the last hold ends (the runner cache closes a retired runner then). */
  onIdle: (() => void) | undefined;

  /**
   * Marks the runner in use for a whole stage (a sliding window, a second stage), not one batch; returns the call
   * that ends the hold.
   */
  hold(): () => void {
    this.#holds++;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      if (--this.#holds === 0) this.onIdle?.();
    };
  }

  /** Stages holding the runner now. */
  get holds(): number {
    return this.#holds;
  }

  /** True once close() was called (by the host, or on retirement). */
  get closed(): boolean {
    return this.#closed;
  }

  /** True once the worker thread has ended unexpectedly; the cache then makes a new runner. */
  get dead(): boolean {
    return this.#dead !== undefined;
  }

  /** Called once when the worker dies unexpectedly (the runner cache drops it). */
  set onDeath(f: () => void) {
    this.#onDeath = f;
  }

  #die(e: CtscopeError): void {
    if (this.#closed || this.#dead) return;
    this.#dead = e;
    this.#unanswered.clear();
    this.#failAll(e);
    this.#onDeath?.();
  }

  /**
   * Ends the worker thread at once, as a crash would (fault tests). Not while a run is in progress: onnxruntime
   * then aborts the whole process (close() waits for that run instead).
   */
  async kill(): Promise<void> {
    await this.#worker.terminate();
  }

  #failAll(e: CtscopeError): void {
    for (const p of this.#pending.values()) p.reject(e);
    this.#pending.clear();
  }

  /**
   * Rejects the pending runs (E_ABORTED), has the thread drop those it has not started, waits for the one in
   * progress to finish (terminating the thread under a native run aborts the process) and ends the thread.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    if (this.#dead) return;
    this.#failAll(new CtscopeError('E_ABORTED', 'the model runner was closed'));
    const exited = new Promise<void>((resolve) => this.#worker.once('exit', () => resolve()));
    // Held until it has ended: a process that exited with the thread still in a native run would abort.
    this.#worker.ref();
    this.#worker.postMessage({ type: 'close' } satisfies WorkerRequest);
    await exited;
  }
}

/**
 * The session thread, with the host's Node options as a worker inherits them, except `--input-type`: a host run as
 * `node --input-type=module -e` passed it on, and a worker started from a file refuses it ("inference worker did not
 * start"). Options given explicitly must all be valid in a worker (process-wide ones such as --expose-gc are not,
 * where inheritance passes over them), so only then are they given, and where they still fail, none are.
 */
function startWorker(workerData: SessionWorkerData, name: string): Worker {
  const file = sessionWorkerFile();
  const argv = process.execArgv;
  if (!argv.some((a) => a === '--input-type' || a.startsWith('--input-type='))) return new Worker(file, { workerData, name });
  const execArgv: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === '--input-type') i++;
    else if (!argv[i]!.startsWith('--input-type=')) execArgv.push(argv[i]!);
  }
  try {
    return new Worker(file, { workerData, name, execArgv });
  } catch (e) {
    if ((e as { code?: string }).code !== 'ERR_WORKER_INVALID_EXEC_ARGV') throw e;
    return new Worker(file, { workerData, name, execArgv: [] });
  }
}

/**
 * A cached session. `retired` once a package of the same model file loaded later has other weights (a model updated
 * in place): it is closed as soon as no stage holds it and no caller is waiting for it, instead of being kept
 * until closeRunners() (a host that updated its models kept every old session, 100-350 MB each).
 */
interface Entry {
  promise: Promise<ModelRunner>;
  /** Callers between the lookup and their hold: a retirement meanwhile must not close the session under them. */
  waiting: number;
  retired: boolean;
  runner: ModelRunner | undefined;
}
const cache = new Map<string, Entry>();
/** Per model file, provider, device and thread count: the cache key and load order of the newest package seen. */
const current = new Map<string, { key: string; loaded: number }>();

/**
 * The cache entry for a package, made when missing. `held`: the caller holds what it gets (acquireRunner), so the
 * session of an older package than the newest seen may be retired at once, to close after that caller's stage; an
 * unheld caller (getRunner) gets it kept.
 */
function entryFor(pkg: ModelPackage, options: RunnerOptions, held: boolean): { key: string; entry: Entry } {
  const slot = `${pkg.modelPath}:${options.ep ?? 'auto'}:${options.deviceId ?? 0}:${options.threads ?? usableCores()}`;
  const key = `${pkg.manifest.sha256}:${slot}`;
  // 0 for a package made by the host itself, not loaded here: it neither retires nor is retired.
  const loaded = loadedOrder(pkg);
  const now = current.get(slot);
  let stale = false;
  if (loaded > 0) {
    if (now === undefined || (now.key !== key && loaded > now.loaded)) {
      // Newer weights for this file: the previous ones' session goes once idle.
      const old = now && cache.get(now.key);
      if (now && old) retire(now.key, old);
      current.set(slot, { key, loaded });
    } else if (now.key === key) now.loaded = Math.max(now.loaded, loaded);
    else stale = held; // an older package than the newest seen: its session is retired from the start
  }
  let entry = cache.get(key);
  if (!entry) {
    const created: Entry = { promise: ModelRunner.create(pkg, options), waiting: 0, retired: false, runner: undefined };
    entry = created;
    cache.set(key, created);
    created.promise.then(
      (runner) => {
        created.runner = runner;
        runner.onDeath = () => {
          if (cache.get(key) === created) cache.delete(key);
        };
        runner.onIdle = () => closeIfIdle(key, created);
        closeIfIdle(key, created);
      },
      () => {
        if (cache.get(key) === created) cache.delete(key);
      },
    );
  }
  if (stale) entry.retired = true;
  return { key, entry };
}

function retire(key: string, entry: Entry): void {
  entry.retired = true;
  closeIfIdle(key, entry);
}

function closeIfIdle(key: string, entry: Entry): void {
  const r = entry.runner;
  if (!entry.retired || !r || entry.waiting > 0 || r.holds > 0) return;
  if (cache.get(key) === entry) cache.delete(key);
  void r.close();
}

/**
 * The shared runner of a model on a provider and thread count: created on first use, reused after. An abort of
 * `signal` rejects this caller at once with E_ABORTED; the session is still made (other callers may share it, and
 * a native session creation cannot be interrupted) and cached for the next caller. A host that updates a model's
 * files in place while using a runner from here directly should hold it (`hold()`) while it runs it.
 */
export function getRunner(pkg: ModelPackage, options: RunnerOptions = {}, signal?: AbortSignal): Promise<ModelRunner> {
  return raceAbort(entryFor(pkg, options, false).entry.promise, signal, 'starting the model session');
}

/**
 * getRunner plus a hold taken before any retirement can close it (see ModelRunner.hold); returns the runner and
 * the call that ends the hold.
 */
export async function acquireRunner(pkg: ModelPackage, options: RunnerOptions = {}, signal?: AbortSignal): Promise<{ runner: ModelRunner; release: () => void }> {
  for (;;) {
    const { key, entry } = entryFor(pkg, options, true);
    entry.waiting++;
    let runner: ModelRunner;
    try {
      runner = await raceAbort(entry.promise, signal, 'starting the model session');
    } catch (e) {
      entry.waiting--;
      closeIfIdle(key, entry);
      throw e;
    }
    if (runner.closed) {
      // Closed meanwhile (closeRunners(), or by its holder): a fresh one.
      entry.waiting--;
      if (cache.get(key) === entry) cache.delete(key);
      continue;
    }
    // The hold before the waiting count drops: a retirement in between cannot close it.
    const release = runner.hold();
    entry.waiting--;
    return { runner, release };
  }
}

/** Closes every cached runner (their worker threads end). */
export async function closeRunners(): Promise<void> {
  const all = [...cache.values()];
  cache.clear();
  current.clear();
  await Promise.all(all.map(async (e) => (await e.promise.catch(() => undefined))?.close()));
}
