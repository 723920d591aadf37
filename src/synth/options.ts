import { CtscopeError } from '../errors.js';
import type { Vec3 } from '../volume/types.js';
import { Rng } from './rng.js';

export type SynthKind = 'chest' | 'cta';
export const SYNTH_KINDS: readonly SynthKind[] = ['chest', 'cta'];

/** Patient positions the generator can place the phantom in (DICOM PatientPosition). */
export type PatientPosition = 'HFS' | 'FFS' | 'HFP' | 'FFP';
export const PATIENT_POSITIONS: readonly PatientPosition[] = ['HFS', 'FFS', 'HFP', 'FFP'];

/** Transfer syntaxes the writer produces; compression is left to external tools. */
export type SynthSyntax = 'explicit-le';

/** What a caller may set; everything left out is drawn from the seed within realistic ranges. */
export interface SynthOptions {
  seed?: number;
  slices?: number;
  rows?: number;
  cols?: number;
  /** Voxel spacing in mm: [between columns (x), between rows (y), between slices (z)]. */
  spacing?: Vec3;
  /** Nominal reconstructed slice thickness in mm. */
  thickness?: number;
  /** Image noise standard deviation in HU after the reconstruction kernel (mean over the field; higher at its centre). */
  noise?: number;
  /** In-plane blur of the reconstruction kernel, Gaussian sigma in mm. */
  blur?: number;
  /** Number of nodules (chest) or aneurysms (cta). */
  lesions?: number;
  patientPosition?: PatientPosition;
  /** BitsStored: 12 or 16 (BitsAllocated is always 16). */
  bits?: 12 | 16;
  /** Signed pixels with intercept 0, or unsigned with intercept -1024. */
  signed?: boolean;
  syntax?: SynthSyntax;
  /** Write truth.json beside the images. */
  truth?: boolean;
  /** +1: slice index k (InstanceNumber) runs towards the head; -1: towards the feet. */
  sliceDirection?: 1 | -1;
}

/** Every option resolved: what the generator actually used (also recorded in truth.json). */
export interface FilledSynthOptions {
  kind: SynthKind;
  seed: number;
  slices: number;
  rows: number;
  cols: number;
  spacing: Vec3;
  thickness: number;
  noise: number;
  blur: number;
  lesions: number;
  patientPosition: PatientPosition;
  bits: 12 | 16;
  signed: boolean;
  rescaleIntercept: number;
  syntax: SynthSyntax;
  truth: boolean;
  /** +1 when slice index k runs towards the head, -1 towards the feet. */
  sliceDirection: 1 | -1;
  /** Name written as ConvolutionKernel (sharp or soft, from the blur). */
  kernel: string;
}

/** Realistic ranges per phantom kind; defaults are drawn from these. */
interface KindRanges {
  fovMm: [number, number];
  sliceSpacings: readonly number[];
  thicknessFactors: readonly number[];
  coverageMm: [number, number];
  noise: [number, number];
  blur: [number, number];
  maxLesions: number;
  positions: readonly (readonly [PatientPosition, number])[];
}

const RANGES: Record<SynthKind, KindRanges> = {
  chest: {
    fovMm: [310, 440],
    sliceSpacings: [0.625, 0.7, 0.8, 1, 1.25, 1.5, 2, 2.5],
    thicknessFactors: [1, 1, 1.25, 1.5, 2],
    coverageMm: [270, 340],
    noise: [8, 35],
    blur: [0.35, 0.9],
    maxLesions: 4,
    positions: [['HFS', 0.55], ['FFS', 0.25], ['HFP', 0.1], ['FFP', 0.1]],
  },
  cta: {
    fovMm: [200, 250],
    sliceSpacings: [0.5, 0.6, 0.625, 0.75, 0.8, 1],
    thicknessFactors: [1, 1, 1.25, 1.5],
    coverageMm: [150, 200],
    noise: [4, 18],
    blur: [0.28, 0.6],
    maxLesions: 3,
    positions: [['HFS', 0.8], ['FFS', 0.1], ['HFP', 0.05], ['FFP', 0.05]],
  },
};

