import type { Vec3 } from '../volume/types.js';
import type { FilledChannelSpec } from './manifest.js';

/** One input channel as `(clamp(hu, lo, hi) - shift) * scale`. */
export interface ChannelTransform {
  lo: number;
  hi: number;
  shift: number;
  scale: number;
}

const NORMALISERS: Record<FilledChannelSpec['normalisation'], (c: FilledChannelSpec) => { shift: number; scale: number }> = {
  unit: (c) => ({ shift: c.window[0], scale: 1 / (c.window[1] - c.window[0]) }),
  symmetric: (c) => ({ shift: (c.window[0] + c.window[1]) / 2, scale: 2 / (c.window[1] - c.window[0]) }),
  zscore: (c) => ({ shift: c.mean, scale: 1 / c.std }),
  none: () => ({ shift: 0, scale: 1 }),
};

export function channelTransforms(channels: FilledChannelSpec[]): ChannelTransform[] {
  return channels.map((c) => ({ lo: c.window[0], hi: c.window[1], ...NORMALISERS[c.normalisation](c) }));
}

export function applyTransform(t: ChannelTransform, hu: number): number {
  return ((hu < t.lo ? t.lo : hu > t.hi ? t.hi : hu) - t.shift) * t.scale;
}

/** One row of clamp-and-scale; one copy per array type keeps each loop monomorphic. */
function windowRow(data: ArrayLike<number>, src: number, out: Float32Array, o: number, n: number, lo: number, hi: number, shift: number, scale: number): void {
  for (let i = 0; i < n; i++) {
    const hu = data[src + i]!;
    out[o + i] = ((hu < lo ? lo : hu > hi ? hi : hu) - shift) * scale;
  }
}

function windowRowI16(data: Int16Array, src: number, out: Float32Array, o: number, n: number, lo: number, hi: number, shift: number, scale: number): void {
  for (let i = 0; i < n; i++) {
    const hu = data[src + i]!;
    out[o + i] = ((hu < lo ? lo : hu > hi ? hi : hu) - shift) * scale;
  }
}

/**
 * Copies one patch of HU voxels into `out` as model input [C, pk, pj, pi] (k slowest), applying each channel's
 * window and normalisation; voxels outside the volume take `padHu`.
 */
export function extractPatch(
  data: ArrayLike<number>,
  dims: Vec3,
  start: Vec3,
  size: Vec3,
  transforms: ChannelTransform[],
  padHu: number,
  out: Float32Array,
  outOffset: number,
): void {
  const [nx, ny, nz] = dims;
  const [pi, pj, pk] = size;
  const plane = pi * pj * pk;
  const iEnd = Math.min(pi, nx - start[0]);
  for (let c = 0; c < transforms.length; c++) {
    const t = transforms[c]!;
    const pad = applyTransform(t, padHu);
    const { lo, hi, shift, scale } = t;
    let o = outOffset + c * plane;
    for (let k = 0; k < pk; k++) {
      const z = start[2] + k;
      for (let j = 0; j < pj; j++) {
        const y = start[1] + j;
        if (z >= nz || y >= ny) {
          out.fill(pad, o, o + pi);
          o += pi;
          continue;
        }
        const src = start[0] + nx * (y + ny * z);
        if (data instanceof Int16Array) windowRowI16(data, src, out, o, iEnd, lo, hi, shift, scale);
        else windowRow(data, src, out, o, iEnd, lo, hi, shift, scale);
        o += iEnd;
        if (iEnd < pi) {
          out.fill(pad, o, o + pi - iEnd);
          o += pi - iEnd;
        }
      }
    }
  }
}
