import { existsSync, lstatSync, mkdirSync, readdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { checkOutDir, ensureDirUndoable, NAME_MAX } from '../io/dirs.js';
import { removeStaleTemps, syncDirSync, tempName } from '../io/atomic.js';
import { basename, dirname, join, resolve, sep } from 'node:path';
import { CtscopeError, throwIfAborted, toCtscopeError } from '../errors.js';
import type { Geometry, Volume } from '../volume/types.js';
import { chestPhantom } from './chest.js';
import { ctaPhantom } from './cta.js';
import { writeAll, writeCtSeries, type CtSeriesSpec } from './dicom-writer.js';
import { phantomGeometry, makeCanvas } from './grid.js';
import { abortableTurns, runToEnd, runWithTurns } from '../io/turns.js';
import { fillSynthOptions, type FilledSynthOptions, type SynthKind, type SynthOptions } from './options.js';
import { hash32, Rng } from './rng.js';
import { scannerSteps } from './scanner.js';
import type { PhantomFactory, SynthTruth } from './truth.js';
import { uidFor } from './uid.js';

/** Bumped whenever the same seed and options would draw a different phantom. 2: rows or cols alone gives a square image (the other side was 512); the UIDs follow the version. */
export const GENERATOR_VERSION = 'ctscope-synth/2';

const PHANTOMS: Record<SynthKind, PhantomFactory> = { chest: chestPhantom, cta: ctaPhantom };

export interface SynthResult {
  options: FilledSynthOptions;
  /** HU after scanner effects, exactly what the files store (before rounding to integers). */
  volume: Volume<Float32Array>;
  truth: SynthTruth;
  /** DICOM header content of the series, without voxels. */
  series: CtSeriesSpec;
  timings: { drawMs: number; scannerMs: number };
}

/** Values written outside the reconstruction circle, by what the pixel encoding can hold. */
function outsideFovChoices(o: FilledSynthOptions): (number | null)[] {
  if (!o.signed) return [null, null, -1024];
  return o.bits === 16 ? [null, -1024, -2048, -3024] : [null, -1024, -2048];
}

/**
 * Builds a phantom in memory: HU volume, exact geometry, truth and the DICOM header content. Synchronous CPU
 * work on the calling thread (seconds for a full case); synthToDirectory makes the same phantom in steps.
 */
export function synthesize(kind: SynthKind, options: SynthOptions = {}): SynthResult {
  return runToEnd(synthesizeSteps(kind, options));
}

/**
 * synthesize() as a generator that yields every few slices of drawing and after every slice of the scanner
 * model, so a caller can let its event loop run and stop on an abort. The steps are the same, in the same
 * order, however they are paced: the phantom is synthesize()'s to the bit.
 */
export function* synthesizeSteps(kind: SynthKind, options: SynthOptions = {}): Generator<void, SynthResult, void> {
  const o = fillSynthOptions(kind, options);
  const phantom = PHANTOMS[kind](o);
  const geometry: Geometry = phantomGeometry(o, phantom.centre);
  const cv = makeCanvas(geometry);
  const t0 = performance.now();
  const drawn = yield* phantom.draw(cv);
  const t1 = performance.now();
  const srng = Rng.derive(o.seed, `effects:${kind}`);
  const outsideFov = srng.pick(outsideFovChoices(o));
  const sigmaZ = o.thickness / 2.355 / o.spacing[2];
  yield* scannerSteps(cv, { noise: o.noise, sigma: [o.blur / o.spacing[0], o.blur / o.spacing[1], sigmaZ], outsideFov }, o.seed);
  const t2 = performance.now();

  // UIDs depend on every resolved option that changes the images, so two different series never share one;
  // whether truth.json is written does not (the same series with and without it had different UIDs).
  const name = `${GENERATOR_VERSION}:${JSON.stringify({ ...o, truth: true })}`;
  const study = uidFor(`${name}:study`);
  const seriesUid = uidFor(`${name}:series`);
  const frameUid = uidFor(`${name}:frame`);
  const day = new Date(Date.UTC(2018, 0, 1) + (hash32(`date:${o.seed}`) % 2500) * 86400000);
  const date = day.toISOString().slice(0, 10).replaceAll('-', '');
  const h = hash32(`time:${o.seed}`);
  const time = `${String(7 + (h % 12)).padStart(2, '0')}${String((h >>> 8) % 60).padStart(2, '0')}${String((h >>> 16) % 60).padStart(2, '0')}`;
  const series: CtSeriesSpec = {
    geometry,
    encoding: { bitsStored: o.bits, signed: o.signed, intercept: o.rescaleIntercept, slope: 1 },
    studyInstanceUid: study,
    seriesInstanceUid: seriesUid,
    frameOfReferenceUid: frameUid,
    sopInstanceUid: (k) => uidFor(`${name}:instance:${k}`),
    patientName: kind === 'chest' ? 'PHANTOM^CHEST' : 'PHANTOM^CTA',
    patientId: `SYNTH-${kind.toUpperCase()}-${o.seed}`,
    patientPosition: o.patientPosition,
    bodyPart: phantom.bodyPart,
    studyDescription: 'ctscope synthetic phantom',
    seriesDescription: phantom.description,
    date,
    time,
    seriesNumber: 2 + (o.seed % 7),
    sliceThickness: o.thickness,
    kernel: o.kernel,
    window: phantom.window,
    manufacturer: 'ctscope-synth',
    model: `phantom-${kind}`,
    softwareVersion: GENERATOR_VERSION,
  };
  const truth: SynthTruth = {
    kind,
    seed: o.seed,
    generatorVersion: GENERATOR_VERSION,
    series: {
      studyInstanceUid: study,
      seriesInstanceUid: seriesUid,
      frameOfReferenceUid: frameUid,
      dims: geometry.dims,
      spacing: geometry.spacing,
      origin: geometry.origin,
      direction: geometry.direction,
      patientPosition: o.patientPosition,
      sliceThickness: o.thickness,
    },
    scanner: {
      noiseSd: o.noise,
      blurSigmaMm: o.blur,
      kernel: o.kernel,
      bitsStored: o.bits,
      pixelRepresentation: o.signed ? 1 : 0,
      rescaleIntercept: o.rescaleIntercept,
      outsideFovHu: outsideFov,
    },
    findings: drawn.findings,
    hardNegatives: drawn.hardNegatives,
  };
  return { options: o, volume: { data: cv.data, geometry }, truth, series, timings: { drawMs: t1 - t0, scannerMs: t2 - t1 } };
}

/** Writes the DICOM files (and truth.json unless turned off) into an existing empty folder. */
export function writeSynthResult(result: SynthResult, dir: string): { files: string[]; writeMs: number } {
  const t0 = performance.now();
  const files = writeCtSeries(dir, result.series, result.volume.data);
  if (result.options.truth) files.push(writeTruth(result, dir));
  return { files, writeMs: performance.now() - t0 };
}

function writeTruth(result: SynthResult, dir: string): string {
  writeAll(join(dir, 'truth.json'), [Buffer.from(JSON.stringify(result.truth, null, 2) + '\n')]);
  return 'truth.json';
}

export interface SynthToDirOptions {
  /**
   * Replace `outDir` if it exists and is not empty. Only an earlier synth output is replaced: a folder holding
   * anything synth does not write (slice files `CT000001.dcm`..., truth.json) is refused with E_USAGE.
   */
  force?: boolean;
  /**
   * Checked every few tens of milliseconds while generating and every few slices while writing; an abort removes
   * the partial output and any folder made for it.
   */
  signal?: AbortSignal;
}

const SLICES_PER_TURN = 16;
/** Longest stretch of generation between two turns of the event loop: how late an abort may be seen. */
const TURN_MS = 20;
/** Everything synth writes into its folder (writeCtSeries' slice files, writeTruth): what --force may replace. */
const SYNTH_ENTRY = /^(CT\d{6,}\.dcm|truth\.json)$/;

/**
 * Why `target`, an existing folder, must never be replaced whatever --force says (replacing means removing it as
 * a whole), or null. Compared after resolving links, so a link to the current folder counts as the folder.
 */
function untouchable(target: string): string | null {
  const real = (p: string): string => {
    try {
      return realpathSync(p);
    } catch {
      return resolve(p);
    }
  };
  const t = real(target);
  if (dirname(t) === t) return 'the file system root';
  let cwd: string | null = null;
  try {
    cwd = real(process.cwd());
  } catch {
    // The current folder was removed: nothing to protect there.
  }
  if (cwd === t) return 'the current folder';
  if (cwd !== null && cwd.startsWith(t.endsWith(sep) ? t : t + sep)) return 'a folder that holds the current folder';
  if (t === real(homedir())) return 'the home folder';
  return null;
}

/** E_USAGE naming the folder and why, when `target` exists and is one that is never replaced. */
function refuseUntouchable(target: string, outDir: string): void {
  const why = existsSync(target) ? untouchable(target) : null;
  if (why !== null) {
    throw new CtscopeError('E_USAGE', `Refusing to use ${target} as the output folder: it is ${why}, which synth would replace as a whole; give a new folder's name`, { where: outDir });
  }
}

/**
 * Whether `outDir` may become synth's output: missing, empty, or (with force) an earlier synth output. The
 * current folder, an ancestor of it, the root and the home folder never are. E_USAGE saying why, naming the folder.
 */
function checkReplaceableOutput(target: string, outDir: string, force: boolean): void {
  if (!existsSync(target)) return;
  refuseUntouchable(target, outDir);
  const entries = readdirSync(target);
  if (entries.length === 0) return;
  if (!force) throw new CtscopeError('E_USAGE', 'the output folder is not empty: --force (force: true) replaces an earlier synth output there, nothing else', { where: outDir });
  const foreign = entries.find((e) => !SYNTH_ENTRY.test(e) || lstatSync(join(target, e), { throwIfNoEntry: false })?.isFile() === false);
  if (foreign !== undefined) {
    throw new CtscopeError(
      'E_USAGE',
      `--force replaces only an earlier synth output, and ${target} holds '${foreign}', which synth does not write: give a new or empty folder`,
      { where: outDir },
    );
  }
}

/**
 * Generates a phantom into `outDir` atomically: everything is written into a temporary folder beside it,
 * which is renamed into place only when complete, so an interrupted run leaves nothing half-written, and no
 * parent folder made for it. Generating and writing yield to the event loop every few tens of milliseconds,
 * so a Ctrl-C (abort signal) is seen promptly and a host's other work goes on meanwhile.
 */
export async function synthToDirectory(
  kind: SynthKind,
  options: SynthOptions,
  outDir: string,
  opts: SynthToDirOptions = {},
): Promise<SynthResult & { files: string[]; writeMs: number }> {
  if (typeof opts !== 'object' || opts === null) throw new CtscopeError('E_USAGE', `synthToDirectory's fourth argument must be an object ({ force, signal }) but received ${String(opts)}`);
  for (const key of Object.keys(opts)) if (key !== 'force' && key !== 'signal') throw new CtscopeError('E_USAGE', `unknown synthToDirectory option '${key}' (known: force, signal; the phantom's own options go in the second argument)`);
  if (opts.force !== undefined && typeof opts.force !== 'boolean') throw new CtscopeError('E_USAGE', `synthToDirectory's force must be true or false but received ${String(opts.force)}`);
  const target = resolve(outDir);
  const parent = dirname(target);
  const force = opts.force ?? false;
  if (Buffer.byteLength(basename(target)) > NAME_MAX) throw new CtscopeError('E_OUTPUT', `Output folder name is longer than ${NAME_MAX} bytes`, { where: outDir });
  // A file in the way, or a folder that takes no entries, is E_OUTPUT before the phantom is made (as for detect).
  // The parent is what must take entries: the phantom is written beside the target and renamed into place.
  if (existsSync(target) && !statSync(target).isDirectory()) throw new CtscopeError('E_OUTPUT', 'the output folder exists and is not a folder', { where: outDir });
  // The root, the home or the current folder is refused before anything is probed beside it.
  refuseUntouchable(target, outDir);
  await checkOutDir(parent, 'the folder that holds the output folder');
  checkReplaceableOutput(target, outDir, force);
  throwIfAborted(opts.signal, 'synth');
  const result = await runWithTurns(synthesizeSteps(kind, options), abortableTurns(opts.signal, 'synth', TURN_MS));
  // Temporary names cut to fit NAME_MAX, so a legal output name never fails for its temporary twin's sake.
  const tmp = join(parent, tempName(basename(target)));
  let undoDirs: (() => Promise<void>) | undefined;
  let aside: string | undefined;
  try {
    undoDirs = await ensureDirUndoable(parent);
    await removeStaleTemps(parent, basename(target));
    mkdirSync(tmp);
    const t0 = performance.now();
    const files: string[] = [];
    const nz = result.volume.geometry.dims[2];
    for (let k = 0; k < nz; k += SLICES_PER_TURN) {
      files.push(...writeCtSeries(tmp, result.series, result.volume.data, k, Math.min(nz, k + SLICES_PER_TURN)));
      await turn();
      throwIfAborted(opts.signal, 'synth');
    }
    if (result.options.truth) files.push(writeTruth(result, tmp));
    syncDirSync(tmp);
    const writeMs = performance.now() - t0;
    // Checked again: something may have been put there while the phantom was made.
    checkReplaceableOutput(target, outDir, force);
    if (existsSync(target)) {
      // Not a `.tmp` name: should the run be killed between the two renames, the earlier output stays, hidden,
      // and no later run's clean-up of stale temporary folders takes it for one.
      aside = join(parent, tempName(basename(target)).replace(/\.tmp$/, '.old'));
      renameSync(target, aside);
      renameSync(tmp, target);
      rmSync(aside, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
    return { ...result, files, writeMs };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    // The earlier output was moved aside but not replaced: it goes back.
    if (aside !== undefined && existsSync(aside) && !existsSync(target)) {
      try {
        renameSync(aside, target);
      } catch {
        // Left under its temporary name rather than removed.
      }
    }
    // Parent folders this run made go too (innermost first, each only while still empty), as the README says.
    await undoDirs?.();
    throw toCtscopeError(e, 'E_OUTPUT', 'writing the phantom failed', outDir);
  }
}


const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
