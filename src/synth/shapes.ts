import type { Vec3 } from '../volume/types.js';

/**
 * An analytic solid in LPS millimetres, described by a signed distance (negative inside).
 * `bound` is a lower bound of the true distance with the same sign; the rasteriser uses it to fill or skip
 * whole tiles without evaluating every voxel. Exact distance functions use `sd` for both.
 */
export interface Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  /** Called once per slice before any voxel of it; false when the slice misses the shape. */
  slice?(z: number): boolean;
  /** After `slice` returned true: the shape's [xmin, xmax, ymin, ymax] in that slice, when tighter than the box. */
  readonly rect?: readonly number[] | null | undefined;
  sd(x: number, y: number, z: number): number;
  bound(x: number, y: number, z: number): number;
}

/** Rotation as the columns of a row-major 3x3 matrix: local axis c in LPS is (m[c], m[3 + c], m[6 + c]). */
export type Rot = readonly number[];

export const IDENTITY: Rot = [1, 0, 0, 0, 1, 0, 0, 0, 1];

/** Rotation from Z-Y-X Euler angles (radians): yaw about z, then pitch about y, then roll about x. */
export function eulerRot(yaw: number, pitch: number, roll: number): Rot {
  const cz = Math.cos(yaw), sz = Math.sin(yaw), cy = Math.cos(pitch), sy = Math.sin(pitch), cx = Math.cos(roll), sx = Math.sin(roll);
  return [
    cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
    sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
    -sy, cy * sx, cy * cx,
  ];
}

export function mulRot(a: Rot, b: Rot): Rot {
  const o = new Array<number>(9).fill(0);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let k = 0; k < 3; k++) o[r * 3 + c]! += a[r * 3 + k]! * b[k * 3 + c]!;
  return o;
}

export function rotate(m: Rot, v: Vec3): Vec3 {
  return [
    m[0]! * v[0] + m[1]! * v[1] + m[2]! * v[2],
    m[3]! * v[0] + m[4]! * v[1] + m[5]! * v[2],
    m[6]! * v[0] + m[7]! * v[1] + m[8]! * v[2],
  ];
}

export class Sphere implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  constructor(readonly c: Vec3, readonly r: number) {
    this.min = [c[0] - r, c[1] - r, c[2] - r];
    this.max = [c[0] + r, c[1] + r, c[2] + r];
  }
  sd(x: number, y: number, z: number): number {
    const dx = x - this.c[0], dy = y - this.c[1], dz = z - this.c[2];
    return Math.sqrt(dx * dx + dy * dy + dz * dz) - this.r;
  }
  bound(x: number, y: number, z: number): number {
    return this.sd(x, y, z);
  }
}

/** Ellipsoid with semi-axes `radii` along the columns of `rot`. */
export class Ellipsoid implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  private readonly m: Float64Array;
  private readonly inv2: Float64Array;
  private readonly inv4: Float64Array;
  private readonly rmin: number;
  constructor(readonly c: Vec3, readonly radii: Vec3, rot: Rot = IDENTITY) {
    this.m = Float64Array.from(rot);
    this.inv2 = Float64Array.from(radii, (r) => 1 / (r * r));
    this.inv4 = Float64Array.from(radii, (r) => 1 / (r * r * r * r));
    this.rmin = Math.min(...radii);
    const ext = [0, 1, 2].map((a) => Math.hypot(rot[a * 3]! * radii[0], rot[a * 3 + 1]! * radii[1], rot[a * 3 + 2]! * radii[2]));
    this.min = [c[0] - ext[0]!, c[1] - ext[1]!, c[2] - ext[2]!];
    this.max = [c[0] + ext[0]!, c[1] + ext[1]!, c[2] + ext[2]!];
  }
  private k2(x: number, y: number, z: number, grad: boolean): number {
    const m = this.m;
    const dx = x - this.c[0], dy = y - this.c[1], dz = z - this.c[2];
    const u = m[0]! * dx + m[3]! * dy + m[6]! * dz;
    const v = m[1]! * dx + m[4]! * dy + m[7]! * dz;
    const w = m[2]! * dx + m[5]! * dy + m[8]! * dz;
    const f = u * u * this.inv2[0]! + v * v * this.inv2[1]! + w * w * this.inv2[2]!;
    if (!grad) return f;
    // First-order distance f / |grad f| with f = k^2 - 1: exact on the surface, good near it.
    const g = Math.sqrt(u * u * this.inv4[0]! + v * v * this.inv4[1]! + w * w * this.inv4[2]!);
    return g > 1e-9 ? (f - 1) / (2 * g) : -this.rmin;
  }
  sd(x: number, y: number, z: number): number {
    return this.k2(x, y, z, true);
  }
  bound(x: number, y: number, z: number): number {
    return (Math.sqrt(this.k2(x, y, z, false)) - 1) * this.rmin;
  }
}

