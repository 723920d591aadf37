import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadSeries } from '../ingest/load.js';
import { closePool } from '../workers/pool.js';
import { QUICK_SYNTAXES, SYNTAXES } from './data.js';
import { measure, type Baselines, type BenchRow, type TaskSpec } from './harness.js';

/**
 * In-process load of the generated 300 x 512 x 512 series to HU, per transfer syntax, with 1 worker and with
 * every core: the 1-vs-N ratio shows the decode workers scale.
 */
export async function benchIngest(baselines: Baselines, options: { dataDir: string; quick: boolean }): Promise<BenchRow[]> {
  const tasks: TaskSpec[] = [];
  for (const syntax of options.quick ? QUICK_SYNTAXES : SYNTAXES) {
    const dir = join(options.dataDir, syntax);
    if (!existsSync(join(dir, '.done'))) continue;
    for (const threads of [1, undefined]) {
      let vox = 0;
      tasks.push({
        name: `load ${syntax}${threads === 1 ? ' (1 worker)' : ''}`,
        freshMemory: true,
        setup: async () => {
          const v = await loadSeries(dir, threads === undefined ? {} : { threads });
          vox = v.data.length;
        },
        fn: async () => {
          await loadSeries(dir, threads === undefined ? {} : { threads });
        },
        get work() {
          return { amount: vox, unit: 'vox' as const };
        },
        get bytes() {
          return vox * 2;
        },
      });
    }
  }
  const rows = await measure('ingest', tasks, baselines, { iterations: options.quick ? 3 : 5 });
  await closePool();
  return rows;
}
