/**
 * `npm run bench [-- --stage <name>] [--json] [--quick]`: tinybench suites per stage, each row with its
 * median, spread, throughput, peak RSS and ratios to in-run baselines. Writes bench/results.json.
 * `--check FILE` fails (exit 1) when a row's baseline ratio grew past the file's tolerance; `--update FILE`
 * rewrites the committed baselines from this run (do that deliberately, after a change meant to move them).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { formatRows, machineInfo, measureBaselines, type Baselines, type BenchRow } from './harness.js';
import { findRegressions, toBaselines, type BaselineFile } from './baseline.js';
import { readFileSync } from 'node:fs';
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
      check: { type: 'string' },
      update: { type: 'string' },
      tolerance: { type: 'string' },
    },
  });
  const names = values.stage ?? Object.keys(STAGES);
  for (const n of names) if (!STAGES[n]) throw new Error(`unknown stage '${n}' (stages: ${Object.keys(STAGES).join(', ')})`);
  const baselines = await measureBaselines();
  const ctx: StageContext = { baselines, quick: values.quick, dataDir: values.data ?? join(root, 'bench', values.quick ? 'data-quick' : 'data') };
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
  const m = result.machine;
  if (values.update) {
    const file = toBaselines(rows, `${m.cpu}, ${m.cores} cores, ${m.node}`, values.tolerance ? Number(values.tolerance) : undefined);
    writeFileSync(values.update, JSON.stringify(file, null, 2) + '\n');
    process.stdout.write(`baselines written to ${values.update}\n`);
  }
  if (values.check) {
    const file = JSON.parse(readFileSync(values.check, 'utf8')) as BaselineFile;
    const tolerance = values.tolerance ? Number(values.tolerance) : file.tolerance;
    const bad = findRegressions(rows, file, tolerance);
    for (const r of rows) {
      const e = file.entries.find((x) => x.stage === r.stage && x.name === r.name);
      if (e && r.vsScalar !== undefined && e.basis === 'scalar') process.stdout.write(`  ${r.stage} / ${r.name}: ${(r.vsScalar / e.ratio).toFixed(2)}x its baseline\n`);
    }
    for (const r of bad) process.stdout.write(`REGRESSION ${r.stage} / ${r.name}: ratio ${r.now.toFixed(2)} vs baseline ${r.baseline.toFixed(2)} (${r.factor.toFixed(2)}x, tolerance ${tolerance}x)\n`);
    process.stdout.write(bad.length ? `${bad.length} regression(s) against ${values.check}\n` : `no regression against ${values.check} (tolerance ${tolerance}x)\n`);
    if (bad.length) process.exitCode = 1;
  }
}

await main();
