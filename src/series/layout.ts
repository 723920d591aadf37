import { basename } from 'node:path';
import { CtscopeError } from '../errors.js';
import type { DicomInstance } from '../dicom/types.js';
import { cross, dot, norm, normalize, scale, sub } from '../volume/affine.js';
import type { Geometry, Mat3, Vec3 } from '../volume/types.js';
import { findTransferSyntax } from '../dicom/transfer-syntax.js';
import { cmp } from './group.js';
import type { SeriesProblem, SliceLayout, SliceRef } from './types.js';
import { median } from '../io/stats.js';

export interface LayoutOptions {
  /** Slices closer than this along the normal (mm) are duplicates of each other. */
  duplicateMm: number;
  /** A step larger than this times both the median step and the neighbours' thickness means slices are missing. */
  gapFactor: number;
  /** Relative deviation of a step from the mean step above which spacing is uneven. */
  unevenTolerance: number;
  /** Tilt below this (degrees) is rounding noise: the k axis is taken as the exact normal. */
  tiltSnapDeg: number;
  /** Tilt from this angle (degrees) on is reported as a problem. */
  tiltReportDeg: number;
  /** Largest distance (mm) of a slice position from the line through the first and last one. */
  collinearMm: number;
  /** Largest component difference of ImageOrientationPatient between frames of one series. */
  orientationTolerance: number;
}

export const DEFAULT_LAYOUT: LayoutOptions = {
  duplicateMm: 0.01,
  gapFactor: 1.5,
  unevenTolerance: 0.01,
  tiltSnapDeg: 1e-3,
  tiltReportDeg: 0.05,
  collinearMm: 0.05,
  orientationTolerance: 1e-3,
};

interface Candidate extends SliceRef {
  position: Vec3 | undefined;
  offset: number;
}

const fmt = (x: number, digits = 2): string => String(Number(x.toFixed(digits)));
const RAD = 180 / Math.PI;

/** Row, column (made exactly orthogonal to the row: IOP is stored with few digits) and slice normal of an IOP. */
function sliceAxes(iop: readonly number[]): { row: Vec3; col: Vec3; normal: Vec3 } {
  const row = safeUnit([iop[0]!, iop[1]!, iop[2]!], 'row');
  const col0 = safeUnit([iop[3]!, iop[4]!, iop[5]!], 'column');
  const across = sub(col0, scale(row, dot(col0, row)));
  // Stored with few digits, the two are near orthogonal; far from it (parallel) they span no plane.
  if (!(norm(across) > 0.5)) throw new CtscopeError('E_GEOMETRY', 'ImageOrientationPatient row and column directions are (nearly) parallel');
  const col = normalize(across);
  return { row, col, normal: normalize(cross(row, col)) };
}

/**
 * The duplicate rule, in one place: over offsets sorted ascending, an offset within `mm` of its cluster's first
 * one joins that cluster. `visit` sees each index and whether it starts a cluster.
 */
function forEachCluster(sortedOffsets: readonly number[], mm: number, visit: (index: number, starts: boolean) => void): void {
  let start = Number.NEGATIVE_INFINITY;
  sortedOffsets.forEach((o, i) => {
    const starts = i === 0 || o - start >= mm;
    if (starts) start = o;
    visit(i, starts);
  });
}

/** How many distinct positions the layout would keep among these offsets along the normal. */
function positionClusters(offsets: readonly number[], mm: number): number {
  let n = 0;
  forEachCluster([...offsets].sort((a, b) => a - b), mm, (_i, starts) => {
    if (starts) n++;
  });
  return n;
}

/**
 * Orders the frames of a series by ImagePositionPatient projected on the slice normal (never by file
 * name or InstanceNumber) and measures the exact grid:
 * - i, j: DICOM row and column directions, spacing from PixelSpacing;
 * - k: the mean slice-to-slice vector (first to last position over n - 1). When it is not parallel to
 *   the normal (gantry tilt) the direction is non-orthogonal, so every slice lands exactly where it was
 *   acquired; uneven steps are kept in `positions`/`offsets` and the grid uses their mean.
 * Duplicates (same position) keep one image: lossless encodings first, then InstanceNumber, then source.
 * Images without a position are left out (problem `no-position`) when they are no more than the distinct positions
 * of the others; more, or no orientation, in a multi-slice series is E_GEOMETRY. With `keep`, only the frames it
 * accepts are laid out (the volume leaves out slices that did not decode).
 */
