import { BENCH_USAGE } from '../bench/usage.js';
import { parseBenchArgs, runBench } from '../bench/suite.js';
import type { Command } from './command.js';

/** `ctscope bench`: the same run as `npm run bench` (src/bench/suite.ts). */
export const benchCommand: Command = {
  name: 'bench',
  summary: 'Benchmark each pipeline stage (median, spread, throughput, peak RSS, ratios to in-run baselines)',
  usage: BENCH_USAGE,
  async run(argv, io) {
    return runBench(parseBenchArgs(argv), { out: io.out, err: io.err, signal: io.signal });
  },
};
