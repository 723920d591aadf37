import { join } from 'node:path';
import { froc, TASK_EVAL, type FrocResult } from './froc.js';
import { detectScoreFloor, listCases, loadCases, SCAN_KIND, scanCountsFor, scanKindOf, type EvalKind } from './cases.js';
import { CURVE_THRESHOLD } from './detect-folder.js';
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
  // A detect document holds only what passed each model's threshold: the curve past that is cut. Only the cases of
  // the asked kinds are read (a broken file of the other kind's scans must not fail this run).
  const asked = files.filter((f) => {
    const scan = scanKindOf(f.truthFile);
    return kinds.some((k) => scanCountsFor(scan, k));
  });
  const cut = asked.filter((f) => {
    const floor = f.predFile ? detectScoreFloor(f.predFile) : undefined;
    return floor === null || (floor !== undefined && floor > CURVE_THRESHOLD);
  });
  if (cut.length) warnings.push(`${cut.length} findings.json file(s) were written by detect, which kept only findings over each model's threshold, so the FROC curve past that point is cut short (eval --detect, or detect's scoreFloor, keeps them): ${some(cut.map((f) => f.id))}`);
  const unknown = new Map<string, Set<string>>();
  const onUnknown = (file: string, why: string): void => void (unknown.get(why) ?? unknown.set(why, new Set()).get(why)!).add(file);
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
  for (const [why, where] of unknown) warnings.push(`${why}: in ${where.size} file(s), such as ${[...where][0]}`);
  return report;
}
