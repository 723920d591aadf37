import { readHeader } from '../dicom/parse.js';
import type { StageContext } from './context.js';
import { seriesDirs, seriesFiles } from './data.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';

/**
 * Header parse of every file as the indexer does it (readHeader reads up to the pixel data), one file after
 * another. Throughput is MB of whole files per second; the note gives files per second.
 */
export async function benchParse(ctx: StageContext): Promise<BenchRow[]> {
  const counts: number[] = [];
  const tasks: TaskSpec[] = (await seriesDirs(ctx)).map(({ syntax, dir }) => {
    const { files, bytes } = seriesFiles(dir);
    counts.push(files.length);
    return {
      name: `parse ${syntax}`,
      fn: async () => {
        for (const f of files) await readHeader(f);
      },
      work: { amount: bytes, unit: 'B' },
    };
  });
  const rows = await measure('parse', tasks, ctx.baselines, { iterations: 10 });
  rows.forEach((r, i) => (r.note = `${counts[i]} files, ${Math.round(counts[i]! / (r.medianMs / 1000))} files/s`));
  return rows;
}
