import { AIR_HU, type Vec3 } from '../volume/types.js';
import { decimal } from '../io/decimal.js';
import { CtscopeError } from '../errors.js';
import { checkOptions, is, type OptionRule } from '../io/options-check.js';
import { VOXEL_CTORS } from './arrays.js';
import { isInterpName, type InterpName } from './kernels.js';
import type { VoxelType } from './plan.js';
import { RUN_RULES, type RunOptions } from './run.js';

/** Default value for samples outside the source field of view: air in HU. */
export const DEFAULT_FILL = AIR_HU;

export interface ResampleOptions extends RunOptions {
  /** Target spacing in mm: one value for isotropic, or per axis (i, j, k). */
  spacing: number | Vec3;
  /** Output dims; default round(n * spacing / target) per axis, which keeps the field of view. */
  dims?: Vec3;
  /** Default 'linear'. */
  interp?: InterpName;
  /**
   * Gaussian prefilter when downsampling: true uses sigma = (factor - 1) / 2 source voxels per axis
   * (factor = target / source spacing; 0 where not downsampling). Default false.
   */
  antialias?: boolean;
  /** Value outside the source field of view; default -1024 (HU air). */
  fill?: number;
  /** Output voxel type; default the input type for 'nearest' (labels stay labels), float32 otherwise. */
  outType?: VoxelType;
}

export interface FilledResampleOptions {
  spacing: Vec3;
  dims: Vec3 | undefined;
  interp: InterpName;
  antialias: boolean;
  fill: number;
  outType: VoxelType | undefined;
}

const isVec3Of = (ok: (x: number) => boolean) => (v: unknown): boolean => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && ok(x));

/** What each resample option must be; spacing and interp are checked below with their own messages. */
const RESAMPLE_RULES: Readonly<Record<keyof ResampleOptions, OptionRule>> = {
  spacing: is.where('a number or three numbers (mm)', (v) => typeof v === 'number' || isVec3Of(() => true)(v)),
  dims: is.where('three positive integers', isVec3Of((x) => Number.isInteger(x) && x > 0)),
  interp: is.where('an interpolation name', () => true),
  antialias: is.boolean,
  fill: is.finite,
  outType: is.where(`one of ${Object.keys(VOXEL_CTORS).join(', ')}`, (v) => typeof v === 'string' && Object.hasOwn(VOXEL_CTORS, v)),
  ...RUN_RULES,
};

export function fillResampleOptions(o: ResampleOptions): FilledResampleOptions {
  if (typeof o !== 'object' || o === null) throw new CtscopeError('E_USAGE', 'resample needs an options object with a spacing, e.g. { spacing: 1 }');
  const d = checkOptions<ResampleOptions>('resample', o, RESAMPLE_RULES);
  if (d.spacing === undefined) throw new CtscopeError('E_USAGE', 'resample needs a spacing, e.g. { spacing: 1 }');
  const interp = d.interp ?? 'linear';
  if (!isInterpName(interp)) throw new CtscopeError('E_USAGE', `Expected nearest, linear, cubic or lanczos3 for interp but received ${String(interp)}`);
  return { spacing: toSpacing(d.spacing), dims: d.dims, interp, antialias: d.antialias ?? false, fill: d.fill ?? DEFAULT_FILL, outType: d.outType };
}

/** Output voxel sizes accepted, mm: beyond them a grid is meaningless (and 1e308 overflowed the geometry). */
export const SPACING_RANGE_MM = [0.01, 1000] as const;

/** Accepts 1 (iso), [1, 1, 2], or the CLI forms "1" and "0.8,0.8,2". */
export function toSpacing(s: number | Vec3 | string): Vec3 {
  const v: number[] = typeof s === 'string' ? s.split(',').map((x) => decimal(x)) : typeof s === 'number' ? [s] : [...s];
  const t = v.length === 1 ? [v[0]!, v[0]!, v[0]!] : v;
  const [lo, hi] = SPACING_RANGE_MM;
  if (t.length !== 3 || !t.every((x) => Number.isFinite(x) && x >= lo && x <= hi))
    throw new CtscopeError('E_USAGE', `Expected a spacing S or sx,sy,sz from ${lo} to ${hi} mm but received ${String(s)}`);
  return t as Vec3;
}
