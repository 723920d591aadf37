/**
 * `npm run eval`: held-out phantoms (seeds never used in training) -> detection with the bundled models ->
 * FROC table. Also runs the models on any other DICOM folders given with --extra (e.g. real CT series, to
 * count false positives where nothing is marked).
 *
 *   node dist/eval/run.js [--chest N] [--cta N] [--seed S] [--rows R] [--work DIR] [--keep] [--json]
 *                         [--extra DIR ...]
 */
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { ensureDir } from '../io/dirs.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkDetectOptions } from '../pipeline/detect.js';
import { synthToDirectory } from '../synth/synthesize.js';
import type { SynthKind } from '../synth/options.js';
import { runEval } from './evaluate.js';
import { numberOption, parseCommandArgs } from '../cli/command.js';
import { runEntry } from '../cli/entry.js';
import { reportBlocks } from './table.js';
import { median } from '../io/stats.js';
import { oneLineSafe } from '../io/printable.js';
import { CURVE_THRESHOLD, detectFolder, EVAL_COUNT, writeCasePredictions, EVAL_SEED, type SeedRange, TRAINING_SEEDS, trainingOverlap, VALIDATION_SEEDS, validationOverlap } from './detect-folder.js';

/** A phantom of an earlier run in --work is reused only at the asked matrix size. */
function reusable(truthFile: string, rows: number): boolean {
  if (!existsSync(truthFile)) return false;
  try {
    const dims = (JSON.parse(readFileSync(truthFile, 'utf8')) as { series?: { dims?: number[] } }).series?.dims;
    return dims?.[0] === rows && dims[1] === rows;
  } catch {
    return false;
  }
}

