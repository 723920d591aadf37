import type { VoxelArray } from '../volume/types.js';
import type { AffinePlan, VoxelType } from './plan.js';
import { KERNELS } from './kernels.js';
import { INT_RANGE, storedFill } from './arrays.js';
import type { SliceClaims } from './claims.js';

const EDGE = 0.5 + 1e-6;

/**
 * The output slices `claims` hands out of a general affine plan: each output voxel maps to a continuous source index
 * and gathers T^3 taps (edge replicated). Needed for oblique targets where axes do not separate.
 */
export function resampleAffineSlab(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: AffinePlan, claims: SliceClaims): void {
  const [nx, ny, nz] = plan.srcDims;
  const [mx, my] = plan.outDims;
  const m = plan.m;
  const k = KERNELS[plan.interp];
  const T = k.taps;
  const wx = new Float64Array(T), wy = new Float64Array(T), wz = new Float64Array(T);
  const range = INT_RANGE[outType];
  const fill = storedFill(plan.fill, outType);
  const nxy = nx * ny;
  const weights = (x: number, w: Float64Array): number => {
    const f = k.first(x);
    let sum = 0;
    for (let t = 0; t < T; t++) sum += w[t] = k.weight(x - (f + t));
    if (k.normalise && sum !== 0) for (let t = 0; t < T; t++) w[t] = w[t]! / sum;
    return f;
  };
  for (let K = claims.next(); K >= 0; K = claims.next())
    for (let J = 0; J < my; J++) {
      let o = (K * my + J) * mx;
      for (let I = 0; I < mx; I++, o++) {
        const x = m[0]! * I + m[1]! * J + m[2]! * K + m[3]!;
        const y = m[4]! * I + m[5]! * J + m[6]! * K + m[7]!;
        const z = m[8]! * I + m[9]! * J + m[10]! * K + m[11]!;
        if (!(x >= -EDGE && x <= nx - 1 + EDGE && y >= -EDGE && y <= ny - 1 + EDGE && z >= -EDGE && z <= nz - 1 + EDGE)) {
          out[o] = fill;
          continue;
        }
        const fx = weights(x, wx), fy = weights(y, wy), fz = weights(z, wz);
        let s = 0;
        for (let c = 0; c < T; c++) {
          const zi = clamp(fz + c, nz);
          for (let b = 0; b < T; b++) {
            const row = zi * nxy + clamp(fy + b, ny) * nx;
            const wyz = wz[c]! * wy[b]!;
            for (let a = 0; a < T; a++) s += wyz * wx[a]! * src[row + clamp(fx + a, nx)]!;
          }
        }
        if (range) {
          const r = Math.round(s);
          out[o] = r < range[0] ? range[0] : r > range[1] ? range[1] : r;
        } else out[o] = s;
      }
    }
}

const clamp = (i: number, n: number): number => (i < 0 ? 0 : i >= n ? n - 1 : i);
