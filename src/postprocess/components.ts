import type { Vec3 } from '../volume/types.js';
import type { Candidate, Map3 } from './candidate.js';
import { runToEnd } from '../io/turns.js';

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
 * Labels the connected components of `value >= threshold`: a label per voxel (0 outside, components numbered
 * from 1 in scan order) and each component's voxel count (`sizes[label - 1]`). The fill's stack grows with the
 * component, so memory is the label array plus the largest component's frontier.
 */
export function labelComponents(map: Map3, o: Pick<ComponentOptions, 'threshold' | 'connectivity'>): { labels: Int32Array; sizes: number[] } {
  return runToEnd(labelComponentsSteps(map, o));
}

/** Voxels labelled between two yields of labelComponentsSteps (a few milliseconds, cold). */
const LABEL_STEP = 1 << 16;

/** labelComponents as steps for runWithTurns: it yields after every LABEL_STEP voxels labelled or scanned. */
export function* labelComponentsSteps(map: Map3, o: Pick<ComponentOptions, 'threshold' | 'connectivity'>): Generator<void, { labels: Int32Array; sizes: number[] }> {
  const { data, dims } = map;
  const [nx, ny, nz] = dims;
  const total = nx * ny * nz;
  const labels = new Int32Array(total);
  const nbrs = offsets(o.connectivity ?? 26);
  let stack = new Int32Array(1024);
  const sizes: number[] = [];
  let work = 0;
  for (let seed = 0; seed < total; seed++) {
    if (++work >= LABEL_STEP) {
      work = 0;
      yield;
    }
    if (labels[seed] || !(data[seed]! >= o.threshold)) continue;
    const label = sizes.length + 1;
    labels[seed] = label;
    let top = 0, count = 0;
    stack[top++] = seed;
    while (top > 0) {
      const v = stack[--top]!;
      count++;
      if (++work >= LABEL_STEP) {
        work = 0;
        yield;
      }
      const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
      for (const [di, dj, dk] of nbrs) {
        const x = i + di, y = j + dj, z = k + dk;
        if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
        const n = x + nx * (y + ny * z);
        if (labels[n] || !(data[n]! >= o.threshold)) continue;
        labels[n] = label;
        if (top === stack.length) {
          const grown = new Int32Array(stack.length * 2);
          grown.set(stack);
          stack = grown;
        }
        stack[top++] = n;
      }
    }
    sizes.push(count);
  }
  return { labels, sizes };
}

/**
 * Segmentation to candidates: connected components of `value >= threshold`. Each candidate's centre is the
 * probability-weighted centroid, its score the component's highest value, its size the voxel count.
 */
export function connectedComponents(map: Map3, o: ComponentOptions): Candidate[] {
  const { data, dims } = map;
  const [nx, ny] = dims;
  const { labels, sizes } = labelComponents(map, o);
  const n = sizes.length;
  const wsum = new Float64Array(n), ci = new Float64Array(n), cj = new Float64Array(n), ck = new Float64Array(n);
  const best = new Float64Array(n).fill(-Infinity);
  for (let v = 0; v < labels.length; v++) {
    const l = labels[v]! - 1;
    if (l < 0) continue;
    const p = data[v]!;
    const i = v % nx, j = ((v / nx) | 0) % ny, k = (v / (nx * ny)) | 0;
    wsum[l] += p;
    ci[l] += p * i;
    cj[l] += p * j;
    ck[l] += p * k;
    if (p > best[l]!) best[l] = p;
  }
  const out: Candidate[] = [];
  for (let l = 0; l < n; l++) {
    if (sizes[l]! < (o.minVoxels ?? 1)) continue;
    out.push({ center: [ci[l]! / wsum[l]!, cj[l]! / wsum[l]!, ck[l]! / wsum[l]!], score: best[l]!, voxels: sizes[l]! });
  }
  return out.sort((a, b) => b.score - a.score);
}
