import type { VoxelArray } from '../volume/types.js';
import type { PermutePlan } from './plan.js';
import type { SliceClaims } from './claims.js';

/** The output slices `claims` hands out of an axis permutation with flips: a pure copy, no arithmetic on values. */
export function permuteSlab(src: VoxelArray, out: VoxelArray, plan: PermutePlan, claims: SliceClaims): void {
  const [nx, ny] = plan.srcDims;
  const [mx, my] = plan.outDims;
  const srcStride = [1, nx, nx * ny];
  // For each output axis: the source stride it walks and where it starts.
  let start = 0;
  const step: number[] = [0, 0, 0];
  for (let a = 0; a < 3; a++) {
    const s = srcStride[plan.perm[a]]!;
    const n = plan.srcDims[plan.perm[a]];
    if (plan.flip[a]) {
      start += (n - 1) * s;
      step[a] = -s;
    } else step[a] = s;
  }
  const [sx, sy, sz] = step as [number, number, number];
  for (let K = claims.next(); K >= 0; K = claims.next())
    for (let J = 0; J < my; J++) {
      let s = start + K * sz + J * sy;
      let o = (K * my + J) * mx;
      if (sx === 1) {
        out.set(src.subarray(s, s + mx) as never, o);
        continue;
      }
      for (let I = 0; I < mx; I++, o++, s += sx) out[o] = src[s]!;
    }
}
