import { decodeOutput, runModel } from '../inference/infer.js';
import { refineCandidates } from '../inference/refine.js';
import { getRunner } from '../inference/runner.js';
import type { StageContext } from './context.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';
import { dimsText, modelCase, modelCases } from './model-case.js';

/**
 * Sliding window of each bundled model over its phantom already on the model's grid (what detect feeds it,
 * body mask included), on the run's execution provider. Throughput is Mvox of the model grid per second;
 * the note gives the share of the time spent inside session.run. A model with a second stage gets a row
 * for it too: its candidates on that phantom cropped and re-scored (Mvox of crops per second).
 */
export async function benchInfer(ctx: StageContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of modelCases(ctx)) {
    const mc = await modelCase(ctx, c);
    const vox = mc.grid.data.length;
    let runMs = 0, wallMs = 0;
    const task: TaskSpec = {
      name: `${c.model} sliding window (${mc.runner.provider})`,
      fn: async () => {
        const out = await runModel(mc.grid, mc.pkg, { runner: mc.runner, mask: 'body' });
        runMs += out.stats.runMs;
        wallMs += out.stats.wallMs;
      },
      work: { amount: vox, unit: 'vox' },
    };
    const [row] = await measure('infer', [task], ctx.baselines, { iterations: ctx.quick ? 3 : 5 });
    row!.note = `${c.phantom} phantom, grid ${dimsText(mc.grid)}, session.run ${((100 * runMs) / wallMs).toFixed(0)} % of the time`;
    rows.push(row!);
    const spec = mc.pkg.manifest.refine, second = mc.pkg.refine;
    if (!spec || !second) continue;
    const candidates = decodeOutput(await mc.output(), mc.pkg.manifest);
    const runner = await getRunner(second, { ep: ctx.ep, deviceId: ctx.deviceId });
    const [refined] = await measure('infer', [{
      name: `${c.model} second stage (${runner.provider})`,
      fn: async () => void (await refineCandidates(mc.grid, candidates, second, spec, { runner })),
      work: { amount: candidates.length * spec.patchSize ** 3, unit: 'vox' },
    }], ctx.baselines, { iterations: ctx.quick ? 3 : 5 });
    refined!.note = `${candidates.length} candidates, ${spec.patchSize}^3 crops`;
    rows.push(refined!);
  }
  return rows;
}
