import type { Vec3, Volume } from '../volume/types.js';
import { median } from '../io/stats.js';

/** How a lesion is measured on the image around a finding (manifest `measure`). */
export interface MeasureSpec {
  /** Largest diameter the measurement may report: rays stop at half of it. */
  maxDiameterMm: number;
  /** The lesion must stand this far above its background, and its outer extent is first traced at this level. */
  minContrastHu: number;
}

export interface LesionMeasurement {
  /** Twice the median edge distance over all rays, mm. */
  diameterMm: number;
  /** Of the sphere of that diameter, mm^3. */
  volumeMm3: number;
  /** HU of the lesion's outer part and of its surroundings; the edge is where the image crosses their mean. */
  lesionHu: number;
  backgroundHu: number;
}

/** Directions spread evenly over the sphere (a Fibonacci lattice), so the median over rays weighs all sides alike. */
function sphereDirections(n: number): Vec3[] {
  const out: Vec3[] = [];
  const turn = Math.PI * (3 - Math.sqrt(5));
  for (let i = 0; i < n; i++) {
    const z = 1 - (2 * (i + 0.5)) / n;
    const r = Math.sqrt(1 - z * z);
    out.push([Math.cos(turn * i) * r, Math.sin(turn * i) * r, z]);
  }
  return out;
}

const RAYS = sphereDirections(64);
/** Sampling step along a ray, in voxels of the finest axis. */
const STEP = 0.25;
/** Part of each ray's outer extent whose samples give the lesion's outer level: inside the rim, outside a solid core. */
const OUTER_BAND: readonly [number, number] = [0.5, 0.8];

/**
 * Measures the lesion at `center` (continuous voxel position on a grid in HU, orthogonal axes) from the image itself,
 * the way a reader places calipers at the edge: rays go out from the centre; the background is the median of each
 * ray's lowest value; the lesion's outer part (the ground glass around a solid core, or the whole lesion) is
 * sampled between half and four fifths of its extent at a low level (rays that find no such extent, into a wall,
 * are left out); each ray's edge is where the image falls
 * below the mean of lesion and background (half maximum, so blur and partial volume do not shift it), and the
 * diameter is twice the median edge distance. The median lets a minority of rays run along an attached vessel
 * or into the pleura without moving it. Rays stop at the grid's border. Null where the lesion does not stand
 * `minContrastHu` above its background, where at least half the rays find no edge within `maxDiameterMm / 2`, or
 * where fewer than a quarter of them stay inside the grid long enough to judge.
 */
