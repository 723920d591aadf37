import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadModel } from '../inference/model.js';
import { getRunner } from '../inference/runner.js';
import { loadSeries } from '../ingest/load.js';
import { detect } from '../pipeline/detect.js';
import type { StageContext } from './context.js';
import { ensurePhantom } from './data.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';
import { modelCases } from './model-case.js';

/**
 * End-to-end library detect on a generated phantom, as `ctscope detect --out` runs it: load, resample to the
 * model's grid, sliding window, decoding and every output file. Throughput is Mvox of the series per second.
 * The model session is created before timing, so rows are the steady state of a host that keeps it.
 */
export async function benchDetect(ctx: StageContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const root = mkdtempSync(join(tmpdir(), 'ctscope-bench-detect-'));
  try {
    for (const c of modelCases(ctx)) {
      const dir = await ensurePhantom(ctx, c.phantom);
      const series = await loadSeries(dir);
      const vox = series.data.length;
      const dims = series.geometry.dims.join('x');
      // The shared session detect will use; rows are named after the provider that runs.
      const { provider } = await getRunner(loadModel(c.model), { ep: ctx.ep, deviceId: ctx.deviceId });
      let findings = 0;
      const out = join(root, c.model);
      const task: TaskSpec = {
        name: `${c.phantom} phantom, ${c.model} (${provider})`,
        fn: async () => {
          const r = await detect(dir, { models: [c.model], ep: ctx.ep, deviceId: ctx.deviceId, outDir: out });
          findings = r.document.findings.length;
        },
        work: { amount: vox, unit: 'vox' },
      };
      const [row] = await measure('detect', [task], ctx.baselines, { iterations: 3 });
      row!.note = `series ${dims}, ${findings} finding(s)`;
      rows.push(row!);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
