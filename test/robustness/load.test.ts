import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';

const SCRIPT = fileURLToPath(new URL('./concurrent-load.mjs', import.meta.url));

interface LoadResult {
  baseMiB: number;
  sequentialPeakMiB: number;
  concurrentBaseMiB: number;
  concurrentPeakMiB: number;
  maxWorking: number;
  sequential: unknown[];
  concurrent: Array<{ i: number; findings: unknown }>;
}

let series: string[] = [], model: string;
beforeAll(async () => {
  // Four different series of 320 x 320 x 120 (24 MiB of HU each), so a run's memory stands out.
  for (const seed of [11, 12, 13, 14]) series.push((await smallPhantom('chest', { rows: 320, cols: 320, slices: 120, spacing: [1.1, 1.1, 2.5], seed })).dir);
  model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 3 });
}, 120_000);

describe('20 concurrent detect calls in one process', () => {
  it('give the same findings as sequential runs, with memory bounded by the admission limit', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--expose-gc', SCRIPT, JSON.stringify({ series, model, copies: 5, limit: 2 })], { maxBuffer: 1 << 24 });
    const r = JSON.parse(stdout) as LoadResult;
    expect(r.concurrent).toHaveLength(20);
    for (const c of r.concurrent) expect(c.findings).toEqual(r.sequential[c.i]);
    const oneRun = r.sequentialPeakMiB - r.baseMiB;
    const twenty = r.concurrentPeakMiB - r.concurrentBaseMiB;
    console.log(`peak RSS growth: one run at a time ${oneRun.toFixed(0)} MiB, 20 started at once ${twenty.toFixed(0)} MiB`);
    // The admission limit holds: two runs working at once (20 without it). A finished run's promise settles a few
    // microtasks after admission has handed its slot on, so the count seen from outside may briefly read 3.
    expect(r.maxWorking).toBeGreaterThanOrEqual(2);
    expect(r.maxWorking).toBeLessThanOrEqual(3);
    // Peak RSS depends on when the collector runs (one run's growth read 70-170 MiB here, two at a time 90-390 MiB),
    // so the memory bound is what unbounded runs could not meet: less than the twenty series volumes themselves
    // (each 320 x 320 x 120 int16, 23.4 MiB); with no limit, 20 runs at once grew 527 MiB.
    expect(twenty).toBeLessThan(20 * 23.4);
  }, 180_000);
});
