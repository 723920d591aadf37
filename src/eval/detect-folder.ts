/** Detection on case folders with `detect` itself, down to a low score floor for FROC curves. */
import { unlink } from 'node:fs/promises';
import { checkDetectOptions, detect } from '../pipeline/detect.js';
import { checkOutDir, ensureDir, ensureDirUndoable } from '../io/dirs.js';
import { writeFileAtomic } from '../io/atomic.js';
import { dirname, join } from 'node:path';
import { isCtscopeError, toCtscopeError, type CtscopeError } from '../errors.js';
import { listCases, scanCountsFor, scanKindOf, type EvalKind } from './cases.js';

/** Scores kept for the FROC curve: far below any operating threshold. */
export const CURVE_THRESHOLD = 0.02;
/**
 * First seed of the reported evaluation. Training used the seeds below; the validation seeds chose between model
 * versions and set the operating thresholds, so the report starts at seeds neither has seen.
 */
export const EVAL_SEED = 5050;
/**
 * Phantoms of each kind in the reported evaluation (seeds 5050-5099): 20 (5050-5069) until session 16, whose
 * bootstrap intervals were about +-0.13 wide in CPM; 50 narrow them to about +-0.08.
 */
export const EVAL_COUNT = 50;

/**
 * Seeds that trained the bundled models or their predecessors, inclusive ranges: 1000-1359 and 2000-2239 the
 * models up to 0.4.1 (first and second stages), 10000-11599 nodule 0.5.0, 20000-21599 aneurysm 0.5.0, 22000-22119
 * the fine-tuning of aneurysm 0.6.0's second stage.
 */
export const TRAINING_SEEDS: readonly SeedRange[] = [[1000, 1359], [2000, 2239], [10000, 11599], [20000, 21599], [22000, 22119]];
/** Seeds of the phantoms that chose the bundled models and their thresholds (models/README.md, Seeds). */
export const VALIDATION_SEEDS: readonly SeedRange[] = [[5000, 5019], [5100, 5119]];

export type SeedRange = readonly [number, number];

/** The ranges that seeds from..from+count-1 overlap. */
function overlapping(ranges: readonly SeedRange[], from: number, count: number): SeedRange[] {
  return count > 0 ? ranges.filter(([lo, hi]) => from <= hi && from + count - 1 >= lo) : [];
}

/** The training seed ranges that seeds from..from+count-1 overlap (an evaluation there is not held out). */
export function trainingOverlap(from: number, count: number): SeedRange[] {
  return overlapping(TRAINING_SEEDS, from, count);
}

/** The validation seed ranges that seeds from..from+count-1 overlap (the models were chosen on those). */
export function validationOverlap(from: number, count: number): SeedRange[] {
  return overlapping(VALIDATION_SEEDS, from, count);
}

export interface CaseDetection {
  findings: { kind: string; model: string; score: number; centerLps: number[]; diameterMm: number }[];
  /** The series the models ran on, so `eval` can tell a prediction root of other scans (as for detect's findings.json). */
  seriesInstanceUid: string;
  ms: number;
}

/**
 * Runs models (ids or package folders) on one DICOM folder through `detect`, keeping every finding down to `floor`
 * (the curve needs low scores too; null: each model's own threshold and finding cap, as `detect` reports).
 */
export async function detectFolder(dir: string, models: readonly string[], floor: number | null = CURVE_THRESHOLD, signal?: AbortSignal): Promise<CaseDetection> {
  const t0 = performance.now();
  const { document } = await detect(dir, { models, ...(floor !== null ? { scoreFloor: floor } : {}), signal });
  const findings = document.findings.map((f) => ({ kind: f.kind, model: f.model, score: f.score, centerLps: [...f.centerLps], diameterMm: f.diameterMm }));
  return { findings, seriesInstanceUid: document.series.seriesInstanceUid, ms: performance.now() - t0 };
}

/**
 * A case's findings.json under a prediction root, in the shape `ctscope eval` reads, written atomically; with the
 * series it came from (`series.seriesInstanceUid`, as `detect` writes it) where known.
 */
export async function writeCasePredictions(predRoot: string, id: string, findings: CaseDetection['findings'], signal?: AbortSignal, seriesInstanceUid?: string): Promise<void> {
  await ensureDir(join(predRoot, id)).catch((e: unknown) => {
    throw toCtscopeError(e, 'E_OUTPUT', 'cannot make the case folder', join(predRoot, id));
  });
  const doc = seriesInstanceUid ? { series: { seriesInstanceUid }, findings } : { findings };
  await writeFileAtomic(join(predRoot, id, 'findings.json'), JSON.stringify(doc, null, 1) + '\n', signal);
}

export interface DetectCasesOptions {
  signal?: AbortSignal;
  /** Called after each case: its findings above the curve's floor, or the coded error that skipped it. */
  onCase?: (id: string, outcome: { findings: number; ms: number } | { error: CtscopeError }) => void;
}

/**
 * Runs each kind's model on the DICOM series of every case folder under truthRoot (beside its truth.json) and
 * writes <predRoot>/<case>/findings.json with every finding down to CURVE_THRESHOLD. A truth.json that names its
 * scan kind (chest, cta) gets only that kind's model. A case whose series cannot be read is reported through
 * onCase and left without findings.json (runEval then scores it as a scan with no findings and lists it).
 */
export async function detectCases(truthRoot: string, predRoot: string, kinds: readonly EvalKind[], options: DetectCasesOptions = {}): Promise<void> {
  // A prediction root that cannot take files is E_OUTPUT before the first case, not a raw error after it.
  await checkOutDir(predRoot, 'the prediction root (--pred-root)');
  // A missing or broken model fails here, not once per case.
  await checkDetectOptions({ models: kinds, ...(options.signal ? { signal: options.signal } : {}) });
  const undo = await ensureDirUndoable(predRoot);
  try {
    for (const c of listCases(truthRoot, predRoot)) {
      const scan = scanKindOf(c.truthFile);
      // Each kind's model is found as `detect --model <kind>` finds it ($CTSCOPE_MODELS, then bundled).
      const models = kinds.filter((k) => scanCountsFor(scan, k));
      if (models.length === 0) continue;
      try {
        const det = await detectFolder(dirname(c.truthFile), models, CURVE_THRESHOLD, options.signal);
        await writeCasePredictions(predRoot, c.id, det.findings, options.signal, det.seriesInstanceUid);
        options.onCase?.(c.id, { findings: det.findings.length, ms: det.ms });
      } catch (e) {
        if (!isCtscopeError(e) || e.code === 'E_ABORTED' || options.signal?.aborted) throw e;
        // An earlier run's findings for this case must not be scored as this run's: without one the case is a scan
        // without findings, as the skip says.
        if (c.predFile) await unlink(c.predFile).catch(() => undefined);
        options.onCase?.(c.id, { error: e });
      }
    }
  } catch (e) {
    // A run that fails or is aborted before its first case leaves no empty folders of its own making.
    await undo();
    throw e;
  }
}