export function measureLesion(grid: Volume, center: Vec3, spec: MeasureSpec): LesionMeasurement | null {
  const [nx, ny, nz] = grid.geometry.dims;
  const d = grid.data;
  const spacing = grid.geometry.spacing;
  // Clamped to the grid (the edge voxel repeats): only the centre's neighbourhood reaches past it, rays stop there.
  const clamp = (v: number, hi: number): number => (v < 0 ? 0 : v > hi ? hi : v);
  const at = (i: number, j: number, k: number): number => d[clamp(i, nx - 1) + nx * (clamp(j, ny - 1) + ny * clamp(k, nz - 1))]!;
  const sample = (x: number, y: number, z: number): number => {
    const i = Math.floor(x), j = Math.floor(y), k = Math.floor(z);
    const fx = x - i, fy = y - j, fz = z - k;
    const c00 = at(i, j, k) * (1 - fx) + at(i + 1, j, k) * fx;
    const c10 = at(i, j + 1, k) * (1 - fx) + at(i + 1, j + 1, k) * fx;
    const c01 = at(i, j, k + 1) * (1 - fx) + at(i + 1, j, k + 1) * fx;
    const c11 = at(i, j + 1, k + 1) * (1 - fx) + at(i + 1, j + 1, k + 1) * fx;
    return (c00 * (1 - fy) + c10 * fy) * (1 - fz) + (c01 * (1 - fy) + c11 * fy) * fz;
  };
  // The core: the mean over a half-voxel neighbourhood, so one noisy voxel does not set it.
  let core = 0;
  for (const dz of [-0.5, 0, 0.5]) for (const dy of [-0.5, 0, 0.5]) for (const dx of [-0.5, 0, 0.5]) core += sample(center[0] + dx, center[1] + dy, center[2] + dz);
  core /= 27;
  // Rays are walked in mm (the grid may be anisotropic): `step` mm per sample, up to `n` samples to
  // maxDiameterMm / 2. A ray stops at the grid's border: what lies beyond is unknown, not padding, so a ray that
  // leaves before its edge tells nothing and is left out (a lesion cut by the first slice is measured on the rest).
  const step = STEP * Math.min(spacing[0], spacing[1], spacing[2]);
  const maxR = spec.maxDiameterMm / 2;
  const n = Math.floor(maxR / step) + 1;
  const inside = (x: number, y: number, z: number): boolean => x >= 0 && y >= 0 && z >= 0 && x <= nx - 1 && y <= ny - 1 && z <= nz - 1;
  const profiles = RAYS.map((u) => {
    const p: number[] = [];
    const di = (u[0] * step) / spacing[0], dj = (u[1] * step) / spacing[1], dk = (u[2] * step) / spacing[2];
    for (let q = 0; q < n; q++) {
      const x = center[0] + di * q, y = center[1] + dj * q, z = center[2] + dk * q;
      if (!inside(x, y, z)) break;
      p.push(sample(x, y, z));
    }
    return p;
  });
  // Each ray's lowest value, over rays with two voxels or more inside the grid.
  const lows: number[] = [];
  for (const p of profiles) {
    if (p.length < 8) continue;
    let low = Infinity;
    for (const v of p) low = Math.min(low, v);
    lows.push(low);
  }
  if (lows.length < RAYS.length / 4) return null;
  const background = median(lows);
  if (!(core - background >= spec.minContrastHu)) return null;
  // Edge distance (mm) of each ray at `level`: two samples in a row below it (noise alone rarely makes two),
  // interpolated between the last sample above and the first below; maxR where it never falls within maxR (an
  // open ray), undefined where the ray left the grid first.
  const edges = (level: number): (number | undefined)[] =>
    profiles.map((p) => {
      for (let q = 1; q < p.length - 1; q++) if (p[q]! < level && p[q + 1]! < level) return (q - 1 + (p[q - 1]! - level) / (p[q - 1]! - p[q]!)) * step;
      return p.length === n ? maxR : undefined;
    });
  // A ray that never falls to the low level within maxR ran into the chest wall or along a vessel: its band would
  // sample those (and, reaching maxR, outnumber the rest), so it is left out. (One median per ray instead of the
  // pooled samples measured the held-out nodules worse: median error 9.6 % against 8.2 %.)
  const extent = edges(background + spec.minContrastHu);
  const outer: number[] = [];
  profiles.forEach((p, r) => {
    const e = extent[r];
    if (e === undefined || e >= maxR) return;
    for (let q = Math.floor((OUTER_BAND[0] * e) / step); q <= Math.floor((OUTER_BAND[1] * e) / step) && q < p.length; q++) outer.push(p[q]!);
  });
  const lesionHu = outer.length ? Math.min(core, median(outer)) : core;
  const radii = edges((lesionHu + background) / 2).filter((r): r is number => r !== undefined);
  const open = radii.filter((r) => r >= maxR).length;
  // Too few rays stayed inside to judge, or at least half found no edge: the centre lies in something larger than
  // a lesion (a wall, the heart), not measurable.
  if (radii.length < RAYS.length / 4 || open >= radii.length / 2) return null;
  const r = median(radii);
  const diameterMm = 2 * r;
  return {
    diameterMm,
    volumeMm3: (Math.PI / 6) * diameterMm ** 3,
    lesionHu,
    backgroundHu: background,
  };
}
