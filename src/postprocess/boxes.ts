import type { Vec3 } from '../volume/types.js';
import type { Candidate } from './candidate.js';

/** An axis-aligned box in voxels: centre (i, j, k) and full size along each axis. */
export interface Box3 {
  center: Vec3;
  size: Vec3;
  score: number;
}

export interface BoxDecodeSpec {
  /** Feature-map cell size in input voxels (i, j, k). */
  stride: Vec3;
  /** Anchor sizes in voxels (i, j, k), one per anchor channel. */
  anchors: Vec3[];
  /** Delta weights (wi, wj, wk, wsi, wsj, wsk), as in the box coder used for training. */
  weights: number[];
  /** Input-voxel position of cell 0's anchor centre; default (stride - 1) / 2. */
  anchorOffset?: Vec3;
  /** Largest log-scale delta accepted (guards exp overflow). */
  maxDeltaLog: number;
  threshold: number;
}

/**
 * RetinaNet-style decoding for one patch. `scores` is [A, fd, fh, fw] and `deltas` [A * 6, fd, fh, fw]
 * (spatial axes k, j, i; delta order di, dj, dk, log si, log sj, log sk); boxes above the threshold come back
 * in input-voxel coordinates plus `shift`.
 */
export function decodeBoxes(scores: Float32Array, deltas: Float32Array, feature: Vec3, spec: BoxDecodeSpec, shift: Vec3 = [0, 0, 0], scoreOffset = 0, deltaOffset = 0): Box3[] {
  const [fi, fj, fk] = feature;
  const cells = fi * fj * fk;
  const off = spec.anchorOffset ?? ([(spec.stride[0] - 1) / 2, (spec.stride[1] - 1) / 2, (spec.stride[2] - 1) / 2] as Vec3);
  const w = spec.weights;
  const out: Box3[] = [];
  for (let a = 0; a < spec.anchors.length; a++) {
    const anchor = spec.anchors[a]!;
    for (let c = 0; c < cells; c++) {
      const s = scores[scoreOffset + a * cells + c]!;
      if (!(s >= spec.threshold)) continue;
      const i = c % fi, j = Math.floor(c / fi) % fj, k = Math.floor(c / (fi * fj));
      const cell = [i, j, k];
      const center = [0, 0, 0] as Vec3;
      const size = [0, 0, 0] as Vec3;
      for (let ax = 0; ax < 3; ax++) {
        const d = deltas[deltaOffset + (a * 6 + ax) * cells + c]! / w[ax]!;
        const ds = Math.min(deltas[deltaOffset + (a * 6 + 3 + ax) * cells + c]! / w[3 + ax]!, spec.maxDeltaLog);
        center[ax] = cell[ax]! * spec.stride[ax]! + off[ax]! + d * anchor[ax]! + shift[ax]!;
        size[ax] = anchor[ax]! * Math.exp(ds);
      }
      out.push({ center, size, score: s });
    }
  }
  return out;
}

/** Intersection over union of two axis-aligned boxes. */
export function iou3d(a: Box3, b: Box3): number {
  let inter = 1;
  for (let ax = 0; ax < 3; ax++) {
    const lo = Math.max(a.center[ax]! - a.size[ax]! / 2, b.center[ax]! - b.size[ax]! / 2);
    const hi = Math.min(a.center[ax]! + a.size[ax]! / 2, b.center[ax]! + b.size[ax]! / 2);
    if (hi <= lo) return 0;
    inter *= hi - lo;
  }
  const va = a.size[0] * a.size[1] * a.size[2];
  const vb = b.size[0] * b.size[1] * b.size[2];
  return inter / (va + vb - inter);
}

/** Greedy 3-D non-maximum suppression: highest score first, drop boxes overlapping a kept one by > iou. */
export function nms3d(boxes: Box3[], iou: number, maxKeep = Infinity, preTopK = 5000): Box3[] {
  const sorted = [...boxes].sort((a, b) => b.score - a.score).slice(0, preTopK);
  const kept: Box3[] = [];
  for (const b of sorted) {
    if (kept.some((k) => iou3d(k, b) > iou)) continue;
    kept.push(b);
    if (kept.length >= maxKeep) break;
  }
  return kept;
}

export function boxToCandidate(b: Box3): Candidate {
  return { center: [...b.center], score: b.score, voxels: 0, extent: [...b.size] };
}
