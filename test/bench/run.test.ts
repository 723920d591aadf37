import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const RUN = fileURLToPath(new URL('../../dist/bench/run.js', import.meta.url));

let dir: string;
beforeAll(() => {
  if (!existsSync(RUN)) throw new Error('dist/bench/run.js missing: run `npx tsc -p .` before the bench tests');
  dir = mkdtempSync(join(tmpdir(), 'ctscope-bench-run-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run bench (dist/bench/run.js)', () => {
  it('runs the suites ctscope bench runs: preprocess --quick, table on stdout, result file written', async () => {
    const out = join(dir, 'pre.json');
    const r = await new Promise<{ code: number; stdout: string }>((resolve) =>
      execFile(process.execPath, ['--expose-gc', RUN, '--quick', '--stage', 'preprocess', '--out', out], { env: { ...process.env, CTSCOPE_THREADS: '2' } }, (err, stdout) =>
        resolve({ code: err ? Number((err as { code?: unknown }).code ?? 1) : 0, stdout }),
      ),
    );
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
});