/** Cone-capped tube between two points with radii r0 and r1 (a tapered capsule). */
export class Capsule implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  private readonly d: Vec3;
  private readonly len2: number;
  constructor(readonly a: Vec3, readonly b: Vec3, readonly r0: number, readonly r1: number) {
    const r = Math.max(r0, r1);
    this.d = [b[0] - a[0], b[1] - a[1], b[2] - a[2]];
    this.len2 = Math.max(1e-12, this.d[0] ** 2 + this.d[1] ** 2 + this.d[2] ** 2);
    this.min = [Math.min(a[0], b[0]) - r, Math.min(a[1], b[1]) - r, Math.min(a[2], b[2]) - r];
    this.max = [Math.max(a[0], b[0]) + r, Math.max(a[1], b[1]) + r, Math.max(a[2], b[2]) + r];
  }
  rect: number[] | null = null;
  /** Limits work to the part of the tube near slice z: [xmin, xmax, ymin, ymax] of that part. */
  slice(z: number): boolean {
    // z reach includes 2 mm for the anti-aliased edge; the painter pads the rectangle by the edge itself.
    const r = Math.max(this.r0, this.r1) + 2;
    const az = this.a[2], dz = this.d[2];
    let t0 = 0, t1 = 1;
    if (Math.abs(dz) > 1e-9) {
      const ta = (z - r - az) / dz, tb = (z + r - az) / dz;
      t0 = Math.max(0, Math.min(ta, tb));
      t1 = Math.min(1, Math.max(ta, tb));
      if (t0 > t1) return false;
    } else if (Math.abs(z - az) > r) return false;
    const x0 = this.a[0] + t0 * this.d[0], x1 = this.a[0] + t1 * this.d[0];
    const y0 = this.a[1] + t0 * this.d[1], y1 = this.a[1] + t1 * this.d[1];
    const rect = this.rect ?? (this.rect = [0, 0, 0, 0]);
    const rr = r - 2;
    rect[0] = Math.min(x0, x1) - rr;
    rect[1] = Math.max(x0, x1) + rr;
    rect[2] = Math.min(y0, y1) - rr;
    rect[3] = Math.max(y0, y1) + rr;
    return true;
  }
  sd(x: number, y: number, z: number): number {
    const px = x - this.a[0], py = y - this.a[1], pz = z - this.a[2];
    let t = (px * this.d[0] + py * this.d[1] + pz * this.d[2]) / this.len2;
    t = t < 0 ? 0 : t > 1 ? 1 : t;
    const qx = px - t * this.d[0], qy = py - t * this.d[1], qz = pz - t * this.d[2];
    return Math.sqrt(qx * qx + qy * qy + qz * qz) - (this.r0 + t * (this.r1 - this.r0));
  }
  bound(x: number, y: number, z: number): number {
    // The taper makes sd slightly optimistic; 0.9 keeps it a lower bound for realistic tapers.
    const s = this.sd(x, y, z);
    return s > 0 ? s * 0.9 : s;
  }
}

/**
 * A chain of tapered segments treated as one solid (minimum distance), so neighbouring segments of
 * a vessel do not blend twice at their joints. Points are flat [x, y, z, r, ...].
 */
export class TubeChain implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  rect: number[] | null = null;
  private readonly segs: Capsule[];
  /** Segments whose z extent reaches the current slice. */
  private active: Capsule[] = [];
  constructor(points: readonly number[]) {
    this.segs = [];
    for (let i = 0; i + 7 < points.length; i += 4) {
      this.segs.push(new Capsule([points[i]!, points[i + 1]!, points[i + 2]!], [points[i + 4]!, points[i + 5]!, points[i + 6]!], points[i + 3]!, points[i + 7]!));
    }
    this.min = [Infinity, Infinity, Infinity];
    this.max = [-Infinity, -Infinity, -Infinity];
    for (const s of this.segs)
      for (let a = 0; a < 3; a++) {
        this.min[a] = Math.min(this.min[a]!, s.min[a]!);
        this.max[a] = Math.max(this.max[a]!, s.max[a]!);
      }
  }
  slice(z: number): boolean {
    // Segments near this slice, and the union of their in-slice rectangles.
    let n = 0;
    const r = this.rect ?? (this.rect = [0, 0, 0, 0]);
    r[0] = Infinity;
    r[1] = -Infinity;
    r[2] = Infinity;
    r[3] = -Infinity;
    for (const s of this.segs) {
      if (!s.slice(z)) continue;
      this.active[n++] = s;
      const q = s.rect!;
      if (q[0]! < r[0]!) r[0] = q[0]!;
      if (q[1]! > r[1]!) r[1] = q[1]!;
      if (q[2]! < r[2]!) r[2] = q[2]!;
      if (q[3]! > r[3]!) r[3] = q[3]!;
    }
    this.active.length = n;
    return n > 0;
  }
  sd(x: number, y: number, z: number): number {
    let best = Infinity;
    for (const s of this.active) {
      const v = s.sd(x, y, z);
      if (v < best) best = v;
    }
    return best;
  }
  bound(x: number, y: number, z: number): number {
    const s = this.sd(x, y, z);
    return s > 0 ? s * 0.9 : s;
  }
}

