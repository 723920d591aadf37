import { execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeProvider } from '../../src/inference/providers.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function node(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, args, { maxBuffer: 16 << 20, env: { ...process.env, CTSCOPE_THREADS: '2' } }, (err, stdout, stderr) => {
      const code = err ? (err as { code?: unknown }).code : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(() => {
  if (!existsSync(CLI) || !existsSync(RUN)) throw new Error('dist/ missing: run `npx tsc -p .` before the bench tests');
  dir = mkdtempSync(join(tmpdir(), 'ctscope-bench-cli-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const ROW_FIELDS = ['stage', 'name', 'medianMs', 'minMs', 'p75Ms', 'maxMs', 'samples', 'peakRssMiB', 'vsScalar', 'throughput', 'throughputUnit', 'work'];

/** Runs node with `args`, sends `signal` `delayMs` after `line` appears on stderr; its exit code, stderr and ms after the signal. */
async function signalledAfter(args: string[], line: string, delayMs: number, signal: NodeJS.Signals, env: Record<string, string> = {}): Promise<{ code: number | null; stderr: string; ms: number }> {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
  await new Promise<void>((resolve) => child.stderr.on('data', () => stderr.includes(line) && resolve()));
  await new Promise((r) => setTimeout(r, delayMs));
  const t0 = Date.now();
  child.kill(signal);
  const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)));
  return { code, stderr, ms: Date.now() - t0 };
}

describe('ctscope bench', () => {
  it.each([
    ['ctscope bench', [CLI, 'bench']],
    // npm run bench: it died of the signal, leaving its temporary folders.
    ['npm run bench', [RUN]],
  ])('Ctrl-C stops %s within seconds with E_ABORTED and exit 130, writing no results and leaving no temporary folder', async (_name, entry) => {
    const out = join(dir, `aborted-${entry.length}.json`);
    const tmp = mkdtempSync(join(dir, 'tmp-'));
    // Interrupted once the first stage has begun (its data made, its tasks running).
    const { code, stderr, ms } = await signalledAfter([...entry, '--quick', '--stage', 'preprocess', '--out', out], 'bench: preprocess', 500, 'SIGINT', { TMPDIR: tmp });
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/error\[E_ABORTED\]: benchmark was aborted/);
    // Stopped by the abort itself, not by the CLI's 10 s grace timer. (Before, the first interrupt was only seen
    // after the whole stage, which then wrote its results and exited 0.)
    expect(stderr).not.toMatch(/did not stop within/);
    expect(ms).toBeLessThan(8000);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(tmp)).toEqual([]);
  }, 60_000);

  it('SIGTERM while a child makes data (the memory stage\'s series) stops the child and the run at once: E_ABORTED, 130', async () => {
    // The children ran synchronously: the signal waited for them, and their end by it was an internal error.
    const { code, stderr, ms } = await signalledAfter(['--expose-gc', RUN, '--quick', '--stage', 'memory', '--data', mkdtempSync(join(dir, 'mem-data-')), '--out', join(dir, 'mem.json')], 'bench: memory', 1000, 'SIGTERM');
    expect(code, stderr).toBe(130);
    expect(stderr).toMatch(/^error\[E_ABORTED\]: making the memory benchmark series was interrupted/m);
    expect(stderr).not.toMatch(/E_INTERNAL|did not stop within/);
    expect(ms).toBeLessThan(5000);
  }, 60_000);

  it('--stage postprocess --json prints rows with timings, throughput and ratios (phantom generated into --data)', async () => {
    const out = join(dir, 'results.json');
    const r = await node([CLI, 'bench', '--quick', '--stage', 'postprocess', '--json', '--data', join(dir, 'data'), '--out', out]);
    expect(r.stderr).not.toMatch(/error\[/);
    expect(r.code).toBe(0);
    const result = JSON.parse(r.stdout) as { gc: boolean; ep: string; baselines: { memcpyGBs: number; scalarMs: number }; rows: Array<Record<string, unknown>> };
    // Exposed at run time: the CLI is started without --expose-gc.
    expect(result.gc).toBe(true);
    expect(result.ep).toBe('cpu');
    expect(result.baselines.scalarMs).toBeGreaterThan(0);
    expect(result.rows.length).toBe(1);
    const row = result.rows[0]!;
    for (const f of ROW_FIELDS) expect(row, f).toHaveProperty(f);
    expect(row).toMatchObject({ stage: 'postprocess', name: 'nodule heatmap to findings', throughputUnit: 'Mvox/s' });
    const median = row.medianMs as number;
    expect(median).toBeGreaterThan(0);
    expect(row.minMs as number).toBeLessThanOrEqual(median);
    expect(row.maxMs as number).toBeGreaterThanOrEqual(median);
    expect(row.vsScalar as number).toBeCloseTo(median / result.baselines.scalarMs, 6);
    // The map is the chest phantom on the nodule model's 1.25 mm grid.
    expect((row.work as { amount: number }).amount).toBeGreaterThan(1e6);
    expect(row.note).toMatch(/chest phantom, map \d+x\d+x\d+, \d+ candidate\(s\) from the first stage's map/);
    expect(existsSync(join(dir, 'data', 'phantom-chest', '.done'))).toBe(true);
    expect(JSON.parse(readFileSync(out, 'utf8')).rows).toEqual(result.rows);
  }, 60_000);

  it('--check with no baseline for any row of the run fails (nothing was checked); a bad --out fails before measuring', async () => {
    const baselines = join(dir, 'only-ingest.json');
    writeFileSync(baselines, JSON.stringify({ machine: 'x', tolerance: 2, entries: [{ stage: 'ingest', name: 'nothing like it', ratio: 1, basis: 'scalar' }] }));
    const r = await node([CLI, 'bench', '--quick', '--stage', 'postprocess', '--data', join(dir, 'data'), '--out', join(dir, 'r2.json'), '--check', baselines]);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stdout).toMatch(/nothing checked: no row of this run has a baseline/);
    const t0 = performance.now();
    const bad = await node([CLI, 'bench', '--quick', '--stage', 'postprocess', '--data', join(dir, 'data'), '--out', dir]);
    expect(bad.code).toBe(4);
    expect(bad.stderr).toMatch(/^error\[E_OUTPUT\]: the result file \(--out\) is a folder/m);
    expect(performance.now() - t0).toBeLessThan(10_000);
    // A data folder that is a file: E_OUTPUT before the series are generated, not an internal error from the script.
    const dataFile = join(dir, 'data-file');
    writeFileSync(dataFile, 'x');
    const badData = await node([CLI, 'bench', '--quick', '--stage', 'ingest', '--data', dataFile, '--out', join(dir, 'r4.json')]);
    expect(badData.code, badData.stderr).toBe(4);
    expect(badData.stderr).toMatch(/^error\[E_OUTPUT\]: the data folder \(--data\) exists and is not a folder/m);
    writeFileSync(baselines, '{"garbage":1}');
    const shape = await node([CLI, 'bench', '--quick', '--stage', 'postprocess', '--data', join(dir, 'data'), '--out', join(dir, 'r3.json'), '--check', baselines]);
    expect(shape.stderr).toMatch(/^error\[E_BAD_INPUT\]: \S+: not a baselines file/m);
    expect(shape.code).toBe(3);
  }, 60_000);

  it.skipIf(process.platform === 'darwin')('an explicit provider that cannot load fails with one coded line before any work', async () => {
    // coreml exists only on macOS; cuda is checked too where this machine has no CUDA provider.
    const eps = ['coreml', ...((await probeProvider('cuda')).ok ? [] : ['cuda'])];
    for (const ep of eps) {
      const r = await node([CLI, 'bench', '--stage', 'postprocess', '--ep', ep, '--out', join(dir, 'never.json')]);
      expect(r.code, ep).toBe(4);
      const lines = r.stderr.trim().split('\n').filter((l) => !/^(Warning|\s+at )/.test(l));
      expect(lines, ep).toHaveLength(1);
      expect(lines[0]).toMatch(new RegExp(`^error\\[E_EP_UNAVAILABLE\\]: execution provider '${ep}' is unavailable`));
      expect(r.stdout).toBe('');
    }
    expect(existsSync(join(dir, 'never.json'))).toBe(false);
  });

  it('an unknown stage or flag is E_USAGE (exit 2), from the CLI and from npm run bench alike', async () => {
    for (const entry of [[CLI, 'bench'], [RUN]]) {
      const r = await node([...entry, '--stage', 'nope']);
      expect(r.code).toBe(2);
      expect(r.stderr.trim()).toMatch(/^error\[E_USAGE\]: bench: unknown stage 'nope' \(stages: read, parse, decode, .*detect/);
      const f = await node([...entry, '--ep', 'gpu']);
      expect(f.code).toBe(2);
      expect(f.stderr).toMatch(/^error\[E_USAGE\]: bench: --ep must be one of/);
    }
  });

});
