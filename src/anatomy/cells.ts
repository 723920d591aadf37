/**
 * Coarse cell grids for organ masks. A mask is computed on cells of a few millimetres (a 1 mm chest grid of
 * 36 M voxels is 0.6 M cells of 4 mm), where the morphology it needs (flood fills, components, closing by
 * distance) costs milliseconds, and is looked up per voxel through the block size.
 */
import type { Vec3 } from '../volume/types.js';

export interface CellGrid {
  /** Voxels of the fine grid. */
  dims: Vec3;
  /** Fine voxels per cell along each axis. */
  block: Vec3;
  /** Cells along each axis (the last cell of an axis may be partial). */
  cellDims: Vec3;
  /** Cell edge in mm along each axis. */
  cellMm: Vec3;
}

/** A cell grid with one byte per cell (non-zero: inside). */
export interface CellMask extends CellGrid {
  cells: Uint8Array;
}

/** Cells of about `cellMm` on a grid of `dims` voxels spaced `spacing` mm. */
export function cellGrid(dims: Vec3, spacing: Vec3, cellMm: number): CellGrid {
  const block = spacing.map((s) => Math.max(1, Math.round(cellMm / s))) as Vec3;
  return {
    dims: [...dims],
    block,
    cellDims: dims.map((d, a) => Math.ceil(d / block[a]!)) as Vec3,
    cellMm: spacing.map((s, a) => s * block[a]!) as Vec3,
  };
}

export function cellCount(g: CellGrid): number {
  return g.cellDims[0] * g.cellDims[1] * g.cellDims[2];
}

/**
 * Fraction of each cell's voxels whose value lies below `below`, one fine z slice per step (a 1 mm chest grid
 * is a few hundred milliseconds of reading on the host's thread).
 */
export function* fractionBelow(data: ArrayLike<number>, g: CellGrid, below: number): Generator<void, Float32Array> {
  const [nx, ny, nz] = g.dims;
  const [bx, by, bz] = g.block;
  const [cx, cy] = g.cellDims;
  const hits = new Uint32Array(cellCount(g));
  const cellOfX = new Int32Array(nx);
  for (let x = 0; x < nx; x++) cellOfX[x] = Math.floor(x / bx);
  for (let z = 0; z < nz; z++) {
    const cz = Math.floor(z / bz) * cx * cy;
    for (let y = 0; y < ny; y++) {
      const row = nx * (y + ny * z);
      const cyz = cz + Math.floor(y / by) * cx;
      for (let x = 0; x < nx; x++) if (data[row + x]! < below) hits[cyz + cellOfX[x]!]!++;
    }
    yield;
  }
  const out = new Float32Array(hits.length);
  let c = 0;
  for (let k = 0; k < g.cellDims[2]; k++)
    for (let j = 0; j < cy; j++)
      for (let i = 0; i < cx; i++, c++) {
        const n = Math.min(bx, nx - i * bx) * Math.min(by, ny - j * by) * Math.min(bz, nz - k * bz);
        out[c] = hits[c]! / n;
      }
  return out;
}

/** Whether the fine voxel position (continuous i, j, k; clamped to the grid) lies in a set cell. */
export function cellAt(m: CellMask, p: Vec3): boolean {
  const [cx, cy] = m.cellDims;
  const c = [0, 1, 2].map((a) => Math.min(m.cellDims[a]! - 1, Math.max(0, Math.floor(Math.round(p[a]!) / m.block[a]!))));
  return m.cells[c[0]! + cx * (c[1]! + cy * c[2]!)] !== 0;
}

/** Whether any set cell touches the fine voxel box [lo, hi) (exclusive upper bounds). */
export function cellsHit(m: CellMask, lo: Vec3, hi: Vec3): boolean {
  if (hi[0] <= lo[0] || hi[1] <= lo[1] || hi[2] <= lo[2]) return false;
  const [cx, cy] = m.cellDims;
  const a0 = lo.map((v, a) => Math.floor(v / m.block[a]!));
  const a1 = hi.map((v, a) => Math.min(m.cellDims[a]! - 1, Math.floor((v - 1) / m.block[a]!)));
  for (let z = a0[2]!; z <= a1[2]!; z++)
    for (let y = a0[1]!; y <= a1[1]!; y++)
      for (let x = a0[0]!; x <= a1[0]!; x++) if (m.cells[x + cx * (y + cy * z)] !== 0) return true;
  return false;
}

/**
 * Per axial (z) slice, the cells of `open` reachable from the slice's border through `open` cells
 * (4-connected). Used for the air around the body: lungs are air the border cannot reach. One step per slice.
 */
