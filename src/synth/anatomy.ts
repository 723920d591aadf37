import type { Vec3 } from '../volume/types.js';
import type { Canvas } from './raster.js';
import { rotate, TubeChain, type Rot, type Shape } from './shapes.js';

/** Places body-frame points (u left, v posterior, w superior; mm) into LPS: p = R * q + t. */
export class Frame {
  constructor(readonly rot: Rot, readonly t: Vec3) {}
  p(u: number, v: number, w: number): Vec3 {
    const r = rotate(this.rot, [u, v, w]);
    return [r[0] + this.t[0], r[1] + this.t[1], r[2] + this.t[2]];
  }
  d(v: Vec3): Vec3 {
    return rotate(this.rot, v);
  }
  /** LPS point back to body frame (the rotation is orthonormal). */
  inv(p: Vec3): Vec3 {
    const m = this.rot;
    const x = p[0] - this.t[0], y = p[1] - this.t[1], z = p[2] - this.t[2];
    return [m[0]! * x + m[3]! * y + m[6]! * z, m[1]! * x + m[4]! * y + m[7]! * z, m[2]! * x + m[5]! * y + m[8]! * z];
  }
}

/** A vessel centreline sampled densely: points (LPS) and radii. */
export interface VesselPath {
  pts: Vec3[];
  r: number[];
}

/** Catmull-Rom through control points, resampled about every `step` mm, radii interpolated linearly. */
export function smoothPath(ctrl: readonly Vec3[], radii: readonly number[], step = 1.5): VesselPath {
  const pts: Vec3[] = [];
  const r: number[] = [];
  const n = ctrl.length;
  for (let s = 0; s < n - 1; s++) {
    const p0 = ctrl[Math.max(0, s - 1)]!, p1 = ctrl[s]!, p2 = ctrl[s + 1]!, p3 = ctrl[Math.min(n - 1, s + 2)]!;
    const len = Math.hypot(p2[0] - p1[0], p2[1] - p1[1], p2[2] - p1[2]);
    const m = Math.max(1, Math.ceil(len / step));
    for (let q = 0; q < m; q++) {
      const t = q / m, t2 = t * t, t3 = t2 * t;
      const c = (a: number, b: number, cc: number, d: number): number =>
        0.5 * (2 * b + (-a + cc) * t + (2 * a - 5 * b + 4 * cc - d) * t2 + (-a + 3 * b - 3 * cc + d) * t3);
      pts.push([c(p0[0], p1[0], p2[0], p3[0]), c(p0[1], p1[1], p2[1], p3[1]), c(p0[2], p1[2], p2[2], p3[2])]);
      r.push(radii[s]! + (radii[s + 1]! - radii[s]!) * t);
    }
  }
  pts.push([...ctrl[n - 1]!] as Vec3);
  r.push(radii[n - 1]!);
  return { pts, r };
}

/** The tube of a path as a few chained solids (chunks keep each bounding box small). */
export function pathShapes(p: VesselPath, chunk = 8): Shape[] {
  const out: Shape[] = [];
  for (let s = 0; s < p.pts.length - 1; s += chunk) {
    const flat: number[] = [];
    for (let q = s; q <= Math.min(p.pts.length - 1, s + chunk); q++) flat.push(...p.pts[q]!, p.r[q]!);
    if (flat.length >= 8) out.push(new TubeChain(flat));
  }
  return out;
}

/** Nearest-voxel value at an LPS point, or NaN outside the grid. */
export function sample(cv: Canvas, p: Vec3): number {
  const idx = (c: Float64Array, x: number): number => (c.length === 1 ? 0 : Math.round((x - c[0]!) / (c[1]! - c[0]!)));
  const i = idx(cv.X, p[0]), j = idx(cv.Y, p[1]), k = idx(cv.Z, p[2]);
  if (i < 0 || j < 0 || k < 0 || i >= cv.nx || j >= cv.ny || k >= cv.nz) return NaN;
  return cv.data[i + cv.nx * (j + cv.ny * k)]!;
}

/** True when a ball of radius `margin` around p lies inside the grid. */
export function insideGrid(cv: Canvas, p: Vec3, margin: number): boolean {
  const inAxis = (c: Float64Array, x: number): boolean => {
    const lo = Math.min(c[0]!, c[c.length - 1]!), hi = Math.max(c[0]!, c[c.length - 1]!);
    return x - margin >= lo && x + margin <= hi;
  };
  return inAxis(cv.X, p[0]) && inAxis(cv.Y, p[1]) && inAxis(cv.Z, p[2]);
}

/** 26 unit directions of a cube's faces, edges and corners, for probing around a point. */
export const PROBES: Vec3[] = (() => {
  const out: Vec3[] = [];
  for (let a = -1; a <= 1; a++)
    for (let b = -1; b <= 1; b++)
      for (let c = -1; c <= 1; c++) {
        if (a === 0 && b === 0 && c === 0) continue;
        const n = Math.hypot(a, b, c);
        out.push([a / n, b / n, c / n]);
      }
  return out;
})();

export function probeValues(cv: Canvas, c: Vec3, dist: number): number[] {
  return PROBES.map((d) => sample(cv, [c[0] + d[0] * dist, c[1] + d[1] * dist, c[2] + d[2] * dist]));
}

/** A unit vector perpendicular to `d`, rotated by `angle` around it. */
export function perpendicular(d: Vec3, angle: number): Vec3 {
  const a: Vec3 = Math.abs(d[0]) < 0.9 ? [1, 0, 0] : [0, 1, 0];
  let e1: Vec3 = [d[1] * a[2] - d[2] * a[1], d[2] * a[0] - d[0] * a[2], d[0] * a[1] - d[1] * a[0]];
  const n1 = Math.hypot(...e1);
  e1 = [e1[0] / n1, e1[1] / n1, e1[2] / n1];
  const e2: Vec3 = [d[1] * e1[2] - d[2] * e1[1], d[2] * e1[0] - d[0] * e1[2], d[0] * e1[1] - d[1] * e1[0]];
  const c = Math.cos(angle), s = Math.sin(angle);
  return [c * e1[0] + s * e2[0], c * e1[1] + s * e2[1], c * e1[2] + s * e2[2]];
}

export const unit = (v: Vec3): Vec3 => {
  const n = Math.hypot(v[0], v[1], v[2]) || 1;
  return [v[0] / n, v[1] / n, v[2] / n];
};

export const lerp3 = (a: Vec3, b: Vec3, t: number): Vec3 => [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
