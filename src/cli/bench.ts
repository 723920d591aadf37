import { BENCH_USAGE } from '../bench/usage.js';
import { runBench, type BenchOptions } from '../bench/suite.js';
import { parseEpRequest } from '../inference/providers.js';
import { numberOption, parseCommandArgs, usageError, type Command } from './command.js';

/** `ctscope bench`: the same run as `npm run bench` (src/bench/suite.ts). */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'benchmark each pipeline stage (median, spread, throughput, peak RSS, ratios to in-run baselines)',
  usage: BENCH_USAGE,
  async run(argv, io) {
    return runBench(parseBenchArgs(argv), { out: io.out, err: io.err, signal: io.signal });
  },
};

/** argv (after the command name) to options; bad flags and unknown stages are E_USAGE. */
export function parseBenchArgs(argv: string[]): BenchOptions {
  const { values } = parseCommandArgs('bench', argv, {
    stage: { type: 'string', multiple: true },
    json: { type: 'boolean' },
    quick: { type: 'boolean' },
    ep: { type: 'string' },
    device: { type: 'string' },
    data: { type: 'string' },
    out: { type: 'string' },
    check: { type: 'string' },
    update: { type: 'string' },
    tolerance: { type: 'string' },
  } as const, false);
  // Either compare with the committed ratios or write new ones: both at once would check against a file it then moves.
  if (values.check !== undefined && values.update !== undefined) throw usageError('bench: --check and --update go one at a time (check against the baselines, or write new ones)');
  const o: BenchOptions = {};
  if (values.stage) {
    o.stages = values.stage.flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
    // An empty value is a mistake, not "every stage" (which is the default when --stage is left out): that run takes minutes.
    if (o.stages.length === 0) throw usageError('bench: --stage needs a stage name (or leave it out for every stage)');
  }
  if (values.quick) o.quick = true;
  if (values.json) o.json = true;
  if (values.ep !== undefined) o.ep = parseEpRequest(values.ep);
  const device = numberOption('bench', 'device', values.device, { integer: true, min: 0 });
  if (device !== undefined) o.deviceId = device;
  if (values.data !== undefined) o.dataDir = values.data;
  if (values.out !== undefined) o.out = values.out;
  if (values.check !== undefined) o.check = values.check;
  if (values.update !== undefined) o.update = values.update;
  const tolerance = numberOption('bench', 'tolerance', values.tolerance, { positive: true });
  if (tolerance !== undefined) o.tolerance = tolerance;
  return o;
}
