/**
 * `npm run bench [-- --stage <name>] [--json] [--quick]`: tinybench suites per stage, each row with its
 * median, spread, throughput, peak RSS and ratios to in-run baselines. Writes bench/results.json.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatRows, machineInfo, measureBaselines, type Baselines, type BenchRow } from './harness.js';
import { benchIngest } from './ingest.js';
import { benchResample } from './resample.js';

const root = fileURLToPath(new URL('../../', import.meta.url));

interface StageContext {
  baselines: Baselines;
  quick: boolean;
  dataDir: string;
}

/** Stage name -> suite. Each suite prepares its own inputs. */
const STAGES: Record<string, (ctx: StageContext) => Promise<BenchRow[]>> = {
  ingest: async (ctx) => {
    ensureIngestData(ctx);
    return benchIngest(ctx.baselines, { dataDir: ctx.dataDir, quick: ctx.quick });
  },
  resample: (ctx) => benchResample(ctx.baselines, { quick: ctx.quick }),
};

function ensureIngestData(ctx: StageContext): void {
  if (existsSync(join(ctx.dataDir, 'ele', '.done'))) return;
  const script = join(root, 'native-bench', 'ingest', 'make-data.sh');
  execFileSync('bash', [script, ctx.dataDir, ctx.quick ? '100' : '300'], { stdio: 'inherit' });
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      stage: { type: 'string', multiple: true },
      json: { type: 'boolean', default: false },
      quick: { type: 'boolean', default: false },
      data: { type: 'string' },
      out: { type: 'string' },
    },
  });
  const names = values.stage ?? Object.keys(STAGES);
  for (const n of names) if (!STAGES[n]) throw new Error(`unknown stage '${n}' (stages: ${Object.keys(STAGES).join(', ')})`);
  const baselines = await measureBaselines();
  const ctx: StageContext = { baselines, quick: values.quick, dataDir: values.data ?? join(root, 'bench', 'data') };
  const rows: BenchRow[] = [];
  for (const n of names) rows.push(...(await STAGES[n]!(ctx)));
  const result = { machine: machineInfo(), baselines, rows };
  const out = values.out ?? join(root, 'bench', 'results.json');
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    const m = result.machine;
    process.stdout.write(`${m.cpu}, ${m.cores} cores, ${m.memGiB} GiB, ${m.node}; memcpy ${baselines.memcpyGBs.toFixed(1)} GB/s, scalar loop ${baselines.scalarMs.toFixed(1)} ms\n`);
    process.stdout.write(formatRows(rows) + '\n');
    process.stdout.write(`written ${out}\n`);
  }
}

await main();
