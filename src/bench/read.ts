import { readSource } from '../dicom/decode-task.js';
import type { StageContext } from './context.js';
import { seriesDirs, seriesFiles } from './data.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';

/** Raw read of every file of the generated series, one after another (page cache warm after the warm-up), MB/s. */
export async function benchRead(ctx: StageContext): Promise<BenchRow[]> {
  const tasks: TaskSpec[] = (await seriesDirs(ctx)).map(({ syntax, dir }) => {
    const { files, bytes } = seriesFiles(dir);
    return {
      name: `read ${syntax}`,
      fn: async () => {
        for (const f of files) await readSource(f);
      },
      work: { amount: bytes, unit: 'B' },
      bytes,
      note: `${files.length} files, ${(bytes / 1e6).toFixed(1)} MB`,
    };
  });
  return measure('read', tasks, ctx.baselines, { iterations: 10 });
}
