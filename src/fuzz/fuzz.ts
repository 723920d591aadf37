/**
 * Fuzz run orchestration: cases run one at a time in a worker thread under a watchdog. A case that
 * runs past its time bound, or a worker that dies or exceeds the memory limit, gets a fresh worker;
 * the run goes on and the case is recorded with its index so `--seed S --only I` reproduces it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { compiledSibling } from '../io/compiled.js';
import { MUTATION_KINDS } from './mutate.js';
import { planCase, type CaseResult, type CaseVia, type Corpus, type CorpusEntry, type Outcome } from './case.js';
import type { CaseReply, WorkerInit } from './case-worker.js';
import type { CorpusFile } from './corpus.js';

export interface FuzzOptions {
  cases?: number;
  seed?: number;
  /** Wall-clock bound per case (ms). */
  caseTimeoutMs?: number;
  /** Declared memory limit of the case thread: V8 old space cap and heap + array buffers after each case (MiB). */
  memoryLimitMb?: number;
  /** Declared limit for any single buffer a case allocates (MiB); a frame of the largest accepted image fits. */
  allocationLimitMb?: number;
  /** Run only these case indices (reproduction). */
  only?: number[];
  onResult?: (r: CaseResult) => void;
  /** Stops the run between cases (E_ABORTED); its scratch folder and worker go with it. */
  signal?: AbortSignal | undefined;
}

export interface FilledFuzzOptions {
  cases: number;
  seed: number;
  caseTimeoutMs: number;
  memoryLimitMb: number;
  allocationLimitMb: number;
  only: number[] | undefined;
  onResult: (r: CaseResult) => void;
  signal: AbortSignal | undefined;
}

export const DEFAULT_FUZZ: Readonly<FilledFuzzOptions> = Object.freeze({
  cases: 10_000,
  seed: 1,
  caseTimeoutMs: 2000,
  memoryLimitMb: 1024,
  allocationLimitMb: 256,
  only: undefined,
  onResult: () => undefined,
  signal: undefined,
});

/** A fresh worker loads its corpus and codecs; its first case gets this much longer. */
const WARMUP_FACTOR = 5;
/** A timed-out case is run once more in a fresh worker with this much longer before it counts as a hang. */
const RETRY_FACTOR = 4;
/** The whole process (runner, corpus copies, codec memories) may hold this many times the thread limit. */
const RSS_FACTOR = 2;

export interface FuzzSummary {
  seed: number;
  cases: number;
  /** counts[kind][outcome] */
  counts: Record<string, Record<Outcome, number>>;
  /** Coded errors by code. */
  codes: Record<string, number>;
  failures: CaseResult[];
  /** Cases by route: buffer parse + decode, file header reader + decode, study scan/load of the generated series. */
  vias: Record<CaseVia, number>;
  /** Cases that passed their bound once but finished when retried with a longer one (a loaded machine). */
  slowCases: number[];
  peakMemoryMb: number;
  peakRssMb: number;
  largestAllocationMb: number;
  elapsedMs: number;
}

const workerFile = (): string => compiledSibling(import.meta.url, './case-worker.js');

interface Slot {
  worker: Worker;
  fresh: boolean;
}

function startWorker(init: WorkerInit, memoryLimitMb: number): Promise<Slot> {
  const worker = new Worker(workerFile(), {
    workerData: init,
    resourceLimits: { maxOldGenerationSizeMb: memoryLimitMb, maxYoungGenerationSizeMb: 64 },
    stdout: true,
    stderr: true,
  });
  worker.stdout.resume();
  worker.stderr.resume();
  return new Promise((resolve, reject) => {
    const fail = (e: unknown): void => reject(new CtscopeError('E_WORKER', `fuzz worker failed to start: ${String(e)}`));
    worker.once('error', fail);
    worker.once('message', () => {
      worker.off('error', fail);
      resolve({ worker, fresh: true });
    });
  });
}

type Step = { reply: CaseReply } | { outcome: Outcome; detail: string };

