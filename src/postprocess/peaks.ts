import type { Vec3 } from '../volume/types.js';
import type { Candidate, Map3 } from './candidate.js';
import { runToEnd } from '../io/turns.js';

export interface PeakOptions {
  /** Peaks below this value are ignored. */
  threshold: number;
  /** Voxel spacing (mm), to turn `minDistanceMm` into voxels per axis. */
  spacing: Vec3;
  /** A peak within this distance of a higher one is suppressed. */
  minDistanceMm: number;
  /** Region for size: voxels connected to the peak at or above this fraction of its value (0 = no size). */
  sizeLevel?: number;
  maxPeaks?: number;
  /**
   * Only maxima at voxels (i, j, k) it accepts are returned. The others still suppress lower maxima near them
   * (as without it), but take none of `maxPeaks`.
   */
  accept?: (i: number, j: number, k: number) => boolean;
  /** A peak's region stops growing at this many voxels (default 2^20). */
  maxRegionVoxels?: number;
}

/** Parabola through three samples: offset of its vertex from the middle one, in (-0.5, 0.5). */
function vertexOffset(a: number, b: number, c: number): number {
  const d = a - 2 * b + c;
  if (!(d < 0)) return 0;
  const t = (0.5 * (a - c)) / d;
  return t > 0.5 ? 0.5 : t < -0.5 ? -0.5 : t;
}

/**
 * Heatmap to candidates: 3-D local maxima (26-neighbourhood) above the threshold, greedy suppression of
 * lower maxima within the minimum distance, sub-voxel centres by a parabola per axis, and each peak's size
 * from the region connected to it above `sizeLevel` x its value.
 */
export function findPeaks(map: Map3, o: PeakOptions): Candidate[] {
  return runToEnd(peakSearch(map, o));
}

/** findPeaks as steps (one per slice of the scan) for runWithTurns: a whole map takes about 0.1 s. */
export function* peakSearch(map: Map3, o: PeakOptions): Generator<void, Candidate[]> {
  const { data, dims } = map;
  const [nx, ny, nz] = dims;
  const sx = 1, sy = nx, sz = nx * ny;
  const maxima: number[] = [];
  for (let k = 0; k < nz; k++) {
    for (let j = 0; j < ny; j++)
      for (let i = 0, v = nx * (j + ny * k); i < nx; i++, v++) {
        const c = data[v]!;
        if (!(c >= o.threshold)) continue;
        let isMax = true;
        for (let dk = -1; dk <= 1 && isMax; dk++) {
          const z = k + dk;
          if (z < 0 || z >= nz) continue;
          for (let dj = -1; dj <= 1 && isMax; dj++) {
            const y = j + dj;
            if (y < 0 || y >= ny) continue;
            for (let di = -1; di <= 1; di++) {
              const x = i + di;
              if (x < 0 || x >= nx || (di === 0 && dj === 0 && dk === 0)) continue;
              const n = data[x + sy * y + sz * z]!;
              // Plateaus: the first voxel in memory order wins.
              if (n > c || (n === c && x + sy * y + sz * z < v)) {
                isMax = false;
                break;
              }
            }
          }
        }
        if (isMax) maxima.push(v);
      }
    yield;
  }
  maxima.sort((a, b) => data[b]! - data[a]!);
  const r2 = o.minDistanceMm * o.minDistanceMm;
  const kept: { v: number; i: number; j: number; k: number }[] = [];
  const rejected: { i: number; j: number; k: number }[] = [];
  const max = o.maxPeaks ?? Infinity;
  for (const v of maxima) {
    const i = v % nx, j = Math.floor(v / nx) % ny, k = Math.floor(v / sz);
    const near = (p: { i: number; j: number; k: number }): boolean => ((p.i - i) * o.spacing[0]) ** 2 + ((p.j - j) * o.spacing[1]) ** 2 + ((p.k - k) * o.spacing[2]) ** 2 < r2;
    if (kept.some(near) || rejected.some(near)) continue;
    if (o.accept && !o.accept(i, j, k)) {
      rejected.push({ i, j, k });
      continue;
    }
    kept.push({ v, i, j, k });
    if (kept.length >= max) break;
  }
  // One fill for every peak: its visit bits are cleared after each region, never reallocated.
  const fill = o.sizeLevel ? new RegionFill(map, o.maxRegionVoxels ?? DEFAULT_MAX_REGION) : undefined;
  const found: Candidate[] = [];
  for (const { v, i, j, k } of kept) {
    const c = data[v]!;
    const off = (pos: number, n: number, stride: number): number =>
      pos > 0 && pos < n - 1 ? vertexOffset(data[v - stride]!, c, data[v + stride]!) : 0;
    const center: Vec3 = [i + off(i, nx, sx), j + off(j, ny, sy), k + off(k, nz, sz)];
    // Low peaks can have regions of tens of thousands of voxels each: the fills yield as they go.
    const voxels = fill ? yield* fill.sizeSteps(v, c * o.sizeLevel!) : 0;
    found.push({ center, score: c, voxels });
    yield;
  }
  return found;
}

