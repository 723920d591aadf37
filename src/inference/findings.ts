import type { CtVolume, Geometry, Vec3 } from '../volume/types.js';
import { dot, ijkToLps, lpsToVoxel, sliceNormal, voxelToLps } from '../volume/affine.js';
import type { Candidate } from '../postprocess/candidate.js';
import type { ModelTask } from './manifest.js';
import type { LesionMeasurement } from '../postprocess/measure.js';

export type SizeMethod = 'half-max' | 'model-region' | 'model-box';

/** One detection, tied to patient space and to the original images. */
export interface Finding {
  kind: ModelTask;
  label: string;
  score: number;
  /** Centre in patient LPS millimetres. */
  centerLps: Vec3;
  /**
   * Centre as a continuous voxel position of the ORIGINAL series: i, j in the slice plane, k the fractional
   * index in stack order, the slices sorted along their normal (between the real slice positions, uneven stacks too).
   */
  centerVoxel: Vec3;
  /**
   * Diameter, mm: measured on the image where the manifest asks for it (`sizeMethod` 'half-max'), else the
   * equivalent-sphere diameter of the model's heatmap or segmentation region, or the mean box edge.
   */
  diameterMm: number;
  volumeMm3: number;
  /** Where the size comes from: the image ('half-max'), the model's output region ('model-region') or box ('model-box'). */
  sizeMethod: SizeMethod;
  /** Box edges in mm along the model grid axes, for box outputs. */
  extentMm?: Vec3;
  /** Slice of the original series nearest to the centre (k order), its SOPInstanceUID and frame number. */
  sliceIndex: number;
  sopInstanceUid: string;
  frameNumber: number;
  /** InstanceNumber of that image, as a PACS viewer numbers it (absent when the header has none). */
  instanceNumber?: number;
}

/** mm^3 of one voxel: |det| of the direction x spacing matrix (exact for sheared grids too). */
export function voxelVolumeMm3(g: Geometry): number {
  const m = ijkToLps(g);
  const a = m[0]!, b = m[1]!, c = m[2]!, d = m[4]!, e = m[5]!, f = m[6]!, h = m[8]!, i = m[9]!, k = m[10]!;
  return Math.abs(a * (e * k - f * i) - b * (d * k - f * h) + c * (d * i - e * h));
}

/**
 * Index of the original slice whose plane is nearest to `lps`: the rounded fractional slice index (between two
 * slices, the nearer one along the normal, so uneven and tilted stacks are handled), or the rounded k index
 * without slice positions.
 */
export function nearestSlice(original: CtVolume, lps: Vec3, voxel: Vec3): number {
  return clampSlice(fractionalSlice(original, lps) ?? voxel[2], original.sliceUids.length);
}

const clampSlice = (k: number, n: number): number => Math.min(Math.max(Math.round(k), 0), Math.max(0, n - 1));

/**
 * The fractional index in stack order (the slices sorted along their normal) of the plane through `lps`: interpolated between the slice
 * positions along the slice normal, so that on an uneven stack k = 11.5 lies halfway between slices 11 and 12
 * (the volume's grid, made equidistant, has k on the mean step instead). Undefined without slice positions.
 */
export function fractionalSlice(original: CtVolume, lps: Vec3): number | undefined {
  const positions = original.slices?.positions ?? [];
  const n = positions.length;
  if (n !== original.sliceUids.length || n === 0) return undefined;
  if (n === 1) return 0;
  const normal = sliceNormal(original.geometry.direction);
  const at = (s: number): number => dot(positions[s]!, normal);
  const p = dot(lps, normal);
  // Positions run monotonically along the normal; the pair that brackets p (or the end pair, extrapolating).
  const up = at(n - 1) > at(0);
  let s = 0;
  while (s < n - 2 && (up ? at(s + 1) < p : at(s + 1) > p)) s++;
  const a = at(s), b = at(s + 1);
  return b === a ? s : s + (p - a) / (b - a);
}

/**
 * (i, j) of the point of slice `s`'s plane nearest to `lps`, from that slice's own position and in-plane axes. On a
 * gantry-tilted stack the grid's k axis is sheared, so (i, j) of lpsToVoxel moves along the tilt: up to 1.2 mm off
 * on the GE series (its gaps of up to 7 mm times tan 18.5 degrees), which the SR's image point and the key image showed.
 */
function inSlicePlane(original: CtVolume, lps: Vec3, s: number): [number, number] | undefined {
  const origin = original.slices?.positions[s];
  if (!origin) return undefined;
  const d = original.geometry.direction, sp = original.geometry.spacing;
  const rel: Vec3 = [lps[0] - origin[0], lps[1] - origin[1], lps[2] - origin[2]];
  return [dot(rel, [d[0], d[3], d[6]]) / sp[0], dot(rel, [d[1], d[4], d[7]]) / sp[1]];
}

/**
 * A candidate's size as the model gives it on its grid: a box's sides (diameter their mean, volume the inscribed
 * ellipsoid's), else its region's voxels (diameter that of the sphere of that volume). What a finding reports and
 * what `thresholds.minDiameterMm` is held to, where the size is not measured on the image.
 */
export function modelSize(c: Candidate, grid: Geometry): { diameterMm: number; volumeMm3: number; extentMm?: Vec3 } {
  const s = grid.spacing;
  if (c.extent) {
    const extentMm: Vec3 = [c.extent[0] * s[0], c.extent[1] * s[1], c.extent[2] * s[2]];
    return { diameterMm: (extentMm[0] + extentMm[1] + extentMm[2]) / 3, volumeMm3: (Math.PI / 6) * extentMm[0] * extentMm[1] * extentMm[2], extentMm };
  }
  const volumeMm3 = c.voxels * voxelVolumeMm3(grid);
  return { diameterMm: Math.cbrt((6 * volumeMm3) / Math.PI), volumeMm3 };
}

/**
 * Maps a candidate from the model grid to patient LPS and the original series. `measured`: the lesion's size
 * measured on the image, which replaces the model's.
 */
export function toFinding(c: Candidate, model: Geometry, original: CtVolume, kind: ModelTask, label: string, measured?: LesionMeasurement | null): Finding {
  const centerLps = voxelToLps(model, c.center);
  const grid = lpsToVoxel(original.geometry, centerLps);
  const k = fractionalSlice(original, centerLps);
  const sliceIndex = clampSlice(k ?? grid[2], original.sliceUids.length);
  const [i, j] = k === undefined ? grid : inSlicePlane(original, centerLps, sliceIndex) ?? grid;
  const centerVoxel: Vec3 = [i, j, k ?? grid[2]];
  let diameterMm: number, volumeMm3: number, extentMm: Vec3 | undefined;
  let sizeMethod: SizeMethod = c.extent ? 'model-box' : 'model-region';
  if (measured) {
    ({ diameterMm, volumeMm3 } = measured);
    sizeMethod = 'half-max';
  } else ({ diameterMm, volumeMm3, extentMm } = modelSize(c, model));
  const f: Finding = {
    kind,
    label,
    score: c.score,
    centerLps,
    centerVoxel,
    diameterMm,
    volumeMm3,
    sizeMethod,
    sliceIndex,
    sopInstanceUid: original.sliceUids[sliceIndex] ?? '',
    frameNumber: original.frameNumbers[sliceIndex] ?? 1,
  };
  if (extentMm) f.extentMm = extentMm;
  const instanceNumber = original.instanceNumbers?.[sliceIndex];
  if (typeof instanceNumber === 'number') f.instanceNumber = instanceNumber;
  return f;
}
