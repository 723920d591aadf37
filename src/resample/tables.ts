import { KERNELS, type InterpName } from './kernels.js';
import type { SeparablePlan } from './plan.js';

/**
 * Precomputed 1-D resampling along one axis: for output index o and tap t, the source index
 * `idx[t * m + o]` (clamped to the volume, i.e. edge replication) and its weight `w[t * m + o]`.
 * Tap-major layout so the inner loops run over contiguous outputs.
 */
export interface AxisTable {
  /** Output length. */
  m: number;
  taps: number;
  idx: Int32Array;
  w: Float64Array;
  /** 1 where the output sample lies outside the source field of view (it gets the fill value). */
  outside: Uint8Array;
  /** The indices where `outside` is 1. */
  outsideList: Int32Array;
  /** True when every output sample is outside. */
  allOutside: boolean;
}

/** Half a voxel: a sample whose position is within the source voxels' extent counts as inside. */
const EDGE = 0.5 + 1e-6;

/**
 * Builds the table for continuous source positions `pos` (source index units; NaN = outside) on an
 * axis of `n` samples. `sigma` > 0 folds a discrete Gaussian prefilter (in source samples) into the
 * weights: blurring the source and then interpolating equals interpolating with these combined taps.
 */
export function buildAxisTable(pos: ArrayLike<number>, n: number, interp: InterpName, sigma = 0): AxisTable {
  const k = KERNELS[interp];
  const m = pos.length;
  const radius = sigma > 0 ? Math.ceil(3 * sigma) : 0;
  const gauss = gaussian(sigma, radius);
  const taps = k.taps + 2 * radius;
  const idx = new Int32Array(taps * m);
  const w = new Float64Array(taps * m);
  const outside = new Uint8Array(m);
  const base = new Float64Array(k.taps);
  let nOut = 0;
  for (let o = 0; o < m; o++) {
    const x = pos[o]!;
    if (!(x >= -EDGE && x <= n - 1 + EDGE)) {
      outside[o] = 1;
      nOut++;
      continue;
    }
    const f = k.first(x);
    let sum = 0;
    for (let t = 0; t < k.taps; t++) {
      base[t] = k.weight(x - (f + t));
      sum += base[t]!;
    }
    if (k.normalise && sum !== 0) for (let t = 0; t < k.taps; t++) base[t] = base[t]! / sum;
    for (let t = 0; t < taps; t++) {
      // Tap t covers source sample f - radius + t; with a prefilter it collects every base tap's share.
      const s = f - radius + t;
      let wt = 0;
      if (radius === 0) wt = base[t]!;
      else for (let b = 0; b < k.taps; b++) {
        const d = s - (f + b);
        if (d >= -radius && d <= radius) wt += base[b]! * gauss[d + radius]!;
      }
      idx[t * m + o] = s < 0 ? 0 : s >= n ? n - 1 : s;
      w[t * m + o] = wt;
    }
  }
  if (taps === 2)
    for (let o = 0; o < m; o++)
      if (idx[o] === idx[m + o]) {
        // Clamped at an edge: fold the second tap into the first so tap 1 is always idx + 1 or weightless.
        w[o] = w[o]! + w[m + o]!;
        w[m + o] = 0;
      }
  const outsideList: number[] = [];
  for (let o = 0; o < m; o++) if (outside[o]) outsideList.push(o);
  return { m, taps, idx, w, outside, outsideList: Int32Array.from(outsideList), allOutside: nOut === m };
}

function gaussian(sigma: number, radius: number): Float64Array {
  const g = new Float64Array(2 * radius + 1);
  if (radius === 0) {
    g[0] = 1;
    return g;
  }
  let sum = 0;
  for (let d = -radius; d <= radius; d++) sum += g[d + radius] = Math.exp((-d * d) / (2 * sigma * sigma));
  for (let i = 0; i < g.length; i++) g[i] = g[i]! / sum;
  return g;
}

/** Positions start + step * o for o in [0, m). */
export function linearPositions(m: number, start: number, step: number): Float64Array {
  const p = new Float64Array(m);
  for (let o = 0; o < m; o++) p[o] = start + step * o;
  return p;
}

/**
 * The x or y table of a separable plan for source slice `ks` (its per-slice shift, if any, applied): the
 * one definition every separable kernel uses.
 */
export function inPlaneTable(plan: SeparablePlan, axis: 'x' | 'y', ks: number): AxisTable {
  const [a, n, shift] = axis === 'x' ? [0, plan.srcDims[0], plan.xShift] : [1, plan.srcDims[1], plan.yShift];
  const line = plan[axis];
  return buildAxisTable(linearPositions(plan.outDims[a], line.start + (shift?.[ks] ?? 0), line.step), n, plan.interp, plan.sigma[a]);
}