/** Box with half-sizes `half` along the columns of `rot`, edges rounded by `round` mm (exact distance). */
export class Box implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  private readonly m: Float64Array;
  constructor(readonly c: Vec3, readonly half: Vec3, rot: Rot = IDENTITY, readonly round = 0) {
    this.m = Float64Array.from(rot);
    const h = half.map((v) => v + round) as Vec3;
    const ext = [0, 1, 2].map((a) => Math.abs(rot[a * 3]! * h[0]) + Math.abs(rot[a * 3 + 1]! * h[1]) + Math.abs(rot[a * 3 + 2]! * h[2]));
    this.min = [c[0] - ext[0]!, c[1] - ext[1]!, c[2] - ext[2]!];
    this.max = [c[0] + ext[0]!, c[1] + ext[1]!, c[2] + ext[2]!];
  }
  sd(x: number, y: number, z: number): number {
    const m = this.m;
    const dx = x - this.c[0], dy = y - this.c[1], dz = z - this.c[2];
    const qx = Math.abs(m[0]! * dx + m[3]! * dy + m[6]! * dz) - this.half[0];
    const qy = Math.abs(m[1]! * dx + m[4]! * dy + m[7]! * dz) - this.half[1];
    const qz = Math.abs(m[2]! * dx + m[5]! * dy + m[8]! * dz) - this.half[2];
    const ox = qx > 0 ? qx : 0, oy = qy > 0 ? qy : 0, oz = qz > 0 ? qz : 0;
    const inside = Math.min(Math.max(qx, qy, qz), 0);
    return Math.sqrt(ox * ox + oy * oy + oz * oz) + inside - this.round;
  }
  bound(x: number, y: number, z: number): number {
    return this.sd(x, y, z);
  }
}

/** Cross-section of a slice-wise profile: a rotated rounded ellipse in the axial plane. */
export interface Section {
  cx: number;
  cy: number;
  /** Semi-axes along the section's own axes. */
  a: number;
  b: number;
  /**
   * Squareness 0..1: the norm is (1 - n) * L2 + n * L4, an ellipse at 0 and a rounded rectangle towards 1.
   * (A convex blend of two norms stays convex and needs only square roots, unlike a superellipse's pow.)
   */
  n: number;
  /** In-plane rotation of the section's axes (radians, from +x towards +y). */
  angle: number;
}

/**
 * A solid extruded along z whose axial cross-section changes with z (body outline, lungs):
 * `section(z)` returns the superellipse at that height or null where the solid ends.
 * `cut`, when given, is intersected (a lower bound of distance, positive outside), e.g. a diaphragm dome.
 */
export class Profile implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  private s: Section | null = null;
  rect: number[] | null = null;
  private cos = 1;
  private sin = 0;
  private ia = 1;
  private ib = 1;
  private rmin = 1;
  constructor(
    min: Vec3,
    max: Vec3,
    private readonly section: (z: number) => Section | null,
    private readonly cut?: (x: number, y: number, z: number) => number,
  ) {
    this.min = min;
    this.max = max;
  }
  slice(z: number): boolean {
    const s = this.section(z);
    this.s = s;
    if (!s || s.a <= 0 || s.b <= 0) return false;
    this.cos = Math.cos(s.angle);
    this.sin = Math.sin(s.angle);
    this.ia = 1 / s.a;
    this.ib = 1 / s.b;
    this.rmin = Math.min(s.a, s.b);
    // k >= 0.84 * L2 for every squareness, so the section lies within 1.2 * max(a, b) of its centre.
    const reach = 1.2 * Math.max(s.a, s.b);
    this.rect = [s.cx - reach, s.cx + reach, s.cy - reach, s.cy + reach];
    return true;
  }
  private k(x: number, y: number): number {
    const s = this.s!;
    const dx = x - s.cx, dy = y - s.cy;
    const u = Math.abs((this.cos * dx + this.sin * dy) * this.ia);
    const v = Math.abs((-this.sin * dx + this.cos * dy) * this.ib);
    const u2 = u * u, v2 = v * v;
    const l2 = Math.sqrt(u2 + v2);
    return s.n === 0 ? l2 : (1 - s.n) * l2 + s.n * Math.sqrt(Math.sqrt(u2 * u2 + v2 * v2));
  }
  sd(x: number, y: number, z: number): number {
    const s = this.s!;
    const k = this.k(x, y);
    const r = Math.hypot(x - s.cx, y - s.cy);
    let d = k > 1e-9 ? (r * (k - 1)) / k : -this.rmin;
    if (this.cut) d = Math.max(d, this.cut(x, y, z));
    return d;
  }
  bound(x: number, y: number, z: number): number {
    let d = (this.k(x, y) - 1) * this.rmin;
    if (this.cut) d = Math.max(d, this.cut(x, y, z));
    return d;
  }
}

