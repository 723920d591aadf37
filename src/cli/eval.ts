import { join } from 'node:path';
import { oneLineSafe } from '../io/printable.js';
import { decimal } from '../io/decimal.js';
import { DEFAULT_BOOTSTRAP, froc, TASK_EVAL, type FrocResult } from '../eval/froc.js';
import { EVAL_KINDS, SCAN_KIND, listCases, loadCases, scanKindOf, type EvalKind } from '../eval/cases.js';
import { CURVE_THRESHOLD, detectCases } from '../eval/detect-folder.js';
import { closeRunners } from '../inference/runner.js';
import { frocTable } from '../eval/table.js';
import { readManifest } from '../inference/manifest.js';
import { CtscopeError, isCtscopeError } from '../errors.js';
import { resolveModelDir } from '../inference/model.js';
import { parseCommandArgs, usageError, type Command } from './command.js';

const USAGE = `eval --truth-root A --pred-root B [--detect] [--json] [--kind nodule|aneurysm] [--threshold T] [--bootstrap N] [--quiet]

  --truth-root DIR   case folders, each with truth.json (as written by ctscope synth)
  --pred-root DIR    case folders of the same names, each with findings.json (as written by ctscope detect)
  --detect           first run the models (nodule, aneurysm; found as detect --model finds them) on
                     the DICOM series in each case folder, down to score ${CURVE_THRESHOLD} for the whole
                     curve, writing <pred-root>/<case>/findings.json: to score phantoms from elsewhere
  --json             print the results as JSON
  --kind K           evaluate only nodules or only aneurysms (default: every kind with scans)
  --threshold T      operating threshold for the per-size/type table and FP/scan
                     (default: the model's thresholds.score, found like --model
                     <kind>: $CTSCOPE_MODELS, then bundled; else 0.5)
  --bootstrap N      resamples of the scans for the 95 % intervals of CPM and of each
                     sensitivity (default ${DEFAULT_BOOTSTRAP}; 0: none)
  --quiet, -q        no per-case lines from --detect (skipped cases and warnings still go to stderr)

FROC the LUNA16 way: a finding hits a lesion within its radius (aneurysms: at least 2 mm); each lesion
counts once; sensitivity at 1/8..8 false positives per scan and their mean (CPM).`;

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

export const evalCommand: Command = {
  name: 'eval',
  summary: 'FROC evaluation of findings.json against truth.json (LUNA16 style)',
  usage: USAGE,
  async run(argv, io) {
    const options = { 'truth-root': { type: 'string' }, 'pred-root': { type: 'string' }, detect: { type: 'boolean' }, json: { type: 'boolean' }, kind: { type: 'string' }, threshold: { type: 'string' }, bootstrap: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } } as const;
    const v = parseCommandArgs('eval', argv, options, false).values;
    if (!v['truth-root'] || !v['pred-root']) throw usageError('eval: --truth-root and --pred-root are required');
    if (v.kind !== undefined && !(EVAL_KINDS as readonly string[]).includes(v.kind)) throw usageError(`eval: --kind takes ${EVAL_KINDS.join(' or ')} (got '${v.kind}')`);
    let threshold: number | undefined;
    if (v.threshold !== undefined) {
      threshold = decimal(v.threshold);
      if (!(threshold >= 0 && threshold <= 1)) throw usageError(`eval: --threshold takes a number in [0, 1] (got '${v.threshold}')`);
    }
    let bootstrap: number | undefined;
    if (v.bootstrap !== undefined) {
      bootstrap = decimal(v.bootstrap);
      if (!(Number.isInteger(bootstrap) && bootstrap >= 0 && bootstrap <= 100_000)) throw usageError(`eval: --bootstrap takes a whole number in [0, 100000] (got '${v.bootstrap}')`);
    }
    const kinds = v.kind ? [v.kind as EvalKind] : EVAL_KINDS;
    if (v.detect) {
      try {
        await detectCases(v['truth-root'], v['pred-root'], kinds, {
          signal: io.signal,
          onCase: (id, o) => {
            if ('error' in o) io.err(`${oneLineSafe(id)}: skipped: ${o.error.code}: ${oneLineSafe(o.error.message)}`);
            else if (!v.quiet) io.err(`${oneLineSafe(id)}: ${o.findings} findings above ${CURVE_THRESHOLD} (${(o.ms / 1000).toFixed(1)} s)`);
          },
        });
      } finally {
        await closeRunners();
      }
    }
    const report = runEval(v['truth-root'], v['pred-root'], kinds, { threshold, bootstrap });
    if (Object.keys(report.kinds).length === 0) {
      throw new CtscopeError('E_NOT_FOUND', `no ${v.kind ? `${SCAN_KIND[v.kind as EvalKind]} ` : ''}scans to evaluate under the truth root`, { where: v['truth-root'] });
    }
    if (report.missingPredictions.length > 0) {
      const some = report.missingPredictions.slice(0, 5).map(oneLineSafe).join(', ');
      io.err(`warning: ${report.missingPredictions.length} case(s) without findings.json, scored as no findings: ${some}${report.missingPredictions.length > 5 ? ', ...' : ''}`);
    }
    if (v.json) {
      io.out(JSON.stringify(report, (_k, x) => (x === Infinity ? null : x), 2));
      return 0;
    }
    for (const [kind, r] of Object.entries(report.kinds)) io.out(frocTable(kind, r) + '\n');
    return 0;
  },
};
