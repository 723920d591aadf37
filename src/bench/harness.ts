import { Bench } from 'tinybench';
import { spawn } from 'node:child_process';
import { signalGroup, trackGroup } from '../io/child-groups.js';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { taskController } from '../io/abort.js';
import { cpus, totalmem, platform, arch } from 'node:os';

/**
 * Benchmark rows shared by every stage. Absolute times on these shared machines are noisy, so every row
 * also carries its ratio to in-run baselines measured in the same process: memcpy bandwidth (memory bound
 * stages) and a fixed scalar loop (compute bound stages).
 */
export interface BenchRow {
  stage: string;
  name: string;
  /** Median wall time per iteration, ms. */
  medianMs: number;
  /** Spread: p25..p75 is not in tinybench; min and p75/p99 are what it gives. */
  minMs: number;
  p75Ms: number;
  maxMs: number;
  samples: number;
  /** Work per iteration for throughput: voxels or bytes. */
  work?: { amount: number; unit: 'vox' | 'B' };
  /** Mvox/s or MB/s at the median. */
  throughput?: number;
  throughputUnit?: 'Mvox/s' | 'MB/s';
  /** medianMs divided by the memcpy baseline's time for the same number of bytes (lower is better). */
  vsMemcpy?: number;
  /** medianMs divided by the scalar-loop baseline (lower is better). */
  vsScalar?: number;
  /** Peak RSS seen during the row, MiB. */
  peakRssMiB: number;
  /** Memory stage rows: peak RSS against the volume's size (see memory.ts). */
  memory?: MemoryFigures;
  note?: string;
  /** Filled freshly allocated memory each iteration (see TaskSpec.freshMemory). */
  freshMemory?: boolean;
  /**
   * Ratios (same basis as the row's) from measuring the row's stage again, each against in-run baselines taken
   * right before it, when --check found the row past its tolerance (see recheckFlagged in suite.ts).
   */
  rechecks?: number[];
}

export interface MemoryFigures {
  /** The volume's bytes as int16 (voxels x 2), MiB. */
  volumeMiB: number;
  /** RSS of the fresh process after its imports. */
  importMiB: number;
  /** RSS after a warm-up run on a tiny series: the fixed overhead. */
  fixedMiB: number;
  /** Peak RSS (VmHWM where /proc has it). */
  peakMiB: number;
  /** (peak - fixed) / volume bytes. */
  ratio: number;
  /** Growth per extra volume byte between this size and the smaller one (fixed overhead cancels). */
  marginal?: number;
  target: number;
  /** Peak RSS seen during each pipeline stage. */
  stagePeakMiB: Record<string, number>;
}

export interface MachineInfo {
  cpu: string;
  cores: number;
  memGiB: number;
  platform: string;
  node: string;
  date: string;
}

export function machineInfo(): MachineInfo {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? 'unknown',
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    platform: `${platform()}-${arch()}`,
    node: process.version,
    date: new Date().toISOString(),
  };
}

export interface Baselines {
  /** GB/s copied by Float32Array.set over 256 MiB. */
  memcpyGBs: number;
  /** ms for the fixed scalar loop. */
  scalarMs: number;
  /** Microseconds per 4 KiB page to fill fresh memory (first touch); varies 25x between VMs of one kind. */
  faultUsPerPage: number;
}

let peakRss = 0;
const rssTimer = (): NodeJS.Timeout => {
  const t = setInterval(() => {
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
  }, 5);
  t.unref();
  return t;
};

export interface TaskSpec {
  name: string;
  fn: () => unknown | Promise<unknown>;
  work?: { amount: number; unit: 'vox' | 'B' };
  /** Bytes moved per iteration, for the memcpy ratio. */
  bytes?: number;
  note?: string;
  setup?: () => unknown | Promise<unknown>;
  /** Each iteration fills freshly allocated memory (a new volume or output), so its time follows page-fault cost. */
  freshMemory?: boolean;
}