/** Points on the side of a plane opposite its normal: sd = (p - p0) . n. */
export class HalfSpace implements Shape {
  readonly min: Vec3 = [-1e5, -1e5, -1e5];
  readonly max: Vec3 = [1e5, 1e5, 1e5];
  private readonly n: Vec3;
  constructor(readonly p0: Vec3, normal: Vec3) {
    const l = Math.hypot(normal[0], normal[1], normal[2]);
    this.n = [normal[0] / l, normal[1] / l, normal[2] / l];
  }
  sd(x: number, y: number, z: number): number {
    return (x - this.p0[0]) * this.n[0] + (y - this.p0[1]) * this.n[1] + (z - this.p0[2]) * this.n[2];
  }
  bound(x: number, y: number, z: number): number {
    return this.sd(x, y, z);
  }
}

/** Intersection of solids (max of distances; still a lower bound when each part's bound is). */
export class Intersect implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  constructor(private readonly parts: readonly Shape[]) {
    this.min = [0, 1, 2].map((a) => Math.max(...parts.map((p) => p.min[a]!))) as Vec3;
    this.max = [0, 1, 2].map((a) => Math.min(...parts.map((p) => p.max[a]!))) as Vec3;
  }
  slice(z: number): boolean {
    for (const p of this.parts) if (p.slice && !p.slice(z)) return false;
    return true;
  }
  sd(x: number, y: number, z: number): number {
    let d = -Infinity;
    for (const p of this.parts) d = Math.max(d, p.sd(x, y, z));
    return d;
  }
  bound(x: number, y: number, z: number): number {
    let d = -Infinity;
    for (const p of this.parts) d = Math.max(d, p.bound(x, y, z));
    return d;
  }
}

/** Union of solids (min of distances). */
export class Union implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  constructor(private readonly parts: readonly Shape[]) {
    this.min = [0, 1, 2].map((a) => Math.min(...parts.map((p) => p.min[a]!))) as Vec3;
    this.max = [0, 1, 2].map((a) => Math.max(...parts.map((p) => p.max[a]!))) as Vec3;
  }
  slice(z: number): boolean {
    let any = false;
    for (const p of this.parts) if (!p.slice || p.slice(z)) any = true;
    return any;
  }
  sd(x: number, y: number, z: number): number {
    let d = Infinity;
    for (const p of this.parts) d = Math.min(d, p.sd(x, y, z));
    return d;
  }
  bound(x: number, y: number, z: number): number {
    let d = Infinity;
    for (const p of this.parts) d = Math.min(d, p.bound(x, y, z));
    return d;
  }
}

/**
 * The part of `outer` outside `inner` shrunk by `overlap` mm: a layer whose inside a later, full paint of
 * `inner` covers. Drawing layers as shells skips the interior (most of the volume) instead of painting
 * it again and again; the overlap keeps the hidden inner edge under the next layer.
 */
export class Shell implements Shape {
  readonly min: Vec3;
  readonly max: Vec3;
  constructor(private readonly outer: Shape, private readonly inner: Shape, private readonly overlap: number) {
    this.min = outer.min;
    this.max = outer.max;
  }
  get rect(): readonly number[] | null | undefined {
    return this.outer.rect;
  }
  slice(z: number): boolean {
    if (this.outer.slice && !this.outer.slice(z)) return false;
    // An inner shape absent from this slice cuts nothing away; a huge distance stands for "outside".
    this.innerHere = !this.inner.slice || this.inner.slice(z);
    return true;
  }
  private innerHere = true;
  sd(x: number, y: number, z: number): number {
    const o = this.outer.sd(x, y, z);
    return this.innerHere ? Math.max(o, -(this.inner.sd(x, y, z) + this.overlap)) : o;
  }
  bound(x: number, y: number, z: number): number {
    const o = this.outer.bound(x, y, z);
    return this.innerHere ? Math.max(o, -(this.inner.bound(x, y, z) + this.overlap)) : o;
  }
}
