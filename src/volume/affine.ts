import type { Geometry, Mat3, Mat4, Vec3 } from './types.js';

/** IJK (voxel index) to LPS (mm) affine of a geometry, row-major 4x4. */
export function ijkToLps(g: Geometry): Mat4 {
  const d = g.direction;
  const s = g.spacing;
  const o = g.origin;
  return [
    d[0] * s[0], d[1] * s[1], d[2] * s[2], o[0],
    d[3] * s[0], d[4] * s[1], d[5] * s[2], o[1],
    d[6] * s[0], d[7] * s[1], d[8] * s[2], o[2],
    0, 0, 0, 1,
  ];
}

export function applyAffine(m: Mat4, p: Vec3): Vec3 {
  return [
    m[0]! * p[0] + m[1]! * p[1] + m[2]! * p[2] + m[3]!,
    m[4]! * p[0] + m[5]! * p[1] + m[6]! * p[2] + m[7]!,
    m[8]! * p[0] + m[9]! * p[1] + m[10]! * p[2] + m[11]!,
  ];
}

export function voxelToLps(g: Geometry, ijk: Vec3): Vec3 {
  return applyAffine(ijkToLps(g), ijk);
}

export function lpsToVoxel(g: Geometry, lps: Vec3): Vec3 {
  return applyAffine(invertAffine(ijkToLps(g)), lps);
}

/** Inverse of an affine 4x4 (general 3x3 part, so sheared tilt geometries invert exactly). */
export function invertAffine(m: Mat4): Mat4 {
  const a = m[0]!, b = m[1]!, c = m[2]!, d = m[4]!, e = m[5]!, f = m[6]!, g = m[8]!, h = m[9]!, k = m[10]!;
  const A = e * k - f * h, B = -(d * k - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  if (!Number.isFinite(det) || Math.abs(det) < 1e-12) throw new RangeError('singular affine');
  const inv3: Mat3 = [
    A / det, -(b * k - c * h) / det, (b * f - c * e) / det,
    B / det, (a * k - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ];
  const t: Vec3 = [m[3]!, m[7]!, m[11]!];
  return [
    inv3[0], inv3[1], inv3[2], -(inv3[0] * t[0] + inv3[1] * t[1] + inv3[2] * t[2]),
    inv3[3], inv3[4], inv3[5], -(inv3[3] * t[0] + inv3[4] * t[1] + inv3[5] * t[2]),
    inv3[6], inv3[7], inv3[8], -(inv3[6] * t[0] + inv3[7] * t[1] + inv3[8] * t[2]),
    0, 0, 0, 1,
  ];
}

export function multiplyAffine(a: Mat4, b: Mat4): Mat4 {
  const out = new Array<number>(16).fill(0);
  for (let r = 0; r < 4; r++)
    for (let c = 0; c < 4; c++) {
      let s = 0;
      for (let k = 0; k < 4; k++) s += a[r * 4 + k]! * b[k * 4 + c]!;
      out[r * 4 + c] = s;
    }
  return out;
}

export const dot = (a: Vec3, b: Vec3): number => a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
export const cross = (a: Vec3, b: Vec3): Vec3 => [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]];
export const sub = (a: Vec3, b: Vec3): Vec3 => [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
export const add = (a: Vec3, b: Vec3): Vec3 => [a[0] + b[0], a[1] + b[1], a[2] + b[2]];
export const scale = (a: Vec3, s: number): Vec3 => [a[0] * s, a[1] * s, a[2] * s];
export const norm = (a: Vec3): number => Math.hypot(a[0], a[1], a[2]);
export function normalize(a: Vec3): Vec3 {
  const n = norm(a);
  if (n === 0) throw new RangeError('zero vector');
  return [a[0] / n, a[1] / n, a[2] / n];
}

/** The unit normal of the slice plane of a direction matrix (row x column), along which slices are stacked. */
export function sliceNormal(d: Mat3): Vec3 {
  return normalize(cross([d[0], d[3], d[6]], [d[1], d[4], d[7]]));
}

export function voxelCount(g: Geometry): number {
  return g.dims[0] * g.dims[1] * g.dims[2];
}