/** Regions larger than this stop growing: no lesion is that big, and a runaway fill must not stall the host. */
const DEFAULT_MAX_REGION = 1 << 20;

/** Voxels a fill visits between two yields (about 1 ms). */
const FILL_STEP = 1 << 16;

/**
 * 6-connected flood fills over one map. Visited voxels are marked in a bit set (1 bit per voxel of the map:
 * 3.6 MiB for a 1 mm chest grid, where a 4-byte stamp array would cost 115 MiB), and the fill's own list of
 * voxels clears exactly its bits afterwards, so many fills share one set. A JS Set was 2.3x slower here:
 * a hundred low peaks of 25 k voxels each took 132-160 ms, against 57-67 ms.
 */
export class RegionFill {
  readonly #map: Map3;
  readonly #seen: Uint32Array;
  #list: Int32Array;
  readonly #cap: number;

  constructor(map: Map3, cap = DEFAULT_MAX_REGION) {
    this.#map = map;
    const [nx, ny, nz] = map.dims;
    this.#seen = new Uint32Array(Math.ceil((nx * ny * nz) / 32));
    this.#list = new Int32Array(1024);
    this.#cap = cap;
  }

  /** Voxels 6-connected to `seed` with value >= level, counted up to the cap. */
  size(seed: number, level: number): number {
    return runToEnd(this.sizeSteps(seed, level));
  }

  /** `size` as steps of at most FILL_STEP voxels, for runWithTurns. */
  *sizeSteps(seed: number, level: number): Generator<void, number> {
    const { data, dims } = this.#map;
    const [nx, ny, nz] = dims;
    const sz = nx * ny;
    const seen = this.#seen;
    const cap = this.#cap;
    // Breadth first: list[0, count) holds every voxel taken, list[head, count) those still to expand.
    let list = this.#list;
    list[0] = seed;
    seen[seed >>> 5] = seen[seed >>> 5]! | (1 << (seed & 31));
    let count = 1;
    const take = (n: number): void => {
      const bit = 1 << (n & 31);
      const w = n >>> 5;
      if (!(data[n]! >= level) || seen[w]! & bit) return;
      seen[w] = seen[w]! | bit;
      if (count === list.length) {
        const grown = new Int32Array(list.length * 2);
        grown.set(list);
        list = this.#list = grown;
      }
      list[count++] = n;
    };
    let nextYield = FILL_STEP;
    for (let head = 0; head < count && count < cap; head++) {
      const v = list[head]!;
      const i = v % nx, j = ((v - i) / nx) % ny, k = (v - i - nx * j) / sz;
      if (i > 0) take(v - 1);
      if (i < nx - 1) take(v + 1);
      if (j > 0) take(v - nx);
      if (j < ny - 1) take(v + nx);
      if (k > 0) take(v - sz);
      if (k < nz - 1) take(v + sz);
      if (head >= nextYield) {
        nextYield += FILL_STEP;
        yield;
      }
    }
    for (let n = 0; n < count; n++) {
      const w = list[n]!;
      seen[w >>> 5] = seen[w >>> 5]! & ~(1 << (w & 31));
    }
    return Math.min(count, cap);
  }
}

/** Voxels 6-connected to `seed` with value >= level (a single fill; see RegionFill for many). */
export function regionSize(map: Map3, seed: number, level: number): number {
  return new RegionFill(map).size(seed, level);
}
