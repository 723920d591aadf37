import { describe, expect, it } from 'vitest';
import { measureLesion, type MeasureSpec } from '../../src/postprocess/measure.js';
import type { Vec3, Volume } from '../../src/volume/types.js';

const SPEC: MeasureSpec = { maxDiameterMm: 40, minContrastHu: 100 };

/**
 * A 64 mm cube of lung (-850 HU) holding `paint`ed structures, sampled on a grid of `spacing` mm with each voxel
 * the mean of 3^3 sub-samples (partial volume), Gaussian-ish blur from that, and seeded noise of `noise` HU.
 */
function phantom(paint: (p: Vec3) => number | undefined, spacing: Vec3 = [1, 1, 1], noise = 20): { grid: Volume<Int16Array>; center: Vec3 } {
  const dims: Vec3 = [Math.round(64 / spacing[0]), Math.round(64 / spacing[1]), Math.round(64 / spacing[2])];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  let seed = 12345;
  const rnd = (): number => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  const gauss = (): number => Math.sqrt(-2 * Math.log(rnd() + 1e-12)) * Math.cos(2 * Math.PI * rnd());
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        let sum = 0;
        for (const dz of [-1 / 3, 0, 1 / 3]) for (const dy of [-1 / 3, 0, 1 / 3]) for (const dx of [-1 / 3, 0, 1 / 3]) {
          const p: Vec3 = [(i + 0.5 + dx) * spacing[0] - 32, (j + 0.5 + dy) * spacing[1] - 32, (k + 0.5 + dz) * spacing[2] - 32];
          sum += paint(p) ?? -850;
        }
        data[i + dims[0] * (j + dims[1] * k)] = Math.round(sum / 27 + noise * gauss());
      }
  const grid: Volume<Int16Array> = { data, geometry: { dims, spacing, origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
  // The centre of the cube (mm 0,0,0) in continuous voxel indices.
  return { grid, center: [32 / spacing[0] - 0.5, 32 / spacing[1] - 0.5, 32 / spacing[2] - 0.5] };
}

const norm = (p: Vec3): number => Math.hypot(p[0], p[1], p[2]);
const sphere = (d: number, hu: number) => (p: Vec3): number | undefined => (norm(p) <= d / 2 ? hu : undefined);

describe('measureLesion: diameter from the image at half maximum', () => {
  it('measures solid and ground-glass spheres of 4-30 mm within 0.6 mm', () => {
    for (const [d, hu] of [[4, 40], [8, 40], [16, 30], [30, 50], [6, -600], [14, -550]] as const) {
      const { grid, center } = phantom(sphere(d, hu));
      const m = measureLesion(grid, center, SPEC)!;
      expect(m, `${d} mm at ${hu} HU`).not.toBeNull();
      expect(Math.abs(m.diameterMm - d), `${d} mm at ${hu} HU measured ${m.diameterMm}`).toBeLessThan(0.6);
      expect(m.volumeMm3).toBeCloseTo((Math.PI / 6) * m.diameterMm ** 3, 6);
      expect(m.backgroundHu).toBeLessThan(-800);
    }
  });

  it('a part-solid nodule is measured to the edge of its ground glass, not of its solid core', () => {
    const { grid, center } = phantom((p) => (norm(p) <= 3 ? 40 : norm(p) <= 8 ? -620 : undefined));
    const m = measureLesion(grid, center, SPEC)!;
    expect(Math.abs(m.diameterMm - 16)).toBeLessThan(1.2);
    expect(m.lesionHu).toBeLessThan(-400);
  });

  it('an attached vessel or the chest wall does not move it (median over rays)', () => {
    // A 3 mm vessel through a 10 mm nodule, along x.
    const vessel = phantom((p) => (norm(p) <= 5 ? 40 : Math.hypot(p[1], p[2]) <= 1.5 ? 40 : undefined));
    expect(Math.abs(measureLesion(vessel.grid, vessel.center, SPEC)!.diameterMm - 10)).toBeLessThan(1);
    // A 12 mm nodule whose centre lies 2.5 mm from the pleura (soft tissue beyond x = 2.5 mm).
    const wall = phantom((p) => (p[0] >= 2.5 || norm(p) <= 6 ? 40 : undefined));
    expect(Math.abs(measureLesion(wall.grid, wall.center, SPEC)!.diameterMm - 12)).toBeLessThan(2);
  });

  it('a part-solid nodule against the chest wall is measured to its ground glass, not its core (rays into the wall do not set its level)', () => {
    // 16 mm of ground glass (-460 HU) round a 4 mm solid core, its centre 2 mm from the pleura (soft tissue beyond x = 2 mm):
    // every ray into the wall finds no edge, and their samples had outnumbered the rest, which put the level at the core.
    for (const wallMm of [2, 3]) {
      const { grid, center } = phantom((p) => (p[0] >= wallMm ? 40 : norm(p) <= 2 ? 20 : norm(p) <= 8 ? -460 : undefined));
      const m = measureLesion(grid, center, SPEC)!;
      expect(m, `wall at ${wallMm} mm`).not.toBeNull();
      expect(m.lesionHu, `wall at ${wallMm} mm`).toBeLessThan(-300);
      expect(Math.abs(m.diameterMm - 16), `wall at ${wallMm} mm: ${m.diameterMm} mm`).toBeLessThan(2.5);
    }
  });

  it('is the same on an anisotropic grid (1 x 1 x 2.5 mm)', () => {
    const { grid, center } = phantom(sphere(12, 40), [1, 1, 2.5]);
    expect(Math.abs(measureLesion(grid, center, SPEC)!.diameterMm - 12)).toBeLessThan(1);
  });

  it("measures a lesion whose centre lies on the grid's first or last slice or in a corner from the rays that stay inside", () => {
    // Brain (40 HU) with a 6 mm contrast sac (400 HU), the aneurysm model's settings.
    const { grid } = phantom((p) => (norm(p) <= 3 ? 400 : 40), [0.75, 0.75, 0.75], 10);
    const spec = { maxDiameterMm: 25, minContrastHu: 100 };
    const n = grid.geometry.dims[0];
    // Move the sac to each place by cutting the grid around it: a sub-grid whose first slice, last slice or corner is the centre.
    const cut = (i0: number, j0: number, k0: number, size: number): { grid: Volume; center: Vec3 } => {
      const dims: Vec3 = [size, size, size];
      const data = new Int16Array(size ** 3);
      for (let k = 0; k < size; k++) for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) data[i + size * (j + size * k)] = grid.data[i0 + i + n * (j0 + j + n * (k0 + k))]!;
      const c = (n - 1) / 2;
      return { grid: { data, geometry: { ...grid.geometry, dims } }, center: [c - i0, c - j0, c - k0] };
    };
    const c = Math.round((n - 1) / 2);
    for (const [name, at] of [['first slice', cut(c - 20, c - 20, c, 41)], ['last slice', cut(c - 20, c - 20, c - 40, 41)], ['corner', cut(c - 3, c - 3, c - 3, 40)]] as const) {
      const m = measureLesion(at.grid, at.center, spec);
      expect(m, name).not.toBeNull();
      expect(Math.abs(m!.diameterMm - 6), `${name}: ${m!.diameterMm} mm`).toBeLessThan(0.8);
      expect(m!.backgroundHu, name).toBeGreaterThan(0);
    }
  });

  it('a huge maxDiameterMm is no stack overflow', () => {
    const { grid, center } = phantom(sphere(8, 40));
    expect(measureLesion(grid, center, { maxDiameterMm: 1e5, minContrastHu: 100 })!.diameterMm).toBeCloseTo(8, 0);
  });

  it('is null where nothing stands out from the background, or where the centre lies inside something larger than the rays reach', () => {
    const faint = phantom(sphere(10, -800));
    expect(measureLesion(faint.grid, faint.center, SPEC)).toBeNull();
    const wall = phantom((p) => (p[0] >= -30 ? 40 : undefined));
    expect(measureLesion(wall.grid, wall.center, { ...SPEC, maxDiameterMm: 20 })).toBeNull();
  });
});
