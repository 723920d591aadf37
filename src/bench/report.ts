import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeOutputs } from '../outputs/write.js';
import { detect } from '../pipeline/detect.js';
import { OUTPUT_NAMES } from '../outputs/document.js';
import type { StageContext } from './context.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';
import { modelCase, modelCases } from './model-case.js';

/**
 * Writing the outputs of a detect run (findings.json, sr.dcm, report.html and a key image per finding, each
 * atomically) into a temporary folder, through the same writer detect uses. The findings document and SR come
 * from one untimed detect on the phantom. Throughput is MB written per second.
 */
export async function benchReport(ctx: StageContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const root = mkdtempSync(join(tmpdir(), 'ctscope-bench-report-'));
  try {
    for (const c of modelCases(ctx)) {
      const mc = await modelCase(ctx, c);
      const { document, sr } = await detect(mc.phantomDir, { models: [c.model], ep: ctx.ep, deviceId: ctx.deviceId, sr: true });
      const dir = join(root, c.model);
      let files: string[] = [];
      let bytes = 0;
      const task: TaskSpec = {
        name: `${c.model} outputs (json, sr, report)`,
        setup: async () => {
          files = await writeOutputs(dir, document, mc.series, sr, OUTPUT_NAMES);
          bytes = files.reduce((s, f) => s + statSync(f).size, 0);
        },
        fn: () => writeOutputs(dir, document, mc.series, sr, OUTPUT_NAMES),
        get work() {
          return { amount: bytes, unit: 'B' as const };
        },
      };
      const [row] = await measure('report', [task], ctx.baselines, { iterations: ctx.quick ? 3 : 5 });
      row!.note = `${c.phantom} phantom, ${document.findings.length} finding(s), ${files.length} files`;
      rows.push(row!);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
