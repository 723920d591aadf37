import type { Shape } from './shapes.js';

/**
 * The HU volume being drawn, with the LPS coordinate of every index along each axis.
 * Phantom grids are axis-aligned (i along ±x, j along ±y, k along ±z), so a voxel's LPS position is
 * (X[i], Y[j], Z[k]) and a shape's bounding box maps to an index range per axis.
 */
export interface Canvas {
  data: Float32Array;
  nx: number;
  ny: number;
  nz: number;
  X: Float64Array;
  Y: Float64Array;
  Z: Float64Array;
  /** In-plane voxel size (mm): the width of the anti-aliased edge. */
  h: number;
}

export interface PaintOptions {
  /** Edge width in voxels for the partial-volume ramp (1 = one voxel; larger = fuzzier, e.g. ground glass). */
  edge?: number;
  /** Only change voxels whose current value is at most this (e.g. vessels drawn only inside lung). */
  maskMax?: number;
  /** Only change voxels whose current value is at least this. */
  maskMin?: number;
  /** HU change per mm along LPS y (gravity-dependent lung density). */
  gradY?: number;
  /** LPS y where `hu` applies exactly when gradY is set. */
  refY?: number;
}

const TILE = 8;

/** Share of the voxels whose centres lie within `radius` mm of `center` that are above `level` HU (0 when none). */
export function fractionAbove(cv: Canvas, center: readonly [number, number, number], radius: number, level: number): number {
  const [i0, i1] = indexRange(cv.X, center[0] - radius, center[0] + radius);
  const [j0, j1] = indexRange(cv.Y, center[1] - radius, center[1] + radius);
  const [k0, k1] = indexRange(cv.Z, center[2] - radius, center[2] + radius);
  let inside = 0, above = 0;
  for (let k = k0; k <= k1; k++)
    for (let j = j0; j <= j1; j++)
      for (let i = i0; i <= i1; i++) {
        if (Math.hypot(cv.X[i]! - center[0], cv.Y[j]! - center[1], cv.Z[k]! - center[2]) > radius) continue;
        inside++;
        if (cv.data[i + cv.nx * (j + cv.ny * k)]! > level) above++;
      }
  return inside ? above / inside : 0;
}

function indexRange(coords: Float64Array, lo: number, hi: number): [number, number] {
  const n = coords.length;
  if (n === 1) return coords[0]! >= lo && coords[0]! <= hi ? [0, 0] : [1, 0];
  const c0 = coords[0]!, step = coords[1]! - coords[0]!;
  const a = (lo - c0) / step, b = (hi - c0) / step;
  const i0 = Math.max(0, Math.floor(Math.min(a, b))), i1 = Math.min(n - 1, Math.ceil(Math.max(a, b)));
  return [i0, i1];
}

/** Slices paintSteps paints between two yields: a few milliseconds for a shape across a 512 x 512 slice. */
const SLICES_PER_STEP = 4;

/**
 * Draws `shape` with value `hu`, blending by partial-volume coverage: v += a * (hu - v), where a ramps
 * from 1 inside to 0 outside over `edge` voxels. Work stays inside the shape's bounding box (or its
 * per-slice rectangle), and whole 8x8 tiles, then 4x4 quarters, are filled or skipped from one distance
 * bound at their centre; only voxels near the surface evaluate the distance themselves. A few slices at a
 * time, yielding in between, so a caller can let its event loop run (and see an abort) while a large shape is
 * drawn; slices are independent, so the voxels do not depend on how the steps are paced.
 */
export function* paintSteps(cv: Canvas, shape: Shape, hu: number, opts: PaintOptions = {}): Generator<void, void, void> {
  const box = paintBox(cv, shape, opts);
  if (!box) return;
  for (let k = box[4]; k <= box[5]; k += SLICES_PER_STEP) {
    paintSlices(cv, shape, hu, opts, box, k, Math.min(box[5], k + SLICES_PER_STEP - 1));
    yield;
  }
}

/** cv.data.fill(value) a few slices at a time (first touch of a large volume takes seconds). */
export function* fillSteps(cv: Canvas, value: number): Generator<void, void, void> {
  const n = cv.nx * cv.ny;
  for (let k = 0; k < cv.nz; k += SLICES_PER_STEP) {
    cv.data.fill(value, k * n, Math.min(cv.nz, k + SLICES_PER_STEP) * n);
    yield;
  }
}

/** Index ranges [i0, i1, j0, j1, k0, k1] a shape's bounding box (with its edge) covers, or null when none. */
type PaintBox = [number, number, number, number, number, number];

function paintBox(cv: Canvas, shape: Shape, opts: PaintOptions): PaintBox | null {
  const pad = cv.h * (opts.edge ?? 1);
  const [i0, i1] = indexRange(cv.X, shape.min[0] - pad, shape.max[0] + pad);
  const [j0, j1] = indexRange(cv.Y, shape.min[1] - pad, shape.max[1] + pad);
  const [k0, k1] = indexRange(cv.Z, shape.min[2] - pad, shape.max[2] + pad);
  return i0 > i1 || j0 > j1 || k0 > k1 ? null : [i0, i1, j0, j1, k0, k1];
}

