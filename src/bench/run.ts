/**
 * `npm run bench [-- --stage <name>]... [--json] [--quick] [--ep <provider>]`: tinybench suites per stage, each
 * row with its median, spread, throughput, peak RSS and ratios to in-run baselines. Writes bench/results.json.
 * `--check FILE` fails (exit 1) when a row's baseline ratio grew past the file's tolerance; `--update FILE`
 * rewrites the committed baselines from this run (do that deliberately, after a change meant to move them).
 * The same run is `ctscope bench`; the logic is in suite.ts and the stage table (STAGES) in stages.ts.
 */
import { runBench } from './suite.js';
import { parseBenchArgs } from '../cli/bench.js';
import { runEntry } from '../cli/entry.js';
import { BENCH_USAGE } from './usage.js';

runEntry('bench', `Usage: npm run bench -- ${BENCH_USAGE.slice('bench '.length)}`, (argv, signal) =>
  runBench(parseBenchArgs(argv), {
    out: (line) => process.stdout.write(line + '\n'),
    err: (line) => process.stderr.write(line + '\n'),
    signal,
  }),
);
