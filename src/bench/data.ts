import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtscopeError } from '../errors.js';
import type { SynthKind, SynthOptions } from '../synth/options.js';
import { GENERATOR_VERSION, synthToDirectory } from '../synth/synthesize.js';
import type { StageContext } from './context.js';
import { runChild } from './harness.js';

/** Package root (bench/, native-bench/ and models/ live there in a checkout). */
export const BENCH_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Syntaxes made by native-bench/ingest/make-data.sh, in the order reported. */
export const SYNTAXES = ['ele', 'rle', 'jpeg-lossless', 'jpeg-ls', 'j2k'] as const;
export type BenchSyntax = (typeof SYNTAXES)[number];

/** The syntaxes the quick (CI) subset covers. */
export const QUICK_SYNTAXES: readonly BenchSyntax[] = ['ele', 'rle'];

/** The generated series (300 slices, or 100 in --quick) in every syntax, made once by make-data.sh. */
export async function ensureIngestData(ctx: Pick<StageContext, 'dataDir' | 'quick'>): Promise<void> {
  // A folder the script made holds every syntax this run reads, at its slice count (a quick run's folder lacks the
  // JPEG copies: the script then makes what is missing, or all again for another count). A folder laid out by hand
  // (no stamp) is used as it is, whichever syntaxes it has.
  const slices = ctx.quick ? '100' : '300';
  const stamp = join(ctx.dataDir, '.made');
  const made = existsSync(stamp) ? readFileSync(stamp, 'utf8') : undefined;
  const ready = made === undefined
    ? existsSync(join(ctx.dataDir, 'ele', '.done'))
    : made.startsWith(`slices=${slices} `) && (ctx.quick ? QUICK_SYNTAXES : SYNTAXES).every((s) => existsSync(join(ctx.dataDir, s, '.done')));
  if (ready) return;
  const script = join(BENCH_ROOT, 'native-bench', 'ingest', 'make-data.sh');
  if (!existsSync(script)) throw new CtscopeError('E_NOT_FOUND', 'the benchmark series are made by native-bench/ingest/make-data.sh, which only a source checkout has', { where: script });
  // The quick subset reads the uncompressed and RLE copies only: the JPEG and JPEG 2000 ones took most of its set-up.
  const syntaxes = ctx.quick ? QUICK_SYNTAXES.filter((s) => s !== 'ele') : [];
  await runChild('bash', [script, ctx.dataDir, slices, ...syntaxes], { what: `making the benchmark series (${script})`, where: script });
}

/** Folders of the generated series present for this run, by syntax. */
export async function seriesDirs(ctx: Pick<StageContext, 'dataDir' | 'quick'>): Promise<Array<{ syntax: BenchSyntax; dir: string }>> {
  await ensureIngestData(ctx);
  return (ctx.quick ? QUICK_SYNTAXES : SYNTAXES)
    .map((syntax) => ({ syntax, dir: join(ctx.dataDir, syntax) }))
    .filter((s) => existsSync(join(s.dir, '.done')));
}

/** The .dcm files of a folder, sorted by name, with their total size. */
export function seriesFiles(dir: string): { files: string[]; bytes: number } {
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm')).sort().map((f) => join(dir, f));
  let bytes = 0;
  for (const f of files) bytes += statSync(f).size;
  return { files, bytes };
}

/**
 * Phantoms for the model stages: seeds that draw one lesion each model finds (as in test/models). Full runs
 * use the generator's own sizes (512 x 512); --quick uses a small field so a detect takes about a second.
 */
export const PHANTOMS: Readonly<Record<SynthKind, { full: SynthOptions; quick: SynthOptions }>> = {
  chest: {
    full: { seed: 9009, lesions: 1 },
    // A 320 mm field: at 240 mm (96 voxels) the lungs were cut and the nodule model found nothing.
    quick: { seed: 9009, lesions: 1, rows: 128, cols: 128, slices: 48, spacing: [2.5, 2.5, 2.5] },
  },
  cta: {
    full: { seed: 9005, lesions: 1 },
    quick: { seed: 9005, lesions: 1, rows: 80, cols: 80, slices: 48, spacing: [2, 2, 1.5] },
  },
};

/**
 * Generates a phantom series under dataDir once (`phantom-<kind>`, with a .done marker holding its options) and
 * returns its folder; one made with other options (a full run's, an older quick size) is made again.
 */
export async function ensurePhantom(ctx: Pick<StageContext, 'dataDir' | 'quick'>, kind: SynthKind): Promise<string> {
  const dir = join(ctx.dataDir, `phantom-${kind}`);
  const spec = PHANTOMS[kind];
  const options = ctx.quick ? spec.quick : spec.full;
  const stamp = JSON.stringify({ generator: GENERATOR_VERSION, options });
  const done = join(dir, '.done');
  if (existsSync(done) && readFileSync(done, 'utf8') === stamp) return dir;
  // The bench's own folder: its marker is no synth output, so it goes before synth replaces the rest.
  rmSync(done, { force: true });
  await synthToDirectory(kind, options, dir, { force: true });
  writeFileSync(done, stamp);
  return dir;
}