let runSignal: AbortSignal | undefined;
/**
 * Untimed, before each iteration: one event-loop turn, so that a Ctrl-C (delivered as a macrotask) is seen between
 * iterations rather than after the whole bench of awaited, microtask-only iterations.
 */
const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
/** The abort signal of the bench run in progress (set by runBench): every measurement stops at it with E_ABORTED. */
export function setRunSignal(signal: AbortSignal | undefined): void {
  runSignal = signal;
}
export function checkRun(): void {
  throwIfAborted(runSignal, 'benchmark');
}

/**
 * A child process of the bench (the data script, a synth, a memory probe), not blocking the event loop, so that a
 * Ctrl-C is handled at once: the child is stopped, and an interrupt (the run's signal, or the child ending by a
 * signal or with the status a shell gives one) is E_ABORTED, any other failure E_IO. Resolves with its stdout
 * when `stdout` is 'pipe'.
 */
export function runChild(file: string, args: readonly string[], o: { what: string; stdout?: 'pipe' | 'inherit' | 'ignore'; env?: NodeJS.ProcessEnv; where?: string }): Promise<string> {
  return new Promise((resolve, reject) => {
    checkRun();
    // A group of its own, stopped as a whole: a shell script's jobs (synth, dcmcjpeg under xargs) outlived a signal
    // to the script alone.
    const child = spawn(file, args, { stdio: ['ignore', o.stdout ?? 'inherit', 'inherit'], env: o.env ?? process.env, detached: true });
    const untrack = child.pid !== undefined ? trackGroup(child.pid) : () => undefined;
    const stop = (): void => void (child.pid !== undefined && signalGroup(child.pid));
    runSignal?.addEventListener('abort', stop, { once: true });
    const done = (): void => {
      untrack();
      runSignal?.removeEventListener('abort', stop);
    };
    let out = '';
    child.stdout?.setEncoding('utf8').on('data', (t: string) => (out += t));
    const where = o.where !== undefined ? { where: o.where } : {};
    const interrupted = (why: string): CtscopeError => new CtscopeError('E_ABORTED', `${o.what} was interrupted (${why})`, where);
    child.once('error', (e) => (done(), reject(runSignal?.aborted ? interrupted('the benchmark was aborted') : new CtscopeError('E_IO', `${o.what} failed: ${e.message}`, { cause: e, ...where }))));
    child.once('close', (code, signal) => {
      done();
      if (code === 0) return resolve(out);
      // Stopped by the run's abort, or by a signal of its own: it ended by the signal, or with the status of a
      // grandchild that stopped on it (synth exits 130), which is an interrupt, not a fault.
      if (runSignal?.aborted || (signal && ['SIGINT', 'SIGTERM', 'SIGHUP'].includes(signal)) || code === 129 || code === 130 || code === 143) reject(interrupted(signal ?? `exit status ${code}`));
      else reject(new CtscopeError('E_IO', `${o.what} failed (${signal ?? `exit status ${code}`})`, where));
    });
  });
}
/**
 * Runs tinybench benches, in order, that stop at the run's signal. Each Bench adds an abort listener to the signal
 * it is given and never removes it, so they get a signal of their own that follows the run's through one listener,
 * removed when they are done (a full run measures dozens: Node warned of a listener leak past ten).
 */
async function runBenches<T extends Bench[]>(make: (signal: AbortSignal) => T): Promise<T> {
  const { controller, release } = taskController(runSignal);
  try {
    const benches = make(controller.signal);
    for (const b of benches) {
      await b.run();
      checkRun();
    }
    return benches;
  } finally {
    release();
  }
}