/** Sends one case and waits for its reply, the watchdog, or the worker's death. */
function step(slot: Slot, index: number, timeoutMs: number): Promise<Step> {
  const { worker } = slot;
  return new Promise((resolve) => {
    const done = (s: Step): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      worker.off('error', onError);
      worker.off('exit', onExit);
      resolve(s);
    };
    const onMessage = (reply: CaseReply): void => done({ reply });
    const onError = (e: Error): void => {
      const oom = (e as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY';
      done({ outcome: oom ? 'memory' : 'crash', detail: String(e.stack ?? e) });
    };
    const onExit = (code: number): void => done({ outcome: 'crash', detail: `worker exited with ${code}` });
    const timer = setTimeout(() => done({ outcome: 'timeout', detail: `no result within ${timeoutMs} ms` }), timeoutMs);
    worker.on('message', onMessage);
    worker.on('error', onError);
    worker.on('exit', onExit);
    worker.postMessage({ index });
  });
}

function emptyCounts(): Record<Outcome, number> {
  return { ok: 0, coded: 0, uncoded: 0, timeout: 0, memory: 0, crash: 0 };
}

export async function fuzz(corpusFiles: readonly CorpusFile[], series: readonly CorpusEntry[], options: FuzzOptions = {}): Promise<FuzzSummary> {
  const o: FilledFuzzOptions = { ...DEFAULT_FUZZ, ...Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) };
  // File cases write into one folder of the run's, removed at its end: a terminated case cannot clean up after itself.
  const scratchDir = mkdtempSync(join(tmpdir(), 'ctscope-fuzz-run-'));
  const init: WorkerInit = { seed: o.seed, files: [...corpusFiles], series: [...series], scratchDir };
  // Planning needs the bytes only to name a case that killed its worker; sizes suffice to pick the same entry.
  const t0 = performance.now();
  const counts: Record<string, Record<Outcome, number>> = Object.fromEntries(MUTATION_KINDS.map((k) => [k, emptyCounts()]));
  const codes: Record<string, number> = {};
  const failures: CaseResult[] = [];
  let peak = 0;
  let peakRss = 0;
  let largestAlloc = 0;
  const vias: Record<CaseVia, number> = { bytes: 0, file: 0, study: 0 };
  const slowCases: number[] = [];
  let slot = await startWorker(init, o.memoryLimitMb).catch((e: unknown) => {
    rmSync(scratchDir, { recursive: true, force: true });
    throw e;
  });
  const limitBytes = o.memoryLimitMb * 1024 * 1024;
  const indices = o.only ?? Array.from({ length: o.cases }, (_, i) => i);
  let planCorpus: Corpus | undefined;
  try {
    for (const index of indices) {
      throwIfAborted(o.signal, 'fuzzing');
      let bound = slot.fresh ? o.caseTimeoutMs * WARMUP_FACTOR : o.caseTimeoutMs;
      let s = await step(slot, index, bound);
      slot.fresh = false;
      if (!('reply' in s) && s.outcome === 'timeout' && o.caseTimeoutMs > 0) {
        // The retry takes up to RETRY_FACTOR times the bound: not after an interrupt.
        throwIfAborted(o.signal, 'fuzzing');
        await slot.worker.terminate();
        slot = await startWorker(init, o.memoryLimitMb);
        bound = o.caseTimeoutMs * RETRY_FACTOR;
        s = await step(slot, index, bound);
        slot.fresh = false;
        if ('reply' in s) slowCases.push(index);
      }
      let result: CaseResult;
      if ('reply' in s) {
        result = s.reply.result;
        peak = Math.max(peak, s.reply.memory);
        peakRss = Math.max(peakRss, s.reply.rss);
        largestAlloc = Math.max(largestAlloc, s.reply.largestAllocation);
        const allocLimit = o.allocationLimitMb * 2 ** 20;
        if (s.reply.memory > limitBytes || s.reply.rss > RSS_FACTOR * limitBytes || s.reply.largestAllocation > allocLimit) {
          const mib = (v: number): string => (v / 2 ** 20).toFixed(0);
          result = {
            ...result,
            outcome: 'memory',
            detail: `largest allocation ${mib(s.reply.largestAllocation)} MiB (limit ${o.allocationLimitMb}); after the case: thread ${mib(s.reply.memory)} MiB, process ${mib(s.reply.rss)} MiB`,
          };
        }
      } else {
        planCorpus ??= await loadPlanCorpus(init);
        const { plan } = planCase(planCorpus, o.seed, index);
        result = { ...plan, outcome: s.outcome, detail: s.detail, ms: bound };
      }
      vias[result.via]++;
      if (result.outcome === 'timeout' || result.outcome === 'memory' || result.outcome === 'crash') {
        await slot.worker.terminate();
        slot = await startWorker(init, o.memoryLimitMb);
      }
      const row = (counts[result.kind] ??= emptyCounts());
      row[result.outcome]++;
      if (result.outcome === 'coded' && result.code) codes[result.code] = (codes[result.code] ?? 0) + 1;
      if (result.outcome !== 'ok' && result.outcome !== 'coded') failures.push(result);
      o.onResult(result);
    }
  } finally {
    await slot.worker.terminate();
    rmSync(scratchDir, { recursive: true, force: true });
  }
  return { seed: o.seed, cases: indices.length, counts, codes, failures, vias, slowCases, peakMemoryMb: peak / 2 ** 20, peakRssMb: peakRss / 2 ** 20, largestAllocationMb: largestAlloc / 2 ** 20, elapsedMs: performance.now() - t0 };
}

