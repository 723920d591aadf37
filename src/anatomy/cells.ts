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

/** Fine voxels in the cell at (i, j, k): the last cell of an axis may be partial. */
function cellVoxels(g: CellGrid, i: number, j: number, k: number): number {
  const [bx, by, bz] = g.block;
  const [nx, ny, nz] = g.dims;
  return Math.min(bx, nx - i * bx) * Math.min(by, ny - j * by) * Math.min(bz, nz - k * bz);
}

/** Millilitres of the fine voxels in cell `c`. */
export function cellMl(g: CellGrid, c: number): number {
  const [cx, cy] = g.cellDims;
  const voxelMm3 = (g.cellMm[0] / g.block[0]) * (g.cellMm[1] / g.block[1]) * (g.cellMm[2] / g.block[2]);
  return (cellVoxels(g, c % cx, Math.floor(c / cx) % cy, Math.floor(c / (cx * cy))) * voxelMm3) / 1000;
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
      for (let i = 0; i < cx; i++, c++) out[c] = hits[c]! / cellVoxels(g, i, j, k);
  return out;
}

/** The mean of one cell's voxels below `below` (`below` where it has none); for the few cells a rule asks about. */
export function cellMeanBelow(data: ArrayLike<number>, g: CellGrid, cell: number, below: number): number {
  const [nx, ny, nz] = g.dims;
  const [bx, by, bz] = g.block;
  const [cx, cy] = g.cellDims;
  const i = cell % cx, j = Math.floor(cell / cx) % cy, k = Math.floor(cell / (cx * cy));
  let sum = 0, n = 0;
  for (let z = k * bz; z < Math.min(nz, (k + 1) * bz); z++)
    for (let y = j * by; y < Math.min(ny, (j + 1) * by); y++)
      for (let x = i * bx, row = nx * (y + ny * z); x < Math.min(nx, (i + 1) * bx); x++) {
        const v = data[row + x]!;
        if (v < below) {
          sum += v;
          n++;
        }
      }
  return n ? sum / n : below;
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

/** Where the field of view cuts through the body: what tells a cut lung from outside air (reachableFromBorder2d). */
export interface CutLungRule {
  /** Its region's area over the length of its opening on the image's edge, at least (a cut lung is deep). */
  depthMm: number;
  /** A cell's mean value of its air voxels, and the least mean a cut lung's region may have (lung is denser than air). */
  meanHu: (cell: number) => number;
  minMeanHu: number;
}

/**
 * Per axial (z) slice, the cells of `open` reachable from the slice's border through `open` cells
 * (4-connected). Used for the air around the body: lungs are air the border cannot reach. One step per slice.
 * With `cut`, the field of view may cut through the body: then the open region behind an open stretch of the border
 * that does not reach a corner along the border, and that is the only stretch it reaches, is left unreached when it
 * is a cut lung by `cut`'s rule (deep behind its opening, and denser than air). Outside air caught between the body,
 * the arms or the table and the image's edge is shallow or as thin as air; the hollow of a table that spans the
 * image reaches two stretches.
 */
export function* reachableFromBorder2d(open: Uint8Array, g: CellGrid, cut?: CutLungRule): Generator<void, Uint8Array> {
  const [cx, cy, cz] = g.cellDims;
  const seen = new Uint8Array(open.length);
  const queue = new Int32Array(cx * cy);
  const slot = new Int32Array(cx * cy); // a cell's position in this slice's queue
  const ring = borderRing(cx, cy);
  const n = ring.length;
  const edgeMm = (g.cellMm[0] + g.cellMm[1]) / 2, areaMm2 = g.cellMm[0] * g.cellMm[1];
  for (let z = 0; z < cz; z++) {
    const base = z * cx * cy;
    let head = 0, tail = 0;
    const push = (i: number): void => {
      const c = base + i;
      if (open[c] && !seen[c]) {
        seen[c] = 1;
        slot[i] = tail;
        queue[tail++] = i;
      }
    };
    const flood = (): void => {
      while (head < tail) {
        const i = queue[head++]!;
        const x = i % cx, y = (i - x) / cx;
        if (x > 0) push(i - 1);
        if (x < cx - 1) push(i + 1);
        if (y > 0) push(i - cx);
        if (y < cy - 1) push(i + cx);
      }
    };
    if (!cut) {
      for (const i of ring) push(i);
      flood();
      yield;
      continue;
    }
    const ringOpen = (r: number): boolean => open[base + ring[((r % n) + n) % n]!] === 1;
    // The air round the body: the border's open stretches that reach a corner, walked both ways from it.
    for (const corner of [0, cx - 1, cx + cy - 2, 2 * cx + cy - 3]) {
      if (!ringOpen(corner)) continue;
      for (const step of [1, -1]) for (let r = corner, k = 0; k < n && ringOpen(r); r += step, k++) push(ring[((r % n) + n) % n]!);
    }
    flood();
    // Every other open stretch: the region behind it, tried as a cut lung.
    for (const start of ring) {
      if (!open[base + start] || seen[base + start]) continue;
      const from = tail;
      push(start);
      flood();
      const inRegion = (i: number): boolean => seen[base + i] === 1 && slot[i]! >= from && slot[i]! < tail && queue[slot[i]!] === i;
      let opening = 0, stretches = 0, hu = 0;
      for (let r = 0; r < n; r++) {
        const here = inRegion(ring[r]!);
        if (here) opening++;
        if (here && !inRegion(ring[(r + n - 1) % n]!)) stretches++;
      }
      let lung = stretches === 1 && ((tail - from) * areaMm2) / (opening * edgeMm) >= cut.depthMm;
      if (lung) {
        for (let q = from; q < tail; q++) hu += cut.meanHu(base + queue[q]!);
        lung = hu / (tail - from) >= cut.minMeanHu;
      }
      // A cut lung is marked 2 (tried, not reached) so that its other border cells do not start it again.
      if (lung) for (let q = from; q < tail; q++) seen[base + queue[q]!] = 2;
    }
    for (let q = 0; q < tail; q++) if (seen[base + queue[q]!] === 2) seen[base + queue[q]!] = 0;
    yield;
  }
  return seen;
}

/** A slice's border cells (x + cx * y) in order round the ring: top row, right column, bottom row back, left column up. */
function borderRing(cx: number, cy: number): number[] {
  if (cx === 1 || cy === 1) return Array.from({ length: cx * cy }, (_, i) => i);
  const ring: number[] = [];
  for (let x = 0; x < cx; x++) ring.push(x);
  for (let y = 1; y < cy; y++) ring.push(cx - 1 + cx * y);
  for (let x = cx - 2; x >= 0; x--) ring.push(x + cx * (cy - 1));
  for (let y = cy - 2; y >= 1; y--) ring.push(cx * y);
  return ring;
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