/** paintSteps over slices kFrom..kTo (within the box). */
function paintSlices(cv: Canvas, shape: Shape, hu: number, opts: PaintOptions, box: PaintBox, kFrom: number, kTo: number): void {
  const w = cv.h * (opts.edge ?? 1);
  const pad = w;
  const [i0, i1, j0, j1] = box;
  const { data, nx, ny, X, Y, Z } = cv;
  const maskMax = opts.maskMax ?? Infinity, maskMin = opts.maskMin ?? -Infinity;
  const masked = opts.maskMax !== undefined || opts.maskMin !== undefined;
  const gradY = opts.gradY ?? 0, refY = opts.refY ?? 0;
  const invW = 1 / w;
  for (let k = kFrom; k <= kTo; k++) {
    const z = Z[k]!;
    if (shape.slice && !shape.slice(z)) continue;
    let a0 = i0, a1 = i1, b0 = j0, b1 = j1;
    const rect = shape.rect;
    if (rect) {
      const [ri0, ri1] = indexRange(X, rect[0]! - pad, rect[1]! + pad);
      const [rj0, rj1] = indexRange(Y, rect[2]! - pad, rect[3]! + pad);
      a0 = Math.max(a0, ri0);
      a1 = Math.min(a1, ri1);
      b0 = Math.max(b0, rj0);
      b1 = Math.min(b1, rj1);
      if (a0 > a1 || b0 > b1) continue;
    }
    const sliceBase = k * nx * ny;
    for (let tj = b0; tj <= b1; tj += TILE) {
      const tj1 = Math.min(b1, tj + TILE - 1);
      const yc = 0.5 * (Y[tj]! + Y[tj1]!);
      const ry = 0.5 * Math.abs(Y[tj1]! - Y[tj]!);
      for (let ti = a0; ti <= a1; ti += TILE) {
        const ti1 = Math.min(a1, ti + TILE - 1);
        const xc = 0.5 * (X[ti]! + X[ti1]!);
        const r = Math.hypot(ry, 0.5 * Math.abs(X[ti1]! - X[ti]!)) + w;
        const b = shape.bound(xc, yc, z);
        if (b > r) continue;
        if (b < -r) {
          fillTile(data, sliceBase, nx, ti, ti1, tj, tj1, Y, hu, gradY, refY, masked, maskMin, maskMax);
          continue;
        }
        // The boundary crosses this tile: test its four quarters before touching single voxels.
        const hi = (ti1 - ti + 1) >> 1, hj = (tj1 - tj + 1) >> 1;
        for (let qj = 0; qj < 2; qj++) {
          const sj0 = qj === 0 ? tj : tj + hj, sj1 = qj === 0 ? tj + hj - 1 : tj1;
          if (sj0 > sj1) continue;
          for (let qi = 0; qi < 2; qi++) {
            const si0 = qi === 0 ? ti : ti + hi, si1 = qi === 0 ? ti + hi - 1 : ti1;
            if (si0 > si1) continue;
            const sr = Math.hypot(0.5 * Math.abs(Y[sj1]! - Y[sj0]!), 0.5 * Math.abs(X[si1]! - X[si0]!)) + w;
            const sb = shape.bound(0.5 * (X[si0]! + X[si1]!), 0.5 * (Y[sj0]! + Y[sj1]!), z);
            if (sb > sr) continue;
            if (sb < -sr) {
              fillTile(data, sliceBase, nx, si0, si1, sj0, sj1, Y, hu, gradY, refY, masked, maskMin, maskMax);
              continue;
            }
            for (let j = sj0; j <= sj1; j++) {
              const y = Y[j]!;
              const v = gradY === 0 ? hu : hu + gradY * (y - refY);
              const row = sliceBase + j * nx;
              for (let i = si0; i <= si1; i++) {
                const idx = row + i;
                const cur = data[idx]!;
                if (masked && (cur > maskMax || cur < maskMin)) continue;
                const d = shape.sd(X[i]!, y, z);
                let a = 0.5 - d * invW;
                if (a <= 0) continue;
                if (a > 1) a = 1;
                data[idx] = cur + a * (v - cur);
              }
            }
          }
        }
      }
    }
  }
}

function fillTile(
  data: Float32Array, base: number, nx: number, i0: number, i1: number, j0: number, j1: number,
  Y: Float64Array, hu: number, gradY: number, refY: number, masked: boolean, maskMin: number, maskMax: number,
): void {
  for (let j = j0; j <= j1; j++) {
    const v = gradY === 0 ? hu : hu + gradY * (Y[j]! - refY);
    const row = base + j * nx;
    if (!masked) {
      for (let i = row + i0; i <= row + i1; i++) data[i] = v;
      continue;
    }
    for (let i = row + i0; i <= row + i1; i++) {
      const cur = data[i]!;
      if (cur <= maskMax && cur >= maskMin) data[i] = v;
    }
  }
}
