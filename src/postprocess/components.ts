import type { Vec3 } from '../volume/types.js';
import type { Candidate, Map3 } from './candidate.js';

export interface ComponentOptions {
  threshold: number;
  /** 6 (faces) or 26 (faces, edges, corners); default 26. */
  connectivity?: 6 | 26;
  /** Components smaller than this many voxels are dropped. */
  minVoxels?: number;
}

/** Neighbour offsets (di, dj, dk) for a connectivity. */
function offsets(connectivity: 6 | 26): Vec3[] {
  const out: Vec3[] = [];
  for (let dk = -1; dk <= 1; dk++)
    for (let dj = -1; dj <= 1; dj++)
      for (let di = -1; di <= 1; di++) {
        const n = Math.abs(di) + Math.abs(dj) + Math.abs(dk);
        if (n === 0 || (connectivity === 6 && n > 1)) continue;
        out.push([di, dj, dk]);
      }
  return out;
}

/**
 * Segmentation to candidates: connected components of `value >= threshold`. Each candidate's centre is the
 * probability-weighted centroid, its score the component's highest value, its size the voxel count.
 */
export function connectedComponents(map: Map3, o: ComponentOptions): Candidate[] {
  const { data, dims } = map;
  const [nx, ny, nz] = dims;
  const total = nx * ny * nz;
  const seen = new Uint8Array(total);
  const nbrs = offsets(o.connectivity ?? 26);
  const stack = new Int32Array(total);
  const out: Candidate[] = [];
  for (let seed = 0; seed < total; seed++) {
    if (seen[seed] || !(data[seed]! >= o.threshold)) continue;
    seen[seed] = 1;
    let top = 0;
    stack[top++] = seed;
    let count = 0, wsum = 0, ci = 0, cj = 0, ck = 0, best = -Infinity;
    while (top > 0) {
      const v = stack[--top]!;
      const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
      const p = data[v]!;
      count++;
      wsum += p;
      ci += p * i;
      cj += p * j;
      ck += p * k;
      if (p > best) best = p;
      for (const [di, dj, dk] of nbrs) {
        const x = i + di, y = j + dj, z = k + dk;
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
        const n = x + nx * (y + ny * z);
        if (seen[n] || !(data[n]! >= o.threshold)) continue;
        seen[n] = 1;
        stack[top++] = n;
      }
    }
    if (count < (o.minVoxels ?? 1)) continue;
    out.push({ center: [ci / wsum, cj / wsum, ck / wsum], score: best, voxels: count });
  }
  return out.sort((a, b) => b.score - a.score);
}
