import type { VoxelArray } from '../volume/types.js';

/** Element-wise operations over a voxel range; plain data so they cross to workers. */
export type PreprocessOp =
  | { kind: 'stats'; /** only voxels >= this count (e.g. body mask for z-score) */ above: number }
  | { kind: 'clipScale'; min: number; max: number; outMin: number; outMax: number }
  | { kind: 'affine'; scale: number; offset: number };

/** Partial sums of one range, combined exactly by the caller (sums in float64). */
export interface RangeStats {
  count: number;
  sum: number;
  sumSq: number;
  min: number;
  max: number;
}

export function preprocessRange(src: VoxelArray, out: VoxelArray | undefined, op: PreprocessOp, start: number, end: number): RangeStats | undefined {
  return OPS[op.kind](src, out, op as never, start, end);
}

const OPS: Readonly<Record<PreprocessOp['kind'], (src: VoxelArray, out: VoxelArray | undefined, op: never, start: number, end: number) => RangeStats | undefined>> = {
  stats: (src, _out, op: { above: number }, start, end) => {
    let count = 0, sum = 0, sumSq = 0, min = Infinity, max = -Infinity;
    const a = op.above;
    for (let i = start; i < end; i++) {
      const v = src[i]!;
      if (!(v >= a)) continue;
      count++;
      sum += v;
      sumSq += v * v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
    return { count, sum, sumSq, min, max };
  },
  clipScale: (src, out, op: { min: number; max: number; outMin: number; outMax: number }, start, end) => {
    const o = out!;
    const { min, max, outMin, outMax } = op;
    const k = (outMax - outMin) / (max - min);
    for (let i = start; i < end; i++) {
      const v = src[i]!;
      o[i] = v <= min ? outMin : v >= max ? outMax : outMin + (v - min) * k;
    }
    return undefined;
  },
  affine: (src, out, op: { scale: number; offset: number }, start, end) => {
    const o = out!;
    const { scale, offset } = op;
    for (let i = start; i < end; i++) o[i] = src[i]! * scale + offset;
    return undefined;
  },
};