const USAGE = `Usage: npm run eval -- [--chest N] [--cta N] [--seed S] [--rows R] [--work DIR] [--keep] [--json] [--extra DIR ...]

Generates held-out phantoms (seeds from ${EVAL_SEED}, never used in training or validation), runs the bundled nodule
and aneurysm models on them through detect, and prints the FROC tables.
  --chest N, --cta N   phantoms of each kind (default ${EVAL_COUNT})
  --seed S             first seed (default ${EVAL_SEED}; seeds that overlap training or validation get a warning)
  --rows R             matrix size, rows and columns (default 320)
  --work DIR           keep the phantoms and predictions here, reusing the phantoms of an earlier run (default: a
                       temporary folder, removed at the end unless --keep)
  --keep               keep the temporary folder
  --json               print the report as JSON
  --extra DIR          also count each model's findings at its default threshold on these DICOM folders (repeatable)
Exit status: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 runtime, 130 interrupted.`;

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const { values: v } = parseCommandArgs('npm run eval', argv, {
    chest: { type: 'string', default: String(EVAL_COUNT) },
    cta: { type: 'string', default: String(EVAL_COUNT) },
    seed: { type: 'string', default: String(EVAL_SEED) },
    rows: { type: 'string', default: '320' },
    work: { type: 'string' },
    keep: { type: 'boolean' },
    json: { type: 'boolean' },
    extra: { type: 'string', multiple: true },
  } as const, false);
  const count = (flag: 'chest' | 'cta'): number => numberOption('npm run eval', flag, v[flag], { integer: true, min: 0, max: 100_000 })!;
  const chest = count('chest'), cta = count('cta');
  const seed0 = numberOption('npm run eval', 'seed', v.seed, { integer: true, min: 0 })!;
  const rows = numberOption('npm run eval', 'rows', v.rows, { integer: true, min: 16, max: 1024 })!;
  const work = v.work ?? join(tmpdir(), `ctscope-eval-${process.pid}`);
  const truthRoot = join(work, 'truth'), predRoot = join(work, 'pred');
  await ensureDir(truthRoot);
  await ensureDir(predRoot);
  // A temporary work folder goes however the run ends.
  if (!v.keep && !v.work) process.once('exit', () => rmSync(work, { recursive: true, force: true }));
  const models: Record<SynthKind, string> = { chest: 'nodule', cta: 'aneurysm' };
  // A missing or broken model fails here, not once per case.
  await checkDetectOptions({ models: Object.values(models) });
  const maxCount = Math.max(chest, cta);
  const ranges = (r: readonly SeedRange[]): string => r.map(([lo, hi]) => `${lo}-${hi}`).join(', ');
  const overlap = trainingOverlap(seed0, maxCount), chose = validationOverlap(seed0, maxCount);
  if (overlap.length) process.stderr.write(`warning: seeds from ${seed0} overlap the training seeds ${ranges(overlap)}: these phantoms are not held out\n`);
  if (chose.length) process.stderr.write(`warning: seeds from ${seed0} overlap the validation seeds ${ranges(chose)}, which chose the models and thresholds: these phantoms are not held out\n`);
  const plan: [SynthKind, number][] = [['chest', chest], ['cta', cta]];
  const times: Record<string, number[]> = { chest: [], cta: [] };
  // The cases of this run: a reused --work folder may hold more, which are not scored.
  const ran: string[] = [];
  for (const [kind, count] of plan) {
    for (let n = 0; n < count; n++) {
      const seed = seed0 + n;
      const id = `${kind}-${seed}`;
      ran.push(id);
      const dir = join(truthRoot, id);
      if (!reusable(join(dir, 'truth.json'), rows)) await synthToDirectory(kind, { seed, rows, cols: rows }, dir, { force: true, signal });
      const det = await detectFolder(dir, [models[kind]], undefined, signal);
      times[kind]!.push(det.ms);
      await writeCasePredictions(predRoot, id, det.findings, undefined, det.seriesInstanceUid);
      process.stderr.write(`${id}: ${det.findings.length} findings above ${CURVE_THRESHOLD}, ${(det.ms / 1000).toFixed(1)} s\n`);
    }
  }
  // With --chest 0 --cta 0 only the --extra folders run: there is nothing to score.
  const report = plan.some(([, count]) => count > 0) ? runEval(truthRoot, predRoot, ['nodule', 'aneurysm'], { onlyCases: ran }) : null;
  const extra: { dir: string; model: string; findings: number; ms: number }[] = [];
  for (const dir of v.extra ?? []) {
    for (const model of [models.chest, models.cta]) {
      // At each model's own threshold: the false positives a user would see.
      const det = await detectFolder(dir, [model], null, signal);
      extra.push({ dir, model, findings: det.findings.length, ms: Math.round(det.ms) });
    }
  }
  for (const w of report?.warnings ?? []) process.stderr.write(`warning: ${oneLineSafe(w)}\n`);
  if (v.json) {
    process.stdout.write(JSON.stringify({ work, seeds: `${seed0}..`, rows, report, extra, medianMs: { chest: median(times.chest!), cta: median(times.cta!) } }, (_k, x) => (x === Infinity ? null : x), 2) + '\n');
  } else {
    if (report) process.stdout.write(`${overlap.length || chose.length ? 'Phantoms (not held out)' : 'Held-out phantoms'}: seeds ${seed0}.., ${rows}x${rows} matrix (training of these models and their predecessors used seeds ${ranges(TRAINING_SEEDS)}; validation ${ranges(VALIDATION_SEEDS)}).\n\n`);
    for (const block of report ? reportBlocks(report) : []) process.stdout.write(block + '\n\n');
    for (const e of extra) process.stdout.write(`${e.dir}: model ${e.model}: ${e.findings} findings at the default threshold (${(e.ms / 1000).toFixed(1)} s)\n`);
    const timed = (['chest', 'cta'] as const).filter((k) => (times[k]?.length ?? 0) > 0).map((k) => `${k === 'cta' ? 'CTA' : k} ${(median(times[k]!) / 1000).toFixed(1)} s`);
    if (timed.length > 0) process.stdout.write(`median detection time (load + resample + model): ${timed.join(', ')}\n`);
  }
  return 0;
}

runEntry('npm run eval', USAGE, main);