async function loadPlanCorpus(init: WorkerInit): Promise<Corpus> {
  const { readFile } = await import('node:fs/promises');
  const files = await Promise.all(init.files.map(async (f) => ({ name: f.name, bytes: new Uint8Array(await readFile(f.path)) })));
  return { files, series: init.series };
}

/** Outcome x mutation kind table, with totals. */
export function formatSummary(s: FuzzSummary): string {
  const cols: Outcome[] = ['ok', 'coded', 'uncoded', 'timeout', 'memory', 'crash'];
  const w = 18;
  const line = (name: string, vals: (number | string)[]): string => name.padEnd(w) + vals.map((v) => String(v).padStart(9)).join('');
  const out = [line('mutation', [...cols, 'total'])];
  const total = emptyCounts();
  for (const [kind, row] of Object.entries(s.counts)) {
    const n = cols.reduce((a, c) => a + row[c], 0);
    cols.forEach((c) => (total[c] += row[c]));
    out.push(line(kind, [...cols.map((c) => row[c]), n]));
  }
  out.push(line('total', [...cols.map((c) => total[c]), s.cases]));
  const codeList = Object.entries(s.codes).sort((a, b) => b[1] - a[1]).map(([c, n]) => `${c} ${n}`).join(', ');
  out.push('', `coded errors: ${codeList || 'none'}`);
  out.push(`routes: ${s.vias.bytes} buffer parse+decode, ${s.vias.file} file header reader+decode, ${s.vias.study} study scan/load; ${s.slowCases.length} slow cases passed on retry${s.slowCases.length ? ` (${s.slowCases.join(', ')})` : ''}`);
  out.push(`seed ${s.seed}, ${s.cases} cases in ${(s.elapsedMs / 1000).toFixed(1)} s, peak case-thread memory ${s.peakMemoryMb.toFixed(0)} MiB, peak process RSS ${s.peakRssMb.toFixed(0)} MiB, largest single allocation ${s.largestAllocationMb.toFixed(1)} MiB`);
  for (const f of s.failures.slice(0, 20)) {
    out.push('', `FAIL ${f.outcome} case ${f.index} (reproduce: --seed ${s.seed} --only ${f.index}) kind ${f.kind} input ${f.input} via ${f.via}`);
    if (f.detail) out.push(f.detail.split('\n').map((l) => '  ' + l).join('\n'));
  }
  return out.join('\n');
}
