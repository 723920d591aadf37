import { resolve } from 'node:path';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { checkOutDir } from '../io/dirs.js';
import { checkNoOtherWriter } from '../io/folder-lock.js';
import { onAbort } from '../io/abort.js';
import { poolShutdownSignal } from '../workers/pool.js';
import { detect as detectOnGrid } from '../inference/infer.js';
import type { ModelPackage } from '../inference/model.js';
import { decodeSeries, indexSeries, ownInput, type IndexedSeries, type LoadedSeries, type StudyInput } from '../ingest/load.js';
import { buildFindingsDocument, type ModelRun } from '../outputs/findings-json.js';
import { srBytesOffThread } from '../outputs/sr-task.js';
import { checkOutputNames, writeOutputs } from '../outputs/write.js';
import { newUid } from '../outputs/uid.js';
import type { Volume } from '../volume/types.js';
import { sliceNormal } from '../volume/affine.js';
import { checkProvider } from '../inference/providers.js';
import { skippedInputsLine } from '../series/summary.js';
import { round, StageClock } from './clock.js';
import { abandonPlace, admit, takePlace } from './admission.js';
import { modelGrid } from './grid.js';
import { sliceReader } from './slices.js';
import { loadModelPackage, withScoreFloor } from './models.js';
import { fillDetectOptions } from './options.js';
import { readSourceContext } from '../outputs/source.js';
import type { DetectOptions, DetectOutcome, FilledDetectOptions } from './types.js';

/**
 * Models first: a missing or corrupt package, a provider asked for by name that cannot load here, or an output
 * folder that cannot be written, fails before any input is read (before a DICOMweb download, too).
 */
async function preflight(o: FilledDetectOptions): Promise<ModelPackage[]> {
  const packages = await Promise.all(o.models.map((m) => loadModelPackage(m, o.modelDirs)));
  await checkProvider(o.ep, o.deviceId, o.signal);
  const twice = packages.find((p, n) => packages.findIndex((q) => q.dir === p.dir) !== n);
  if (twice) throw new CtscopeError('E_USAGE', `model ${twice.manifest.id} is given twice; each model runs once`);
  if (o.outDir !== undefined) {
    await checkOutDir(o.outDir, 'the output folder');
    await checkOutputNames(resolve(o.outDir), o.outputs);
    // A folder another process is writing into now is refused before the run, not after its inference.
    await checkNoOtherWriter(resolve(o.outDir));
  }
  return packages;
}

/**
 * The checks detect() makes before it reads its input (models, output folder), for a host that has to fetch the
 * input first (a DICOMweb retrieve): a wrong model or output folder then fails before the download, not after.
 */
export async function checkDetectOptions(options: DetectOptions): Promise<void> {
  await preflight(fillDetectOptions(options));
}

/**
 * The whole pipeline on one series: load (paths or in-memory buffers) -> for each model: resample to
 * its grid, run it, map findings back to the original series -> findings document, and, with `outDir`,
 * findings.json, sr.dcm, report.html and key images. Every run keeps its state in locals, so several
 * may be started at once in one process; at most `maxConcurrentRuns()` work at a time (see admission.ts),
 * the others wait their turn, which bounds memory (model sessions are shared and serialise their own runs).
 */
export function detect(input: StudyInput, options: DetectOptions & { sr: true }): Promise<DetectOutcome & { sr: Uint8Array }>;
export function detect(input: StudyInput, options: DetectOptions): Promise<DetectOutcome>;
export async function detect(input: StudyInput, options: DetectOptions): Promise<DetectOutcome> {
  // Before the first await: every later stage (decode, SR attributes, key images) reads this copy.
  input = ownInput(input);
  const host = guardHostCallbacks(fillDetectOptions(options));
  const o = host.options;
  // The place in line is the call's: admission follows call order, however long the checks below take. Given up
  // in `finally` when the run ends before admission, so that later runs stop waiting for it.
  const place = takePlace();
  try {
    const packages = await preflight(o);
    // Indexed before admission (headers only): input with nothing to load is refused at once, not after the
    // runs ahead of it (an all-junk input queued behind five runs waited 3.5 s for a 10 ms answer).
    throwIfAborted(o.signal, 'detect');
    const clock = new StageClock();
    const started = performance.now();
    const indexed = await indexSeries(input, {
      seriesUid: o.seriesUid,
      signal: o.signal,
      threads: o.threads,
      maxVoxels: o.maxVoxels,
      onProgress: (p) => {
        clock.enter(p.stage);
        o.onProgress(p);
      },
    });
    clock.stop();
    const indexMs = performance.now() - started;
    const outcome = await admit(o.signal, () => detectAdmitted(indexed, input, o, packages, clock, indexMs), place);
    if (host.failure !== undefined) throw host.failure;
    return outcome;
  } catch (e) {
    throw host.failure ?? e;
  } finally {
    abandonPlace(place);
    host.dispose();
  }
}