export async function measure(
  stage: string,
  tasks: TaskSpec[],
  baselines: Baselines,
  options: { iterations?: number; time?: number } = {},
): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const t of tasks) {
    checkRun();
    if (t.setup) await t.setup();
    checkRun();
    (globalThis as { gc?: () => void }).gc?.();
    peakRss = process.memoryUsage.rss();
    const timer = rssTimer();
    let bench: Bench;
    try {
      [bench] = await runBenches((signal): [Bench] => {
        const b = new Bench({ iterations: options.iterations ?? 5, time: options.time ?? 0, warmupIterations: 1, warmupTime: 0, throws: true, signal });
        b.add(t.name, t.fn, { beforeEach: turn });
        return [b];
      });
    } finally {
      clearInterval(timer);
    }
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const r = bench.tasks[0]!.result as unknown as { latency: { p50: number; min: number; p75: number; max: number; samplesCount: number } };
    const lat = r.latency;
    const row: BenchRow = {
      stage,
      name: t.name,
      medianMs: lat.p50,
      minMs: lat.min,
      p75Ms: lat.p75,
      maxMs: lat.max,
      samples: lat.samplesCount,
      peakRssMiB: Math.round(peakRss / 2 ** 20),
      vsScalar: lat.p50 / baselines.scalarMs,
    };
    if (t.work) {
      row.work = t.work;
      row.throughput = t.work.amount / 1e6 / (lat.p50 / 1000);
      row.throughputUnit = t.work.unit === 'vox' ? 'Mvox/s' : 'MB/s';
    }
    if (t.bytes) row.vsMemcpy = lat.p50 / ((t.bytes / (baselines.memcpyGBs * 1e9)) * 1000);
    if (t.note) row.note = t.note;
    if (t.freshMemory) row.freshMemory = true;
    rows.push(row);
  }
  return rows;
}

/** In-run baselines: run them in the same process right before the stages. */
export async function measureBaselines(): Promise<Baselines> {
  const n = (256 * 2 ** 20) / 4;
  const a = new Float32Array(n).fill(1);
  const b = new Float32Array(n);
  const [copy, scalar] = await runBenches((signal): [Bench, Bench] => {
    const c = new Bench({ iterations: 10, time: 0, signal });
    c.add('memcpy', () => b.set(a), { beforeEach: turn });
    const s = new Bench({ iterations: 10, time: 0, signal });
    s.add('scalar', () => {
      // A fixed dependent chain of float ops; the JIT cannot vectorise or drop it.
      let x = 0.5;
      for (let i = 0; i < 20_000_000; i++) x = x * 1.0000001 + 1e-9;
      if (x === 42) console.log(x);
    }, { beforeEach: turn });
    return [c, s];
  });
  const copyMs = (copy.tasks[0]!.result as unknown as { latency: { p50: number } }).latency.p50;
  const scalarMs = (scalar.tasks[0]!.result as unknown as { latency: { p50: number } }).latency.p50;
  return { memcpyGBs: (n * 4) / 1e9 / (copyMs / 1000), scalarMs, faultUsPerPage: faultCost() };
}

/** Median of three first-touch fills of a fresh 64 MiB SharedArrayBuffer, in microseconds per 4 KiB page. */
function faultCost(): number {
  const bytes = 64 * 2 ** 20;
  const times: number[] = [];
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now();
    const a = new Uint8Array(new SharedArrayBuffer(bytes));
    for (let i = 0; i < bytes; i += 4096) a[i] = 1;
    times.push(((performance.now() - t0) * 1000) / (bytes / 4096));
  }
  return times.sort((x, y) => x - y)[1]!;
}

export function formatRows(rows: BenchRow[]): string {
  const head = ['stage', 'task', 'median ms', 'min..max ms', 'throughput', 'x memcpy', 'x scalar', 'peak RSS MiB'];
  const body = rows.map((r) => [
    r.stage,
    r.name,
    r.medianMs.toFixed(1),
    `${r.minMs.toFixed(1)}..${r.maxMs.toFixed(1)}`,
    // Two significant digits at least: a quick detect row runs at 0.04 Mvox/s.
    r.throughput !== undefined ? `${r.throughput >= 10 ? r.throughput.toFixed(1) : r.throughput.toPrecision(2)} ${r.throughputUnit}` : '',
    r.vsMemcpy !== undefined ? r.vsMemcpy.toFixed(2) : '',
    r.vsScalar !== undefined ? r.vsScalar.toFixed(2) : '',
    String(r.peakRssMiB),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