export function layoutSlices(instances: readonly DicomInstance[], options: LayoutOptions = DEFAULT_LAYOUT, keep?: (ref: SliceRef) => boolean): SliceLayout {
  const problems: SeriesProblem[] = headerRepairs(instances);
  const all: SliceRef[] = [];
  for (const instance of instances) for (let f = 0; f < Math.max(1, instance.frames.length); f++) all.push({ instance, frameIndex: f });

  // Images without a usable position (missing, or not three numbers) cannot be placed: left out and reported, as
  // long as they are no more than the distinct positions there are; more than that is no slice stack. Counted
  // over every image, not only those `keep` accepts, so a second layout without broken slices decides the same way.
  const placedAll = all.filter((r) => frameOf(r)?.imagePositionPatient);
  const unplaced = all.length - placedAll.length;
  // Duplicates of one position count once, by the layout's own rule below (along the normal, within
  // duplicateMm of a cluster's first): two copies of one slice do not make a stack of two.
  const iop0 = placedAll.map((r) => frameOf(r)?.imageOrientationPatient).find((o) => o !== undefined);
  const normal0 = iop0 && sliceAxes(iop0).normal;
  const distinct = normal0 ? positionClusters(placedAll.map((r) => dot(frameOf(r)!.imagePositionPatient!, normal0)), options.duplicateMm) : Math.min(placedAll.length, 1);
  const dropUnplaced = placedAll.length > 0 && unplaced > 0 && distinct >= unplaced;
  if (dropUnplaced) {
    const names = [...new Set(all.filter((r) => !frameOf(r)?.imagePositionPatient).map((r) => r.instance.source))];
    problems.push({
      kind: 'no-position',
      message: `${unplaced} of ${all.length} images have no usable ImagePositionPatient and were left out: ${names.slice(0, 3).join(', ')}${names.length > 3 ? ', ...' : ''}`,
    });
  }
  const refs = (dropUnplaced ? placedAll : all).filter((r) => !keep || keep(r));
  if (refs.length === 0) throw new CtscopeError('E_GEOMETRY', 'series has no images');
  const first = refs[0]!.instance;
  const iop = frameOf(refs[0]!)?.imageOrientationPatient ?? first.frames[0]?.imageOrientationPatient;
  if (!iop || !refs.every((r) => frameOf(r)?.imagePositionPatient)) {
    if (refs.length > 1) throw new CtscopeError('E_GEOMETRY', `series has several images but ${iop ? `only ${distinct} distinct ImagePositionPatient value(s) for ${refs.length} images` : 'no ImageOrientationPatient'}`);
    return singleWithoutGeometry(refs[0]!, problems, options);
  }
  for (const r of refs) {
    const o = frameOf(r)?.imageOrientationPatient ?? iop;
    for (let i = 0; i < 6; i++)
      if (Math.abs(o[i]! - iop[i]!) > options.orientationTolerance)
        throw new CtscopeError('E_GEOMETRY', 'frames of one series have different ImageOrientationPatient', { where: r.instance.source });
  }
  const { row, col, normal } = sliceAxes(iop);

  const candidates: Candidate[] = refs.map((r) => {
    const position = frameOf(r)!.imagePositionPatient!;
    return { ...r, position, offset: dot(position, normal) };
  });
  candidates.sort((a, b) => a.offset - b.offset || preference(a, b));
  // Images within duplicateMm of a cluster's first one share a position; the preferred one is kept.
  const kept: Candidate[] = [];
  let dropped = 0;
  forEachCluster(candidates.map((c) => c.offset), options.duplicateMm, (i, starts) => {
    const c = candidates[i]!;
    if (starts) kept.push(c);
    else {
      dropped++;
      if (preference(c, kept[kept.length - 1]!) < 0) kept[kept.length - 1] = c;
    }
  });
  if (dropped > 0)
    problems.push({
      kind: 'duplicate-slices',
      message: `${dropped} of ${candidates.length} images repeat a position already present; kept one image per position`,
    });

  const pixelSpacing = pixelSpacingOf(kept, problems);
  const positions = kept.map((c) => c.position!);
  const base = kept[0]!.offset;
  const offsets = kept.map((c) => c.offset - base);
  const n = kept.length;

  let dirK: Vec3 = normal;
  let spacingK: number;
  let tiltDeg = 0;
  let uneven = false;
  let medianStep = 0;
  if (n === 1) {
    const f = frameOf(kept[0]!);
    spacingK = f?.sliceThickness && f.sliceThickness > 0 ? f.sliceThickness : 1;
  } else {
    const steps = offsets.slice(1).map((o, i) => o - offsets[i]!);
    medianStep = median(steps);
    const meanStep = offsets[n - 1]! / (n - 1);
    // A step is a gap only when it is also wider than the slices beside it: protocols that switch
    // from thin to thick slices (4 mm then 7 mm) are uneven but complete.
    const thickness = kept.map((c) => frameOf(c)?.sliceThickness ?? 0);
    const gaps = steps
      .map((s, i) => ({ s, i }))
      .filter((g) => g.s > options.gapFactor * Math.max(medianStep, Math.min(thickness[g.i]!, thickness[g.i + 1]!)));
    if (gaps.length > 0) {
      const missing = gaps.reduce((acc, g) => acc + Math.max(1, Math.round(g.s / medianStep) - 1), 0);
      const where = gaps.slice(0, 3).map((g) => `${fmt(g.s)} mm after slice ${g.i}`).join(', ');
      problems.push({
        kind: 'missing-slices',
        message: `about ${missing} slice(s) missing: ${gaps.length} step(s) over ${options.gapFactor}x the median step ${fmt(medianStep, 3)} mm and the slice thickness (${where}${gaps.length > 3 ? ', ...' : ''})`,
      });
    }
    const minStep = Math.min(...steps);
    const maxStep = Math.max(...steps);
    const deviation = Math.max(maxStep - meanStep, meanStep - minStep) / meanStep;
    if (deviation > options.unevenTolerance) {
      uneven = true;
      problems.push({
        kind: 'uneven-spacing',
        message: `slice steps range ${fmt(minStep, 3)} to ${fmt(maxStep, 3)} mm (mean ${fmt(meanStep, 3)} mm, ${fmt(deviation * 100, 1)}% deviation); grid uses the mean, real positions kept`,
      });
    }

    const step = scale(sub(positions[n - 1]!, positions[0]!), 1 / (n - 1));
    const stepLength = norm(step);
    tiltDeg = Math.acos(Math.min(1, Math.abs(dot(step, normal)) / stepLength)) * RAD;
    if (tiltDeg < options.tiltSnapDeg) {
      tiltDeg = 0;
      spacingK = meanStep;
    } else {
      dirK = scale(step, 1 / stepLength);
      spacingK = stepLength;
    }
    if (tiltDeg >= options.tiltReportDeg) {
      const header = kept[0]!.instance.gantryDetectorTilt;
      problems.push({
        kind: 'gantry-tilt',
        message: `slices are sheared by ${fmt(tiltDeg)} deg (gantry tilt${header !== undefined ? `, header says ${fmt(header)} deg` : ''}); the k axis follows the measured slice step`,
      });
    }
    // Every position must lie on the line origin + t * dirK; otherwise the grid is not exact.
    const along = dot(dirK, normal);
    let worst = 0;
    for (let k = 0; k < n; k++) {
      const expected = scale(dirK, offsets[k]! / along);
      const off = sub(sub(positions[k]!, positions[0]!), expected);
      worst = Math.max(worst, norm(off));
    }
    if (worst > options.collinearMm)
      problems.push({
        kind: 'non-collinear',
        message: `slice positions are up to ${fmt(worst, 3)} mm off the line through the first and last slice`,
      });
  }

  const direction: Mat3 = [row[0], col[0], dirK[0], row[1], col[1], dirK[1], row[2], col[2], dirK[2]];
  const geometry: Geometry = {
    dims: [first.columns, first.rows, n],
    spacing: [pixelSpacing[1], pixelSpacing[0], spacingK],
    origin: [...positions[0]!] as Vec3,
    direction,
  };
  return {
    slices: kept.map(({ instance, frameIndex }) => ({ instance, frameIndex })),
    geometry,
    normal,
    positions,
    offsets,
    medianStep,
    uneven,
    tiltDeg,
    problems,
    options,
  };
}