/**
 * A host callback (onProgress, onLog) that throws ends the run with its own error, whatever the stage: the
 * throw is caught here, the run is aborted through its signal (so it stops as an abort would, leaving no
 * output), and detect rejects with the host's error as thrown, never wrapped as a worker or inference failure.
 */
function guardHostCallbacks(o: FilledDetectOptions): { options: FilledDetectOptions; readonly failure: unknown; dispose(): void } {
  const stop = new AbortController();
  let failure: unknown;
  const guard = <A extends unknown[]>(fn: (...a: A) => void) => (...a: A): void => {
    if (failure !== undefined) return;
    try {
      fn(...a);
    } catch (e) {
      // Not rethrown: some callers are timers and worker-lane handlers, where a throw would escape the run.
      failure = e ?? new Error('a detect callback threw');
      stop.abort(failure);
    }
  };
  // Wired by hand, not with AbortSignal.any, which ignores the aborts of an imitation signal (a polyfill's).
  const user = o.signal;
  const forward = (): void => stop.abort(user?.reason);
  let unwatch = (): void => undefined;
  if (user?.aborted) forward();
  else if (user) unwatch = onAbort(user, forward);
  // closePool() (a host shutting down) stops the run at any stage, as the host's own signal would.
  const shutdown = poolShutdownSignal();
  const unwatchShutdown = onAbort(shutdown, () => stop.abort(shutdown.reason));
  return {
    options: { ...o, signal: stop.signal, onProgress: guard(o.onProgress), onLog: guard(o.onLog) },
    dispose: () => {
      unwatch();
      unwatchShutdown();
    },
    get failure() {
      return failure;
    },
  };
}

/** The run once admitted; `indexMs`, the indexing before admission, counts in its total time (the wait does not). */
async function detectAdmitted(indexed: IndexedSeries, input: StudyInput, options: FilledDetectOptions, packages: ModelPackage[], clock: StageClock, indexMs: number): Promise<DetectOutcome> {
  // A model with a second stage opens two sessions, and models share a provider: say each line once a run.
  const o: FilledDetectOptions = { ...options, onLog: onceEach(options.onLog) };
  const started = performance.now() - indexMs;
  throwIfAborted(o.signal, 'detect');
  const volume = await decodeSeries(indexed);
  clock.stop();
  const context = await readSourceContext(volume, input, o.signal);
  const readSlice = sliceReader(volume, input);
  const runs: ModelRun[] = [];
  for (let i = 0; i < packages.length; i++) {
    // Once the last model's grid is made the volume's voxels are not needed (key images decode their few slices
    // again): dropping them here takes the largest buffer out of the sliding window's peak.
    const last = i === packages.length - 1;
    runs.push(await runOne(volume, packages[i]!, o, clock, last ? () => releaseVoxels(volume) : undefined));
  }
  clock.stop();
  const document = buildFindingsDocument(volume, context, runs, {
    timings: clock.timings,
    totalMs: 0,
    warnings: [...volume.problems.map((p) => `series: ${p}`), ...context.warnings, ...skippedWarning(volume), ...studiesWarning(volume), ...planeWarning(volume), ...regionWarnings(runs)],
  });
  const outcome: DetectOutcome = { document, files: [] };
  const wantSr = o.sr || (o.outDir !== undefined && o.outputs.includes('sr'));
  if (wantSr) {
    document.sr = { sopInstanceUid: newUid(), seriesInstanceUid: newUid() };
    const options = { sopInstanceUid: document.sr.sopInstanceUid, seriesInstanceUid: document.sr.seriesInstanceUid };
    const task = { doc: document, elements: context.elements, sopClasses: [...context.sopClasses], frameOfReferenceUid: context.frameOfReferenceUid, options };
    outcome.sr = await srBytesOffThread(task, o.signal);
  }
  if (o.outDir !== undefined) {
    throwIfAborted(o.signal, 'detect');
    clock.enter('outputs');
    o.onProgress({ stage: 'outputs', done: 0, total: 1 });
    // Total time is known only once the outputs are written; findings.json is written last with it.
    outcome.files = await writeOutputs(o.outDir, document, { geometry: volume.geometry, readSlice }, outcome.sr, o.outputs, {
      signal: o.signal,
      beforeJson: () => {
        clock.stop();
        document.timings.totalMs = round(performance.now() - started);
      },
      // Inside the write, so that a callback throwing here takes the outputs back like any failed write.
      afterWrite: () => o.onProgress({ stage: 'outputs', done: 1, total: 1 }),
    });
  } else {
    document.timings.totalMs = round(performance.now() - started);
  }
  return outcome;
}