export function* reachableFromBorder2d(open: Uint8Array, g: CellGrid): Generator<void, Uint8Array> {
  const [cx, cy, cz] = g.cellDims;
  const seen = new Uint8Array(open.length);
  const queue = new Int32Array(cx * cy);
  for (let z = 0; z < cz; z++) {
    const base = z * cx * cy;
    let head = 0, tail = 0;
    const push = (x: number, y: number): void => {
      const c = base + x + cx * y;
      if (open[c] && !seen[c]) {
        seen[c] = 1;
        queue[tail++] = x + cx * y;
      }
    };
    for (let x = 0; x < cx; x++) { push(x, 0); push(x, cy - 1); }
    for (let y = 0; y < cy; y++) { push(0, y); push(cx - 1, y); }
    while (head < tail) {
      const i = queue[head++]!;
      const x = i % cx, y = (i - x) / cx;
      if (x > 0) push(x - 1, y);
      if (x < cx - 1) push(x + 1, y);
      if (y > 0) push(x, y - 1);
      if (y < cy - 1) push(x, y + 1);
    }
    yield;
  }
  return seen;
}

const FAR = 1e20;

/**
 * Squared Euclidean distance (mm^2) from each cell to the nearest set cell, exact (separable, Felzenszwalb and
 * Huttenlocher), as steps: one per plane of lines, so a million cells never hold the host's thread for long.
 */
export function* distanceSq(mask: Uint8Array, g: CellGrid): Generator<void, Float64Array> {
  const d = new Float64Array(mask.length);
  for (let c = 0; c < mask.length; c++) d[c] = mask[c] ? 0 : FAR;
  const [cx, cy, cz] = g.cellDims;
  const n = Math.max(cx, cy, cz);
  const f = new Float64Array(n), out = new Float64Array(n), z = new Float64Array(n + 1);
  const v = new Int32Array(n);
  const strides: Vec3 = [1, cx, cx * cy];
  for (let a = 0; a < 3; a++) {
    const len = g.cellDims[a]!, stride = strides[a]!, s2 = g.cellMm[a]! ** 2;
    const others = [0, 1, 2].filter((b) => b !== a);
    const [p, q] = others as [number, number];
    for (let j = 0; j < g.cellDims[q]!; j++) {
      for (let i = 0; i < g.cellDims[p]!; i++) {
        const base = i * strides[p]! + j * strides[q]!;
        for (let k = 0; k < len; k++) f[k] = d[base + k * stride]!;
        lowerEnvelope(f, len, s2, out, v, z);
        for (let k = 0; k < len; k++) d[base + k * stride] = out[k]!;
      }
      yield;
    }
  }
  return d;
}

/** out[q] = min_p (s2 (q - p)^2 + f[p]) over one line (the 1-D squared distance transform). */
function lowerEnvelope(f: Float64Array, n: number, s2: number, out: Float64Array, v: Int32Array, z: Float64Array): void {
  let k = -1;
  for (let q = 0; q < n; q++) {
    if (f[q]! >= FAR) continue;
    let s = -Infinity;
    while (k >= 0) {
      const p = v[k]!;
      s = (f[q]! + s2 * q * q - (f[p]! + s2 * p * p)) / (2 * s2 * (q - p));
      if (s <= z[k]!) k--;
      else break;
    }
    k++;
    v[k] = q;
    z[k] = k === 0 ? -Infinity : s;
    z[k + 1] = Infinity;
  }
  if (k < 0) {
    out.fill(FAR, 0, n);
    return;
  }
  let j = 0;
  for (let q = 0; q < n; q++) {
    while (z[j + 1]! < q) j++;
    const p = v[j]!;
    out[q] = s2 * (q - p) * (q - p) + f[p]!;
  }
}

/** Cells within `mm` of a set cell (Euclidean ball). */
export function* dilate(mask: Uint8Array, g: CellGrid, mm: number): Generator<void, Uint8Array> {
  if (mm <= 0) return mask.slice();
  const d = yield* distanceSq(mask, g), r2 = mm * mm + 1e-9;
  const out = new Uint8Array(mask.length);
  for (let c = 0; c < mask.length; c++) out[c] = d[c]! <= r2 ? 1 : 0;
  return out;
}

/** Cells farther than `mm` from every unset cell (erosion by a ball; nothing beyond the grid's faces counts as unset). */
export function* erode(mask: Uint8Array, g: CellGrid, mm: number): Generator<void, Uint8Array> {
  const inverse = new Uint8Array(mask.length);
  for (let c = 0; c < mask.length; c++) inverse[c] = mask[c] ? 0 : 1;
  const grown = yield* dilate(inverse, g, mm);
  for (let c = 0; c < mask.length; c++) grown[c] = grown[c] ? 0 : 1;
  return grown;
}

/** The mask with, in each axial (z) slice, the unset cells it encloses (those the slice's border cannot reach) set. */
export function* fillHoles2d(mask: Uint8Array, g: CellGrid): Generator<void, Uint8Array> {
  const open = new Uint8Array(mask.length);
  for (let c = 0; c < mask.length; c++) open[c] = mask[c] ? 0 : 1;
  const reached = yield* reachableFromBorder2d(open, g);
  const out = new Uint8Array(mask.length);
  for (let c = 0; c < mask.length; c++) out[c] = mask[c] || !reached[c] ? 1 : 0;
  return out;
}