function frameOf(r: SliceRef) {
  return r.instance.frames[r.frameIndex] ?? r.instance.frames[0];
}

/**
 * Stored with few digits, IOP vectors are near unit length: one decimal (0.7\0.7\0, 0.6\0.6\0.6) is up to about
 * 4 % off; more than 5 % is not rounding but a broken header.
 */
const UNIT_TOLERANCE = 0.05;

function safeUnit(v: Vec3, what: string): Vec3 {
  const l = norm(v);
  if (!(Math.abs(l - 1) <= UNIT_TOLERANCE)) throw new CtscopeError('E_GEOMETRY', `ImageOrientationPatient ${what} direction is not a unit vector (length ${l.toPrecision(4)})`);
  return scale(v, 1 / l);
}

/** PixelSpacing [row, column] of the first slice; reports when it is missing or varies. */
/**
 * What the reader repaired in the series' headers (stray leading bytes, a missing delimiter, an inconsistent
 * HighBit...), one problem per kind of repair with the number of files and the first file's name.
 */
function headerRepairs(instances: readonly DicomInstance[]): SeriesProblem[] {
  const byMessage = new Map<string, string[]>();
  for (const inst of instances) for (const w of new Set(inst.warnings)) byMessage.set(w, [...(byMessage.get(w) ?? []), inst.source]);
  return [...byMessage].map(([message, files]) => ({
    kind: 'header-repaired' as const,
    message: `${message} (${files.length} of ${instances.length} file(s), e.g. ${basename(files[0]!)})`,
  }));
}