/** The log function, passing each distinct line once. */
function onceEach(log: (line: string) => void): (line: string) => void {
  const said = new Set<string>();
  return (line) => {
    if (said.has(line)) return;
    said.add(line);
    log(line);
  };
}

/** Replaces the volume's voxels with an empty array (geometry, UIDs and the index stay). */
function releaseVoxels(volume: LoadedSeries): void {
  volume.data = volume.data instanceof Float32Array ? new Float32Array(0) : new Int16Array(0);
}

/** Key images show the acquired slices; say so when those are not axial. */
function planeWarning(volume: LoadedSeries): string[] {
  return Math.abs(sliceNormal(volume.geometry.direction)[2]) < 0.8 ? ['series is not axial: key images show the acquired plane through each finding'] : [];
}

/** A model that looks only inside an organ says so when the organ was not found and it looked at the whole body. */
function regionWarnings(runs: readonly ModelRun[]): string[] {
  return runs.flatMap((r) => (r.stats.region && !r.stats.region.found ? [`model ${r.pkg.manifest.id}: no ${r.stats.region.organ} found (${r.stats.region.volumeMl} mL); it looked at the whole body`] : []));
}

/** Input that mixes studies (a host that passed two patients' instances by mistake) is analysed, but not silently. */
function studiesWarning(volume: LoadedSeries): string[] {
  const studies = new Set(volume.index.series.map((s) => s.studyInstanceUid));
  if (studies.size < 2) return [];
  return [`the input holds ${studies.size} studies (${volume.index.series.length} series); only study ${volume.series.studyInstanceUid} was analysed: check that the input is one patient's study`];
}

function skippedWarning(volume: LoadedSeries): string[] {
  const line = skippedInputsLine(volume.index.skipped);
  return line ? [line] : [];
}

async function runOne(volume: LoadedSeries, pkg: ModelPackage, o: FilledDetectOptions, clock: StageClock, afterGrid?: () => void): Promise<ModelRun> {
  const m = pkg.manifest;
  throwIfAborted(o.signal, 'detect');
  clock.enter('resample', m.id);
  o.onProgress({ stage: 'resample', done: 0, total: 1, model: m.id });
  const grid: Volume = await modelGrid(volume, pkg, { workers: o.threads, signal: o.signal, maxVoxels: o.maxVoxels });
  afterGrid?.();
  o.onProgress({ stage: 'resample', done: 1, total: 1, model: m.id });
  clock.enter('infer', m.id);
  o.onProgress({ stage: 'infer', done: 0, total: 1, model: m.id });
  // The sliding window is most of a run: its patches are the progress (the total is known once the region is).
  let total = 1;
  // The package as run: with a score floor in place of its threshold, which findings.json then records.
  const run = o.scoreFloor === undefined ? pkg : withScoreFloor(pkg, o.scoreFloor);
  const result = await detectOnGrid(grid, volume, run, {
    ep: o.ep,
    deviceId: o.deviceId,
    onLog: o.onLog,
    mask: o.bodyMask ? (o.organMask ? 'organ' : 'body') : null,
    onPatches: (done, patches) => {
      total = Math.max(1, patches);
      o.onProgress({ stage: 'infer', done: Math.min(done, total), total, model: m.id });
    },
    ...(o.sessionThreads !== undefined ? { threads: o.sessionThreads } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
  });
  o.onProgress({ stage: 'infer', done: total, total, model: m.id });
  return { pkg: run, grid: grid.geometry, findings: result.findings, stats: result.stats };
}
