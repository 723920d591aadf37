import { decodeOutput } from '../inference/infer.js';
import { toFinding } from '../inference/findings.js';
import type { StageContext } from './context.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';
import { dimsText, modelCase, modelCases } from './model-case.js';

/**
 * Decoding of a model's output: the heatmap it produced on its phantom (run once, untimed) to peaks, regions
 * and findings mapped back to the original series, as detect does it. Throughput is Mvox of map per second.
 */
export async function benchPostprocess(ctx: StageContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  for (const c of modelCases(ctx)) {
    const mc = await modelCase(ctx, c);
    const out = await mc.output();
    const m = mc.pkg.manifest;
    const label = m.labels[out.kind === 'boxes' ? 0 : Math.min(m.output.channel, m.labels.length - 1)] ?? m.task;
    let found = 0;
    const task: TaskSpec = {
      name: `${c.model} ${out.kind} to findings`,
      fn: () => {
        found = decodeOutput(out, m).map((cand) => toFinding(cand, out.geometry, mc.series, m.task, label)).length;
      },
      ...(out.kind !== 'boxes' ? { work: { amount: out.map.length, unit: 'vox' as const } } : {}),
    };
    const [row] = await measure('postprocess', [task], ctx.baselines, { iterations: 10 });
    row!.note = `${c.phantom} phantom, map ${dimsText(mc.grid)}, ${found} candidate(s) from the first stage's map`;
    rows.push(row!);
  }
  return rows;
}
