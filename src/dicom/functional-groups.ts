import type { Vec3 } from '../volume/types.js';
import type { FrameMeta } from './types.js';
import type { DataSet } from './dicom-parser.js';
import { item, itemCount, num, nums, str } from './values.js';

const SHARED_GROUPS = 'x52009229';
const PER_FRAME_GROUPS = 'x52009230';
const PLANE_POSITION = 'x00209113';
const PLANE_ORIENTATION = 'x00209116';
const PIXEL_MEASURES = 'x00289110';
const PIXEL_VALUE_TRANSFORMATION = 'x00289145';

const IPP = 'x00200032';
const IOP = 'x00200037';
const PIXEL_SPACING = 'x00280030';
const SLICE_THICKNESS = 'x00180050';
const RESCALE_INTERCEPT = 'x00281052';
const RESCALE_SLOPE = 'x00281053';

/** Fields of FrameMeta found in one data set (a top level, or a functional group macro item). */
type Partial = { -readonly [K in keyof FrameMeta]?: FrameMeta[K] };

/**
 * The orientation as stored: the slice layout normalises it and refuses a vector far from unit length, which a
 * silent normalisation here had hidden (`2\0\0\0\2\0` read as an axial series). Zero vectors are no orientation.
 */
function storedOrientation(v: number[] | undefined): FrameMeta['imageOrientationPatient'] | undefined {
  if (!v) return undefined;
  const n1 = Math.hypot(v[0]!, v[1]!, v[2]!);
  const n2 = Math.hypot(v[3]!, v[4]!, v[5]!);
  if (!(n1 > 0 && n2 > 0)) return undefined;
  return [v[0]!, v[1]!, v[2]!, v[3]!, v[4]!, v[5]!];
}

function readPosition(ds: DataSet | undefined, into: Partial): void {
  if (!ds) return;
  const p = nums(ds, IPP, 3);
  if (p) into.imagePositionPatient = p as Vec3;
}

function readOrientation(ds: DataSet | undefined, into: Partial): void {
  if (!ds) return;
  const o = storedOrientation(nums(ds, IOP, 6));
  if (o) into.imageOrientationPatient = o;
}

const MIN_SPACING_MM = 1e-4;
const MAX_SPACING_MM = 1e4;

function readMeasures(ds: DataSet | undefined, into: Partial, warnings?: string[]): void {
  if (!ds) return;
  const s = nums(ds, PIXEL_SPACING, 2);
  // Between 0.1 um and 10 m: beyond, it is damage (1e300 made an infinite NIfTI pixdim, 1e-300 a singular affine).
  const usable = (v: number): boolean => v >= MIN_SPACING_MM && v <= MAX_SPACING_MM;
  if (s && usable(s[0]!) && usable(s[1]!)) into.pixelSpacing = [s[0]!, s[1]!];
  else if (str(ds, PIXEL_SPACING) !== undefined) warn(warnings, `PixelSpacing '${str(ds, PIXEL_SPACING)!.slice(0, 24)}' is not two spacings of ${MIN_SPACING_MM} to ${MAX_SPACING_MM} mm; ignored`);
  const t = num(ds, SLICE_THICKNESS);
  // The k spacing of a one-slice series: 1e39 had made an infinite NIfTI pixdim, 1e-300 a singular affine.
  if (t !== undefined && (t === 0 || usable(t))) into.sliceThickness = t;
  else if (str(ds, SLICE_THICKNESS) !== undefined) warn(warnings, `SliceThickness '${str(ds, SLICE_THICKNESS)!.slice(0, 24)}' is not 0 or ${MIN_SPACING_MM} to ${MAX_SPACING_MM} mm; ignored`);
}

function readRescale(ds: DataSet | undefined, into: Partial, warnings?: string[]): void {
  if (!ds) return;
  const slope = num(ds, RESCALE_SLOPE);
  const intercept = num(ds, RESCALE_INTERCEPT);
  if (slope !== undefined && slope !== 0) into.rescaleSlope = slope;
  // A slope of 0 (every voxel one value) or one that is no number cannot be used: 1 is, but not silently.
  else if (str(ds, RESCALE_SLOPE) !== undefined) warn(warnings, `RescaleSlope '${str(ds, RESCALE_SLOPE)!.slice(0, 16)}' is not a usable number; using 1`);
  if (intercept !== undefined) into.rescaleIntercept = intercept;
  else if (str(ds, RESCALE_INTERCEPT) !== undefined) warn(warnings, `RescaleIntercept '${str(ds, RESCALE_INTERCEPT)!.slice(0, 16)}' is not a number; using 0`);
}

/** One warning per kind of repair in an instance (not one per frame of a multi-frame image). */
function warn(warnings: string[] | undefined, text: string): void {
  if (warnings && !warnings.includes(text)) warnings.push(text);
}

/** Reads the macros of one functional group item (shared or per-frame). */
function readGroup(group: DataSet | undefined, into: Partial, warnings: string[]): void {
  readPosition(item(group, PLANE_POSITION), into);
  readOrientation(item(group, PLANE_ORIENTATION), into);
  readMeasures(item(group, PIXEL_MEASURES), into, warnings);
  readRescale(item(group, PIXEL_VALUE_TRANSFORMATION), into, warnings);
}

function finish(p: Partial): FrameMeta {
  const f: FrameMeta = { rescaleSlope: p.rescaleSlope ?? 1, rescaleIntercept: p.rescaleIntercept ?? 0 };
  if (p.imagePositionPatient) f.imagePositionPatient = p.imagePositionPatient;
  if (p.imageOrientationPatient) f.imageOrientationPatient = p.imageOrientationPatient;
  if (p.pixelSpacing) f.pixelSpacing = p.pixelSpacing;
  if (p.sliceThickness !== undefined) f.sliceThickness = p.sliceThickness;
  return f;
}

export function hasFunctionalGroups(ds: DataSet): boolean {
  return ds.elements[SHARED_GROUPS] !== undefined || ds.elements[PER_FRAME_GROUPS] !== undefined;
}

/**
 * One FrameMeta per frame. Enhanced multi-frame images keep geometry and rescale in the Shared and
 * Per-Frame Functional Groups (per-frame wins); the top level is the fallback for what both lack.
 */
export function buildFrames(ds: DataSet, numberOfFrames: number, warnings: string[]): FrameMeta[] {
  const top: Partial = {};
  readPosition(ds, top);
  readOrientation(ds, top);
  readMeasures(ds, top, warnings);
  readRescale(ds, top, warnings);
  if (!hasFunctionalGroups(ds)) {
    // Classic multi-frame images (rare in CT) share one top-level geometry.
    const f = finish(top);
    return Array.from({ length: numberOfFrames }, () => ({ ...f }));
  }
  const shared: Partial = { ...top };
  readGroup(item(ds, SHARED_GROUPS), shared, warnings);
  const perFrameCount = itemCount(ds, PER_FRAME_GROUPS);
  if (perFrameCount !== numberOfFrames) {
    warnings.push(`Per-Frame Functional Groups has ${perFrameCount} items for ${numberOfFrames} frames`);
  }
  const frames: FrameMeta[] = [];
  for (let i = 0; i < numberOfFrames; i++) {
    const p: Partial = { ...shared };
    readGroup(item(ds, PER_FRAME_GROUPS, i), p, warnings);
    frames.push(finish(p));
  }
  return frames;
}
