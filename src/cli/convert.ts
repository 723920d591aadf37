import { existsSync } from 'node:fs';
import { checkOutFile } from '../io/dirs.js';
import { skippedInputsLine } from '../series/summary.js';
import { oneLineSafe } from '../io/printable.js';
import { loadSeries } from '../ingest/load.js';
import { NIFTI1_MAX_DIM, writeNifti } from '../volume/nifti.js';
import { isInterpName, isOrientation, toSpacing, transformForOutput, type InterpName, type Orientation } from '../resample/index.js';
import { SPACING_RANGE_MM } from '../resample/options.js';
import type { Vec3 } from '../volume/types.js';
import { numberOption, parseCommandArgs, parseThreads, usageError, type CliIO, type Command } from './command.js';
import { stderrProgress } from './console.js';

/**
 * Every option of `ctscope convert`, in one table: new options (resampling...) add an entry here and
 * a field in ConvertArgs/parseConvertArgs, nothing else.
 */
export const CONVERT_OPTIONS = {
  out: { type: 'string', short: 'o' },
  series: { type: 'string' },
  threads: { type: 'string' },
  'max-voxels': { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  spacing: { type: 'string' },
  interp: { type: 'string' },
  orient: { type: 'string' },
  'tilt-correct': { type: 'string' },
  force: { type: 'boolean' },
} as const;

export interface ConvertArgs {
  inputs: string[];
  out: string;
  series: string | undefined;
  threads: number | undefined;
  maxVoxels: number | undefined;
  quiet: boolean;
  spacing: Vec3 | undefined;
  interp: InterpName | undefined;
  orient: Orientation | undefined;
  /** Restack a tilted series onto an orthogonal grid (default y, like dcm2niix's _Tilt output). */
  tiltCorrect: boolean;
  /** Replace an existing --out file (refused without, as synth refuses a non-empty folder). */
  force: boolean;
}

export function parseConvertArgs(argv: string[]): ConvertArgs {
  const { values, positionals } = parseCommandArgs('convert', argv, CONVERT_OPTIONS);
  if (positionals.length === 0) throw usageError('convert: missing <path> (a DICOM folder or files)');
  if (!values.out) throw usageError('convert: --out <file.nii|file.nii.gz> is required');
  if (!/\.nii(\.gz)?$/i.test(values.out)) throw usageError(`convert: --out must end in .nii or .nii.gz (got ${values.out})`);
  // Restacks (tilt, uneven slices) interpolate linearly: cubic would be ignored without a grid to resample to.
  if (values.interp === 'cubic' && values.spacing === undefined) throw usageError('convert: --interp cubic applies to --spacing resampling; give --spacing too');
  return {
    inputs: positionals,
    out: values.out,
    series: values.series,
    threads: parseThreads(values.threads, 'convert'),
    maxVoxels: numberOption('convert', 'max-voxels', values['max-voxels'], { integer: true, positive: true }),
    quiet: values.quiet ?? false,
    spacing: convertSpacing(values.spacing),
    interp: choice(values.interp, '--interp', ['nearest', 'linear', 'cubic'], isInterpName),
    orient: orientation(values.orient),
    tiltCorrect: choice(values['tilt-correct'] ?? 'y', '--tilt-correct', ['y', 'n'], (x): x is 'y' | 'n' => x === 'y' || x === 'n') === 'y',
    force: values.force ?? false,
  };
}

/** `--spacing S|SX,SY,SZ` in mm, checked by the resampler's own rule and said in this command's terms. */
function convertSpacing(text: string | undefined): Vec3 | undefined {
  if (text === undefined) return undefined;
  try {
    return toSpacing(text);
  } catch {
    const [lo, hi] = SPACING_RANGE_MM;
    throw usageError(`convert: --spacing needs S or SX,SY,SZ in mm, each from ${lo} to ${hi} (got '${text}')`);
  }
}

function choice<T extends string>(text: string | undefined, name: string, allowed: string[], is: (s: string) => s is T): T | undefined {
  if (text === undefined) return undefined;
  if (!allowed.includes(text) || !is(text)) throw usageError(`convert: ${name} must be one of ${allowed.join(', ')} (got ${text})`);
  return text;
}

function orientation(text: string | undefined): Orientation | undefined {
  if (text === undefined || isOrientation(text)) return text;
  throw usageError(`convert: --orient needs an orientation code such as LPS or RAS, one letter of L/R, P/A and S/I per axis (got ${text})`);
}

/** `ctscope convert`: the primary (or chosen) CT series as a NIfTI-1 volume in HU. */
export const convertCommand: Command = {
  name: 'convert',
  summary: 'write the primary (or --series) CT volume as NIfTI-1 in HU',
  usage: `convert <path...> --out <file.nii|file.nii.gz> [options]

  --out, -o FILE          NIfTI-1 output, .nii or .nii.gz (written atomically)
  --series UID            series to write instead of the primary CT series
  --spacing S|SX,SY,SZ    resample to this voxel size in mm (one value: isotropic)
  --interp NAME           nearest, linear (default) or cubic (cubic: --spacing only)
  --orient CODE           axis order and direction, e.g. LPS (default) or RAS, by permutation and flips only
  --tilt-correct y|n      restack a gantry-tilted series onto an orthogonal grid (default y)
  --max-voxels N          refuse a series or any grid made from it over N voxels (default 2^30)
  --threads N             decode/resample worker threads (1-256; default: the usable cores)
  --force                 replace --out when it exists (else refused, nothing read)
  --quiet, -q             no progress (problems and warnings still go to stderr)

Exit status: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 runtime (outputs, workers), 130 interrupted.`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseConvertArgs(argv);
    const view = stderrProgress(io, args.quiet);
    const log = view ? view.log : () => undefined;
    await checkOutFile(args.out, 'the output path (--out)');
    // An earlier result is not replaced by accident (it was, silently).
    if (!args.force && existsSync(args.out)) throw usageError(`convert: ${oneLineSafe(args.out)} exists; give --force to replace it`);
    const volume = await loadSeries(args.inputs, {
      seriesUid: args.series,
      signal: io.signal,
      threads: args.threads,
      maxVoxels: args.maxVoxels,
      onProgress: view?.onProgress,
    }).finally(() => view?.end());
    const [nx, ny, nz] = volume.geometry.dims;
    const sp = volume.geometry.spacing.map((x) => x.toFixed(4)).join(' x ');
    log(`series ${oneLineSafe(volume.series.id)}: ${nx} x ${ny} x ${nz} at ${sp} mm${volume.tiltDeg ? `, tilt ${volume.tiltDeg.toFixed(2)} deg` : ''}`);
    // Said with --quiet too: nothing else records them.
    for (const p of volume.problems) io.err(`warning: series: ${oneLineSafe(p)}`);
    const skipped = skippedInputsLine(volume.index.skipped);
    if (skipped) io.err(`warning: ${oneLineSafe(skipped)}`);
    // Tilted series are restacked onto an orthogonal grid by default (dcm2niix's _Tilt/_Eq); uneven slices
    // are always made equidistant. Then --orient (exact) and --spacing (resampled), in that order.
    const out = await transformForOutput(volume, {
      ...(args.spacing ? { spacing: args.spacing } : {}),
      ...(args.interp ? { interp: args.interp } : {}),
      ...(args.orient ? { orient: args.orient } : {}),
      correctTilt: args.tiltCorrect,
      ...(args.threads !== undefined ? { workers: args.threads } : {}),
      // The cap on the series also caps every grid made from it (a fine --spacing, a tilt restack).
      ...(args.maxVoxels !== undefined ? { maxVoxels: args.maxVoxels } : {}),
      maxDim: NIFTI1_MAX_DIM,
      signal: io.signal,
    });
    if (out !== volume) log(`output grid ${out.geometry.dims.join(' x ')} at ${out.geometry.spacing.map((x) => x.toFixed(4)).join(' x ')} mm`);
    log(`writing ${oneLineSafe(args.out)}...`);
    await writeNifti(args.out, out, { description: `ctscope HU series ${volume.series.seriesNumber ?? ''}`.trim(), signal: io.signal });
    log(`wrote ${oneLineSafe(args.out)}`);
    return 0;
  },
};
