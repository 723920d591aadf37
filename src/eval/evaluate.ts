import { join } from 'node:path';
import { froc, TASK_EVAL, type FrocResult } from './froc.js';
import { EVAL_KINDS, isDetectDocument, listCases, loadCases, SCAN_KIND, scanKindOf, type EvalKind } from './cases.js';
import { readManifest } from '../inference/manifest.js';
import { CtscopeError, isCtscopeError } from '../errors.js';
import { resolveModelDir } from '../inference/model.js';

/** The default score threshold of the model that `--model <kind>` loads (found as detect finds it: $CTSCOPE_MODELS, then bundled), else 0.5. */
export function defaultThreshold(kind: EvalKind): number {
  let dir: string;
  try {
    dir = resolveModelDir(kind);
  } catch (e) {
    if (isCtscopeError(e) && e.code === 'E_NOT_FOUND') return 0.5;
    throw e;
  }
  return readManifest(join(dir, 'manifest.json')).thresholds.score;
}

export interface EvalReport {
  kinds: Partial<Record<EvalKind, FrocResult>>;
  /** Cases with a truth.json but no findings.json under the prediction root (scored as no findings). */
  missingPredictions: string[];
  /**
   * What was left out or may skew the figures, said rather than dropped silently: folders without truth.json,
   * kinds eval does not score, a kind with no lesions at all, findings cut at a model's threshold.
   */
  warnings: string[];
  /** Kinds whose scans hold no lesion at all: no sensitivity or CPM exists, only their false positives. */
  withoutLesions: Partial<Record<EvalKind, { scans: number; threshold: number; fpPerScan: number }>>;
}

export interface EvalOptions {
  /** Operating threshold; default: each kind's model's (defaultThreshold). */
  threshold?: number;
  /** Score only these cases. */
  onlyCases?: readonly string[];
  /** Bootstrap resamples for the intervals (default DEFAULT_BOOTSTRAP; 0: none). */
  bootstrap?: number;
}

/**
 * FROC per lesion kind over the cases under truthRoot. A case without findings.json is scored as a scan with no
 * findings and listed in `missingPredictions`; when no case has one, the prediction root is the wrong folder
 * (E_NOT_FOUND).
 */
export function runEval(truthRoot: string, predRoot: string, kinds: readonly EvalKind[], options: EvalOptions = {}): EvalReport {
  const { threshold, onlyCases, bootstrap } = options;
  const ignored: string[] = [];
  const files = listCases(truthRoot, predRoot, ignored).filter((f) => !onlyCases || onlyCases.includes(f.id));
  const missingPredictions = files.filter((f) => !f.predFile).map((f) => f.id);
  if (missingPredictions.length === files.length) {
    throw new CtscopeError('E_NOT_FOUND', `none of the ${files.length} case(s) has a findings.json under the prediction root (expected <pred-root>/<case>/findings.json)`, { where: predRoot });
  }
  const warnings: string[] = [];
  const some = (xs: readonly string[]): string => `${xs.slice(0, 5).join(', ')}${xs.length > 5 ? ', ...' : ''}`;
  if (ignored.length && !onlyCases) warnings.push(`${ignored.length} folder(s) under the truth root hold no truth.json and are not scored (case folders are <truth-root>/<case>/truth.json): ${some(ignored)}`);
  // A detect document (it names its models) holds only what passed each model's threshold: the curve past that is cut.
  const cut = files.filter((f) => f.predFile && isDetectDocument(f.predFile)).map((f) => f.id);
  if (cut.length) warnings.push(`${cut.length} findings.json file(s) were written by detect, which keeps only findings over each model's threshold, so the FROC curve past that point is cut short (eval --detect or detect's scoreFloor keep them): ${some(cut)}`);
  const unknown = new Map<string, Set<string>>();
  const onUnknown = (file: string, k: string): void => void (unknown.get(k) ?? unknown.set(k, new Set()).get(k)!).add(file);
  const report: EvalReport = { kinds: {}, missingPredictions, warnings, withoutLesions: {} };
  for (const kind of kinds) {
    const cases = loadCases(files, kind, onUnknown);
    if (cases.length === 0) continue;
    const t = threshold ?? defaultThreshold(kind);
    if (cases.every((c) => c.truths.length === 0)) {
      // Truth files without `kind` count as scans of every kind: where none names this kind's scans, the kind is not
      // in the set (an aneurysm set got a nodule CPM of 0.000). Where some do, there is no sensitivity to give.
      if (files.some((f) => scanKindOf(f.truthFile) === SCAN_KIND[kind])) {
        const fps = cases.reduce((n, c) => n + c.findings.filter((f) => f.score >= t).length, 0);
        report.withoutLesions[kind] = { scans: cases.length, threshold: t, fpPerScan: fps / cases.length };
      }
      continue;
    }
    report.kinds[kind] = froc(cases, { ...TASK_EVAL[kind], threshold: t, bootstrap });
  }
  for (const [k, where] of unknown) warnings.push(`lesions or findings of kind '${k}' are not scored (eval scores ${EVAL_KINDS.join(' and ')}): in ${where.size} file(s), such as ${[...where][0]}`);
  return report;
}
