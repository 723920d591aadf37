import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { checkOutDir, ensureDir, NAME_MAX } from '../io/dirs.js';
import { tempName } from '../io/atomic.js';
import { basename, dirname, join, resolve } from 'node:path';
import { CtscopeError, throwIfAborted, toCtscopeError } from '../errors.js';
import type { Geometry, Volume } from '../volume/types.js';
import { chestPhantom } from './chest.js';
import { ctaPhantom } from './cta.js';
import { writeCtSeries, type CtSeriesSpec } from './dicom-writer.js';
import { phantomGeometry, makeCanvas } from './grid.js';
import { fillSynthOptions, type FilledSynthOptions, type SynthKind, type SynthOptions } from './options.js';
import { hash32, Rng } from './rng.js';
import { applyScanner } from './scanner.js';
import type { PhantomFactory, SynthTruth } from './truth.js';
import { uidFor } from './uid.js';

/** Bumped whenever the same seed and options would draw a different phantom. */
export const GENERATOR_VERSION = 'ctscope-synth/1';

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

/** Builds a phantom in memory: HU volume, exact geometry, truth and the DICOM header content. */
export function synthesize(kind: SynthKind, options: SynthOptions = {}): SynthResult {
  const o = fillSynthOptions(kind, options);
  const phantom = PHANTOMS[kind](o);
  const geometry: Geometry = phantomGeometry(o, phantom.centre);
  const cv = makeCanvas(geometry);
  const t0 = performance.now();
  const drawn = phantom.draw(cv);
  const t1 = performance.now();
  const srng = Rng.derive(o.seed, `effects:${kind}`);
  const outsideFov = srng.pick(outsideFovChoices(o));
  const sigmaZ = o.thickness / 2.355 / o.spacing[2];
  applyScanner(cv, { noise: o.noise, sigma: [o.blur / o.spacing[0], o.blur / o.spacing[1], sigmaZ], outsideFov }, o.seed);
  const t2 = performance.now();

  // UIDs depend on every resolved option, so two different series never share one.
  const name = `${GENERATOR_VERSION}:${JSON.stringify(o)}`;
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
  writeFileSync(join(dir, 'truth.json'), JSON.stringify(result.truth, null, 2) + '\n');
  return 'truth.json';
}

export interface SynthToDirOptions {
  /** Replace `outDir` if it exists and is not empty. */
  force?: boolean;
  /** Checked between phases and every few slices while writing; an abort removes the partial output. */
  signal?: AbortSignal;
}

const SLICES_PER_TURN = 16;

/**
 * Generates a phantom into `outDir` atomically: everything is written into a temporary folder beside it,
 * which is renamed into place only when complete, so an interrupted run leaves nothing half-written.
 * Writing yields to the event loop every few slices so a Ctrl-C (abort signal) is seen promptly.
 */
export async function synthToDirectory(
  kind: SynthKind,
  options: SynthOptions,
  outDir: string,
  opts: SynthToDirOptions = {},
): Promise<SynthResult & { files: string[]; writeMs: number }> {
  const target = resolve(outDir);
  const parent = dirname(target);
  if (Buffer.byteLength(basename(target)) > NAME_MAX) throw new CtscopeError('E_OUTPUT', `Output folder name is longer than ${NAME_MAX} bytes`, { where: outDir });
  // A file in the way, or a folder that takes no entries, is E_OUTPUT before the phantom is made (as for detect).
  // The parent is what must take entries: the phantom is written beside the target and renamed into place.
  if (existsSync(target) && !statSync(target).isDirectory()) throw new CtscopeError('E_OUTPUT', 'the output folder exists and is not a folder', { where: outDir });
  await checkOutDir(parent, 'the folder that holds the output folder');
  if (existsSync(target)) {
    if (readdirSync(target).length > 0 && !opts.force) throw new CtscopeError('E_USAGE', 'Output folder is not empty (use --force to replace it)', { where: outDir });
  }
  throwIfAborted(opts.signal, 'synth');
  const result = synthesize(kind, options);
  await turn();
  throwIfAborted(opts.signal, 'synth');
  // Temporary names cut to fit NAME_MAX, so a legal output name never fails for its temporary twin's sake.
  const tmp = join(parent, tempName(basename(target)));
  try {
    await ensureDir(parent);
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
    const writeMs = performance.now() - t0;
    if (existsSync(target)) {
      const old = join(parent, tempName(basename(target)));
      renameSync(target, old);
      renameSync(tmp, target);
      rmSync(old, { recursive: true, force: true });
    } else {
      renameSync(tmp, target);
    }
    return { ...result, files, writeMs };
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw toCtscopeError(e, 'E_OUTPUT', 'writing the phantom failed', outDir);
  }
}

const turn = (): Promise<void> => new Promise((r) => setImmediate(r));
