import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthToDirectory } from '../../src/synth/synthesize.js';

const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

let dir: string;
const run = (args: string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile(process.execPath, ['--expose-gc', RUN, ...args], { env: { ...process.env, CTSCOPE_THREADS: '2' } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
beforeAll(() => {
  if (!existsSync(RUN)) throw new Error('dist/bench/run.js missing: run `npx tsc -p .` before the bench tests');
  dir = mkdtempSync(join(tmpdir(), 'ctscope-bench-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench (dist/bench/run.js)', () => {
  it('runs the suites ctscope bench runs: preprocess --quick, table on stdout, result file written', async () => {
    const out = join(dir, 'pre.json');
    const r = await run(['--quick', '--stage', 'preprocess', '--out', out]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/preprocess\s+clip -1000\.\.400 and scale to 0\.\.1\s+[\d.]+/);
    const result = JSON.parse(readFileSync(out, 'utf8')) as { gc: boolean; rows: Array<{ name: string; throughput: number; vsMemcpy: number }> };
    expect(result.gc).toBe(true);
    expect(result.rows.map((x) => x.name)).toEqual(['clip -1000..400 and scale to 0..1', 'z-score above -500 HU']);
    for (const row of result.rows) {
      expect(row.throughput).toBeGreaterThan(1);
      expect(row.vsMemcpy).toBeGreaterThan(0);
    }
  }, 30_000);

  it('--check measures a flagged stage again before calling it a regression, and not a stage within its tolerance', async () => {
    // A small ele series in make-data.sh's layout; the header parse reads no pixels and fills no fresh memory, so
    // its row is checked on any machine.
    const data = join(dir, 'data');
    await synthToDirectory('chest', { seed: 4, rows: 64, cols: 64, slices: 8, spacing: [2.5, 2.5, 2.5], truth: false }, join(data, 'ele'));
    writeFileSync(join(data, 'ele', '.done'), '');
    const baselines = (ratio: number): string => {
      const f = join(dir, `base-${ratio}.json`);
      writeFileSync(f, JSON.stringify({ machine: 'test', tolerance: 2, entries: [{ stage: 'parse', name: 'parse ele', ratio, basis: 'scalar' }] }));
      return f;
    };
    const out = join(dir, 'parse.json');
    const rows = (): Array<{ name: string; rechecks?: number[] }> => (JSON.parse(readFileSync(out, 'utf8')) as { rows: Array<{ name: string; rechecks?: number[] }> }).rows;

    // No machine parses 8 headers in a billionth of the scalar loop: flagged, measured twice more, still a regression.
    const slow = await run(['--quick', '--stage', 'parse', '--data', data, '--out', out, '--check', baselines(1e-9)]);
    expect(slow.code).toBe(1);
    expect(slow.stderr).toMatch(/bench: parse again, 1 of 2 \(parse ele at [\d.]+x its baseline\)/);
    expect(slow.stderr).toMatch(/bench: parse again, 2 of 2 /);
    expect(slow.stdout).toMatch(/REGRESSION parse \/ parse ele: .*the best of 3 measurements, tolerance 2x/);
    expect(slow.stdout).toMatch(/parse \/ parse ele: [\d.]+x its baseline; measured again: [\d.]+x, [\d.]+x/);
    expect(rows()[0]!.rechecks).toHaveLength(2);

    // Within its tolerance: measured once.
    const fine = await run(['--quick', '--stage', 'parse', '--data', data, '--out', out, '--check', baselines(1e9)]);
    expect(fine.code).toBe(0);
    expect(fine.stderr).not.toMatch(/again/);
    expect(fine.stdout).toMatch(/no regression in 1 row\(s\) checked/);
    expect(rows()[0]!.rechecks).toBeUndefined();
  }, 60_000);
});
