import { CtscopeError } from '../errors.js';
import type { Vec3 } from '../volume/types.js';
import type { Patch } from './window.js';

/**
 * The merging half of sliding-window inference: an importance map per patch and a merger that blends
 * overlapping predictions while holding only a ring of k-slices of accumulators.
 */

/** Importance of each patch voxel [pk, pj, pi]: a separable Gaussian around the centre, or ones. */
export function importanceMap(size: Vec3, blend: 'gaussian' | 'constant', sigmaScale: number): Float32Array {
  const [pi, pj, pk] = size;
  const map = new Float32Array(pi * pj * pk);
  if (blend === 'constant') return map.fill(1);
  const axis = (p: number): Float64Array => {
    const g = new Float64Array(p);
    const c = (p - 1) / 2, s = Math.max(sigmaScale * p, 1e-6);
    for (let x = 0; x < p; x++) g[x] = Math.exp(-((x - c) ** 2) / (2 * s * s));
    return g;
  };
  const gi = axis(pi), gj = axis(pj), gk = axis(pk);
  let max = 0;
  for (let k = 0, o = 0; k < pk; k++) for (let j = 0; j < pj; j++) for (let i = 0; i < pi; i++, o++) max = Math.max(max, (map[o] = gk[k]! * gj[j]! * gi[i]!));
  // Normalise to 1 at the centre and keep the rim above zero, so every voxel gets weight.
  let minPositive = Infinity;
  for (let o = 0; o < map.length; o++) {
    map[o] = map[o]! / max;
    if (map[o]! > 0) minPositive = Math.min(minPositive, map[o]!);
  }
  const floor = Math.max(1e-3, minPositive);
  for (let o = 0; o < map.length; o++) if (map[o]! < floor) map[o] = floor;
  return map;
}

/**
 * Blends dense patch predictions into whole-volume maps. Accumulators cover a ring of k-slices; once the grid
 * has moved past a slice, it is divided by its weight and written to the output.
 */
export class DenseMerger {
  readonly outputs: Float32Array[];
  #dims: Vec3;
  #patch: Vec3;
  #importance: Float32Array;
  #depth: number;
  #acc: Float32Array[];
  #weight: Float32Array;
  #done = 0;

  constructor(dims: Vec3, patch: Vec3, channels: number, importance: Float32Array, ringDepth: number) {
    this.#dims = dims;
    this.#patch = patch;
    this.#importance = importance;
    this.#depth = Math.max(1, Math.min(dims[2], ringDepth));
    const slab = dims[0] * dims[1] * this.#depth;
    this.outputs = Array.from({ length: channels }, () => new Float32Array(dims[0] * dims[1] * dims[2]));
    this.#acc = Array.from({ length: channels }, () => new Float32Array(slab));
    this.#weight = new Float32Array(slab);
  }

  /**
   * Adds patch `n` of a batch output laid out [B, C, pk, pj, pi]; `channels` picks C indices. `zFrom`/`zTo` add
   * only those slices of it, so a caller can yield between parts: the first patches touch fresh ring memory, and
   * its page faults made one whole patch take 35-55 ms.
   */
  aggregate(p: Patch, data: Float32Array, n: number, channelsInOutput: number, channels: number[], zFrom = p.validLo[2], zTo = p.validHi[2]): void {
    const [nx, ny] = this.#dims;
    const [pi, pj, pk] = this.#patch;
    const plane = nx * ny;
    const pvol = pi * pj * pk;
    const imp = this.#importance;
    if (channels.length === 0) return;
    if (p.validLo[2] < this.#done || p.validHi[2] - this.#done > this.#depth) {
      throw new CtscopeError('E_INTERNAL', `patch at k=${p.start[2]} falls outside the stitching slab [${this.#done}, ${this.#done + this.#depth})`);
    }
    const weight = this.#weight;
    const depth = this.#depth;
    const x0 = p.validLo[0], x1 = p.validHi[0];
    // Offsets that turn a row position into a patch position, per channel.
    const bases = channels.map((ch) => (n * channelsInOutput + ch) * pvol);
    for (let z = Math.max(zFrom, p.validLo[2]); z < Math.min(zTo, p.validHi[2]); z++) {
      const ring = (z % depth) * plane;
      const kz = z - p.start[2];
      for (let y = p.validLo[1]; y < p.validHi[1]; y++) {
        const dst = ring + nx * y;
        const src = pi * (y - p.start[1] + pj * kz) - p.start[0];
        blendRow(weight, this.#acc[0]!, imp, data, dst + x0, src + x0, bases[0]! + src + x0, x1 - x0);
        for (let c = 1; c < bases.length; c++) blendRow(null, this.#acc[c]!, imp, data, dst + x0, src + x0, bases[c]! + src + x0, x1 - x0);
      }
    }
  }

  /** Writes slices [done, upTo) to the outputs and clears their ring slots. Voxels no patch covered get 0. */
  finalize(upTo: number): void {
    while (this.finalizeNext(upTo));
  }

  /** Finalizes the next slice below `upTo`, if any (one slice at a time, so callers can yield between). */
  finalizeNext(upTo: number): boolean {
    const [nx, ny, nz] = this.#dims;
    const plane = nx * ny;
    const z = this.#done;
    if (z >= Math.min(upTo, nz)) return false;
    const ring = (z % this.#depth) * plane;
    const w = this.#weight;
    for (let c = 0; c < this.#acc.length; c++) {
      normaliseSlice(this.outputs[c]!, z * plane, this.#acc[c]!, w, ring, plane);
      this.#acc[c]!.fill(0, ring, ring + plane);
    }
    w.fill(0, ring, ring + plane);
    this.#done = z + 1;
    return true;
  }
}

/** Hot loop of the merger, kept monomorphic: acc += imp * pred (and weight += imp) over one row. */
function blendRow(weight: Float32Array | null, acc: Float32Array, imp: Float32Array, pred: Float32Array, dst: number, src: number, p0: number, n: number): void {
  if (weight) {
    for (let x = 0; x < n; x++) {
      const w = imp[src + x]!;
      weight[dst + x] += w;
      acc[dst + x] += w * pred[p0 + x]!;
    }
  } else for (let x = 0; x < n; x++) acc[dst + x] += imp[src + x]! * pred[p0 + x]!;
}

function normaliseSlice(out: Float32Array, o: number, acc: Float32Array, w: Float32Array, ring: number, n: number): void {
  for (let v = 0; v < n; v++) {
    const wv = w[ring + v]!;
    out[o + v] = wv > 0 ? acc[ring + v]! / wv : 0;
  }
}

/** Ring depth that holds every slice a batch can touch before the slices behind it are finished. */
export function ringDepthFor(grid: Patch[], batchSize: number, patchK: number): number {
  let span = 0;
  for (let b = 0; b < grid.length; b += batchSize) {
    const batch = grid.slice(b, b + batchSize);
    span = Math.max(span, batch[batch.length - 1]!.start[2] - batch[0]!.start[2]);
  }
  return span + patchK;
}