function pixelSpacingOf(slices: readonly SliceRef[], problems: SeriesProblem[]): [number, number] {
  const ps = frameOf(slices[0]!)?.pixelSpacing;
  if (!ps || !(ps[0] > 0) || !(ps[1] > 0)) {
    problems.push({ kind: 'no-pixel-spacing', message: 'no PixelSpacing: 1 mm assumed' });
    return [1, 1];
  }
  const varies = slices.some((s) => {
    const o = frameOf(s)?.pixelSpacing;
    return !o || Math.abs(o[0] - ps[0]) > 1e-4 || Math.abs(o[1] - ps[1]) > 1e-4;
  });
  if (varies) problems.push({ kind: 'pixel-spacing-varies', message: `PixelSpacing differs between slices; ${ps[0]} x ${ps[1]} mm of the first slice used` });
  return ps;
}

/** One image without orientation or position: identity axes at the origin, reported. */
function singleWithoutGeometry(ref: SliceRef, problems: SeriesProblem[], options: LayoutOptions): SliceLayout {
  problems.push({ kind: 'no-geometry', message: 'no ImageOrientationPatient/ImagePositionPatient: identity axes at the origin assumed' });
  const ps = pixelSpacingOf([ref], problems);
  const f = frameOf(ref);
  const thickness = f?.sliceThickness && f.sliceThickness > 0 ? f.sliceThickness : 1;
  return {
    slices: [ref],
    geometry: {
      dims: [ref.instance.columns, ref.instance.rows, 1],
      spacing: [ps[1], ps[0], thickness],
      origin: [0, 0, 0],
      direction: [1, 0, 0, 0, 1, 0, 0, 0, 1],
    },
    normal: [0, 0, 1],
    positions: [[0, 0, 0]],
    offsets: [0],
    medianStep: 0,
    uneven: false,
    tiltDeg: 0,
    problems,
    options,
  };
}

/** 0 for lossless (or unknown) transfer syntaxes, 1 for lossy ones. */
function lossyRank(inst: DicomInstance): number {
  return findTransferSyntax(inst.transferSyntaxUid)?.lossy ? 1 : 0;
}

/** Which of two images at one position to keep: lossless before lossy, then InstanceNumber, source, frame. */
function preference(a: SliceRef, b: SliceRef): number {
  return (
    lossyRank(a.instance) - lossyRank(b.instance) ||
    (a.instance.instanceNumber ?? 0) - (b.instance.instanceNumber ?? 0) ||
    cmp(a.instance.source, b.instance.source) ||
    a.frameIndex - b.frameIndex
  );
}