export const DEFAULT_ROWS = 512;
/** Largest phantom drawn (voxels): 2.4 GB of float32 working memory. */
export const MAX_VOXELS = 600_000_000;
export const MAX_SLICES = 2000;
const MIN_SPACING_MM = 0.05;
export const DEFAULT_COLS = 512;

function check(ok: boolean, message: string): void {
  if (!ok) throw new CtscopeError('E_USAGE', message);
}

const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

// A record over every key of SynthOptions: a field added there and not here fails to compile.
const SYNTH_OPTION_FIELDS: Readonly<Record<keyof SynthOptions, true>> = {
  seed: true, slices: true, rows: true, cols: true, spacing: true, thickness: true, noise: true, blur: true, lesions: true,
  patientPosition: true, bits: true, signed: true, syntax: true, truth: true, sliceDirection: true,
};
const SYNTH_OPTION_KEYS = Object.keys(SYNTH_OPTION_FIELDS);

/** Validates options and draws every unset one from the seed (stream 'scanner'). */
export function fillSynthOptions(kind: SynthKind, o: SynthOptions = {}): FilledSynthOptions {
  check(SYNTH_KINDS.includes(kind), `Expected phantom kind ${SYNTH_KINDS.join(' or ')} but received '${String(kind)}'`);
  check(typeof o === 'object' && o !== null, `Expected synth options to be an object but received ${String(o)}`);
  // A typo would silently draw the value from the seed; signal and force in here were ignored (they belong to synthToDirectory).
  for (const key of Object.keys(o)) {
    if (key === 'signal' || key === 'force') check(false, `synth option '${key}' goes in synthToDirectory's fourth argument ({ ${key} }), not with the phantom's options`);
    check(SYNTH_OPTION_KEYS.includes(key), `unknown synth option '${key}' (known: ${SYNTH_OPTION_KEYS.join(', ')})`);
  }
  const seed = o.seed ?? 1;
  check(isInt(seed) && seed >= 0 && seed <= 0xffffffff, `Expected seed to be an integer 0..4294967295 but received ${String(o.seed)}`);
  check(o.rows === undefined || (isInt(o.rows) && o.rows >= 16 && o.rows <= 2048), `Expected rows 16..2048 but received ${String(o.rows)}`);
  check(o.cols === undefined || (isInt(o.cols) && o.cols >= 16 && o.cols <= 2048), `Expected cols 16..2048 but received ${String(o.cols)}`);
  check(o.slices === undefined || (isInt(o.slices) && o.slices >= 1 && o.slices <= MAX_SLICES), `Expected slices 1..${MAX_SLICES} but received ${String(o.slices)}`);
  // From 0.05 mm: below, a DS of 6 decimals wrote PixelSpacing 0 (invalid DICOM), and the blur's kernel grew
  // with blur / spacing (a 16 x 16 x 2 phantom at 1e-7 mm took 37 s).
  check(
    o.spacing === undefined || (Array.isArray(o.spacing) && o.spacing.length === 3 && o.spacing.every((s) => typeof s === 'number' && s >= MIN_SPACING_MM && s <= 20)),
    `Expected spacing as three numbers from ${MIN_SPACING_MM} to 20 mm but received ${String(o.spacing)}`,
  );
  check(o.thickness === undefined || (typeof o.thickness === 'number' && o.thickness >= MIN_SPACING_MM && o.thickness <= 20), `Expected thickness from ${MIN_SPACING_MM} to 20 mm but received ${String(o.thickness)}`);
  check(o.signed === undefined || typeof o.signed === 'boolean', `Expected signed to be true or false but received ${String(o.signed)}`);
  check(o.truth === undefined || typeof o.truth === 'boolean', `Expected truth to be true or false but received ${String(o.truth)}`);
  check(o.noise === undefined || (typeof o.noise === 'number' && o.noise >= 0 && o.noise <= 500), `Expected noise 0..500 HU but received ${String(o.noise)}`);
  check(o.blur === undefined || (typeof o.blur === 'number' && o.blur >= 0 && o.blur <= 5), `Expected blur 0..5 mm but received ${String(o.blur)}`);
  check(o.lesions === undefined || (isInt(o.lesions) && o.lesions >= 0 && o.lesions <= 50), `Expected a lesion count 0..50 but received ${String(o.lesions)}`);
  check(o.patientPosition === undefined || PATIENT_POSITIONS.includes(o.patientPosition), `Expected patient position ${PATIENT_POSITIONS.join('|')} but received '${String(o.patientPosition)}'`);
  check(o.bits === undefined || o.bits === 12 || o.bits === 16, `Expected bits 12 or 16 but received ${String(o.bits)}`);
  check(o.sliceDirection === undefined || o.sliceDirection === 1 || o.sliceDirection === -1, `Expected sliceDirection 1 or -1 but received ${String(o.sliceDirection)}`);
  check(o.syntax === undefined || o.syntax === 'explicit-le', `Expected syntax explicit-le but received '${String(o.syntax)}' (compress with an external tool)`);

  const R = RANGES[kind];
  const rng = Rng.derive(seed, `scanner:${kind}`);
  // Draw every value in a fixed order, used or not, so one explicit option never shifts the others.
  const fov = rng.uniform(R.fovMm[0], R.fovMm[1]);
  const dz = rng.pick(R.sliceSpacings);
  const thickF = rng.pick(R.thicknessFactors);
  const coverage = rng.uniform(R.coverageMm[0], R.coverageMm[1]);
  const noise = rng.uniform(R.noise[0], R.noise[1]);
  const blur = rng.uniform(R.blur[0], R.blur[1]);
  const lesions = rng.int(0, R.maxLesions);
  const position = rng.weighted(R.positions);
  const bits = rng.chance(0.5) ? 16 : 12;
  const signed = rng.chance(0.5);
  const sliceDirection = rng.chance(0.5) ? 1 : -1;

  // One of rows and cols alone gives a square image: 256 rows of 512 columns would cut a slab out of the body.
  const rows = o.rows ?? o.cols ?? DEFAULT_ROWS;
  const cols = o.cols ?? o.rows ?? DEFAULT_COLS;
  const px = fov / Math.max(rows, cols);
  const spacing: Vec3 = o.spacing ? [o.spacing[0], o.spacing[1], o.spacing[2]] : [round3(px), round3(px), dz];
  const slices = o.slices ?? Math.max(16, Math.round(coverage / spacing[2]));
  // Checked on the count drawn too: a 0.01 mm z spacing drew 28,162 slices, 2048 rows a 4 GB volume.
  check(slices <= MAX_SLICES, `A phantom of ${slices} slices (its coverage over the z spacing ${spacing[2]} mm) is over ${MAX_SLICES}: give slices, or a larger z spacing`);
  const voxels = rows * cols * slices;
  if (voxels > MAX_VOXELS) throw new CtscopeError('E_TOO_LARGE', `A phantom of ${rows} x ${cols} x ${slices} = ${voxels} voxels is over the ${MAX_VOXELS} limit (the volume is held in memory as float32)`);
  const thickness = o.thickness ?? round3(Math.min(5, spacing[2] * thickF));
  const blurMm = o.blur ?? round3(blur);
  const chosenBits = o.bits ?? bits;
  const chosenSigned = o.signed ?? signed;
  return {
    kind,
    seed,
    slices,
    rows,
    cols,
    spacing,
    thickness,
    noise: o.noise ?? round3(noise),
    blur: blurMm,
    lesions: o.lesions ?? lesions,
    patientPosition: o.patientPosition ?? position,
    bits: chosenBits,
    signed: chosenSigned,
    rescaleIntercept: chosenSigned ? 0 : -1024,
    syntax: o.syntax ?? 'explicit-le',
    truth: o.truth ?? true,
    sliceDirection: o.sliceDirection ?? sliceDirection,
    kernel: blurMm < 0.45 ? 'SYNTH-SHARP' : blurMm < 0.7 ? 'SYNTH-STANDARD' : 'SYNTH-SOFT',
  };
}

function round3(v: number): number {
  return Math.round(v * 1000) / 1000;
}
