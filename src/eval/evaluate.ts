import { join } from 'node:path';
import { froc, TASK_EVAL, type FrocResult } from './froc.js';
import { listCases, loadCases, SCAN_KIND, scanKindOf, type EvalKind } from './cases.js';
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
  const files = listCases(truthRoot, predRoot).filter((f) => !onlyCases || onlyCases.includes(f.id));
  const missingPredictions = files.filter((f) => !f.predFile).map((f) => f.id);
  if (missingPredictions.length === files.length) {
    throw new CtscopeError('E_NOT_FOUND', `none of the ${files.length} case(s) has a findings.json under the prediction root (expected <pred-root>/<case>/findings.json)`, { where: predRoot });
  }
  const report: EvalReport = { kinds: {}, missingPredictions };
  for (const kind of kinds) {
    const cases = loadCases(files, kind);
    if (cases.length === 0) continue;
    // Truth files without `kind` count as scans of every kind: where none names this kind's scans and none holds
    // its lesions, the kind is not in the set (an aneurysm set got a nodule CPM of 0.000), so it is left out.
    if (cases.every((c) => c.truths.length === 0) && !files.some((f) => scanKindOf(f.truthFile) === SCAN_KIND[kind])) continue;
    report.kinds[kind] = froc(cases, { ...TASK_EVAL[kind], threshold: threshold ?? defaultThreshold(kind), bootstrap });
  }
  return report;
}
