import { oneLineSafe } from '../io/printable.js';
import { DEFAULT_BOOTSTRAP } from '../eval/froc.js';
import { EVAL_KINDS, SCAN_KIND, type EvalKind } from '../eval/cases.js';
import { runEval } from '../eval/evaluate.js';
import { CURVE_THRESHOLD, detectCases } from '../eval/detect-folder.js';
import { closeRunners } from '../inference/runner.js';
import { reportBlocks } from '../eval/table.js';
import { CtscopeError } from '../errors.js';
import { numberOption, parseCommandArgs, usageError, type Command } from './command.js';

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

export const evalCommand: Command = {
  name: 'eval',
  summary: 'score findings.json against truth.json the LUNA16 way (FROC, CPM)',
  usage: USAGE,
  async run(argv, io) {
    const options = { 'truth-root': { type: 'string' }, 'pred-root': { type: 'string' }, detect: { type: 'boolean' }, json: { type: 'boolean' }, kind: { type: 'string' }, threshold: { type: 'string' }, bootstrap: { type: 'string' }, quiet: { type: 'boolean', short: 'q' } } as const;
    const v = parseCommandArgs('eval', argv, options, false).values;
    if (!v['truth-root'] || !v['pred-root']) throw usageError('eval: --truth-root and --pred-root are required');
    if (v.kind !== undefined && !(EVAL_KINDS as readonly string[]).includes(v.kind)) throw usageError(`eval: --kind takes ${EVAL_KINDS.join(' or ')} (got '${v.kind}')`);
    // Any finite number: scores need not lie in [0, 1] (only their order makes the FROC curve).
    const threshold = numberOption('eval', 'threshold', v.threshold, {});
    const bootstrap = numberOption('eval', 'bootstrap', v.bootstrap, { integer: true, min: 0, max: 100_000 });
    const kinds = v.kind ? [v.kind as EvalKind] : EVAL_KINDS;
    if (v.detect) {
      try {
        await detectCases(v['truth-root'], v['pred-root'], kinds, {
          signal: io.signal,
          onCase: (id, o) => {
            if ('error' in o) io.err(`warning: ${oneLineSafe(id)}: skipped: ${o.error.code}: ${oneLineSafe(o.error.message)}`);
            else if (!v.quiet) io.err(`${oneLineSafe(id)}: ${o.findings} findings above ${CURVE_THRESHOLD} (${(o.ms / 1000).toFixed(1)} s)`);
          },
        });
      } finally {
        await closeRunners();
      }
    }
    const report = runEval(v['truth-root'], v['pred-root'], kinds, { threshold, bootstrap });
    // First, so that they are seen when they explain an empty result.
    for (const w of report.warnings) io.err(`warning: ${oneLineSafe(w)}`);
    if (Object.keys(report.kinds).length === 0 && Object.keys(report.withoutLesions).length === 0) {
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
    for (const block of reportBlocks(report, threshold === undefined ? 'the default threshold' : 'threshold')) io.out(block + '\n');
    return 0;
  },
};
