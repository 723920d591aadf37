import { describe, expect, it } from 'vitest';
import { paintSteps, type Canvas, type PaintOptions } from '../../src/synth/raster.js';
import { runToEnd } from '../../src/io/turns.js';
import { Box, Capsule, Ellipsoid, eulerRot, Intersect, HalfSpace, Profile, Shell, Sphere, TubeChain, Union, type Shape } from '../../src/synth/shapes.js';

/** A 0.5 mm canvas centred on the origin, axes optionally flipped as for prone / feet-first grids. */
function canvas(n: number, h = 0.5, flip: [number, number, number] = [1, 1, 1]): Canvas {
  const axis = (s: number): Float64Array => Float64Array.from({ length: n }, (_, i) => s * (i - (n - 1) / 2) * h);
  return { data: new Float32Array(n * n * n), nx: n, ny: n, nz: n, X: axis(flip[0]), Y: axis(flip[1]), Z: axis(flip[2]), h };
}

/** Painted volume in mm^3 (a painted value of 1 over a background of 0 is the coverage). */
const volume = (cv: Canvas): number => cv.data.reduce((a, v) => a + v, 0) * cv.h ** 3;

const cases: [string, Shape, number][] = [
  ['sphere', new Sphere([0.3, -0.2, 0.1], 8), (4 / 3) * Math.PI * 512],
  ['elongated rotated ellipsoid', new Ellipsoid([0, 0, 0], [14, 4, 6], eulerRot(0.5, 0.3, 0.2)), (4 / 3) * Math.PI * 14 * 4 * 6],
  ['rotated box', new Box([0, 1, 0], [10, 5, 3], eulerRot(0.4, 0, 0.3)), 8 * 10 * 5 * 3],
  ['capsule', new Capsule([-8, -3, -5], [8, 4, 6], 3, 3), Math.PI * 9 * Math.hypot(16, 7, 11) + (4 / 3) * Math.PI * 27],
  ['tube chain', new TubeChain([-10, 0, -6, 2, 0, 2, 0, 2, 10, 0, 6, 2]), Math.PI * 4 * (Math.hypot(10, 2, 6) + Math.hypot(10, 2, 6)) + (4 / 3) * Math.PI * 8],
  [
    'extruded ellipse',
    new Profile([-20, -20, -10], [20, 20, 10], (z) => (Math.abs(z) > 10 ? null : { cx: 1, cy: -1, a: 12, b: 7, n: 0, angle: 0.4 })),
    Math.PI * 12 * 7 * 20,
  ],
  ['half ball (intersection)', new Intersect([new Sphere([0, 0, 0], 9), new HalfSpace([0, 0, 0], [0, 0, 1])]), (2 / 3) * Math.PI * 729],
  ['two disjoint balls (union)', new Union([new Sphere([-9, 0, 0], 5), new Sphere([9, 0, 0], 5)]), (8 / 3) * Math.PI * 125],
];

/** paintSteps run to its end, as the phantoms' synchronous path (synthesize) does. */
const paint = (cv: Canvas, shape: Shape, hu: number, opts?: PaintOptions): void => runToEnd(paintSteps(cv, shape, hu, opts));

describe('paint', () => {
  it.each(cases)('draws a %s with the right volume (partial-volume edges, tiles filled and skipped)', (_, shape, expected) => {
    for (const flip of [[1, 1, 1], [-1, -1, 1], [1, -1, -1]] as [number, number, number][]) {
      const cv = canvas(64, 0.5, flip);
      paint(cv, shape, 1);
      expect(Math.abs(volume(cv) - expected) / expected).toBeLessThan(0.03);
      let lo = Infinity, hi = -Infinity;
      for (const v of cv.data) {
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBeGreaterThanOrEqual(0);
      expect(hi).toBeLessThanOrEqual(1);
    }
  });

  it('puts a sphere where its centre is, whatever the axis directions', () => {
    for (const flip of [[1, 1, 1], [-1, 1, -1], [-1, -1, 1]] as [number, number, number][]) {
      const cv = canvas(48, 0.5, flip);
      const c: [number, number, number] = [2.3, -3.1, 1.7];
      paint(cv, new Sphere(c, 4), 1);
      let w = 0, x = 0, y = 0, z = 0;
      for (let k = 0; k < 48; k++)
        for (let j = 0; j < 48; j++)
          for (let i = 0; i < 48; i++) {
            const v = cv.data[i + 48 * (j + 48 * k)]!;
            w += v;
            x += v * cv.X[i]!;
            y += v * cv.Y[j]!;
            z += v * cv.Z[k]!;
          }
      expect(x / w).toBeCloseTo(c[0], 1);
      expect(y / w).toBeCloseTo(c[1], 1);
      expect(z / w).toBeCloseTo(c[2], 1);
    }
  });

  it('draws a shell that leaves the inside to the next layer, seamlessly', () => {
    const cv = canvas(64);
    const inner = new Sphere([0, 0, 0], 9);
    paint(cv, new Shell(new Sphere([0, 0, 0], 14), inner, 2.5 * cv.h + 1), 1);
    const centre = 32 + 64 * (32 + 64 * 32);
    expect(cv.data[centre]).toBe(0);
    paint(cv, inner, 1);
    expect(cv.data[centre]).toBe(1);
    // One solid ball of radius 14 with no seam: every voxel inside is exactly 1.
    expect(Math.abs(volume(cv) - (4 / 3) * Math.PI * 14 ** 3) / ((4 / 3) * Math.PI * 14 ** 3)).toBeLessThan(0.02);
    let seam = 0;
    for (let k = 0; k < 64; k++)
      for (let j = 0; j < 64; j++)
        for (let i = 0; i < 64; i++) {
          const r = Math.hypot(cv.X[i]!, cv.Y[j]!, cv.Z[k]!);
          if (r < 13 && cv.data[i + 64 * (j + 64 * k)] !== 1) seam++;
        }
    expect(seam).toBe(0);
  });

  it('respects value masks and blends over what is there', () => {
    const cv = canvas(32);
    cv.data.fill(-850);
    paint(cv, new Box([6, 0, 0], [3, 20, 20]), 40);
    // A vessel drawn only where the value is still lung: it stops at the box.
    paint(cv, new Capsule([-10, 0, 0], [10, 0, 0], 2, 2), 300, { maskMax: -300 });
    const at = (x: number, y = 0): number => cv.data[Math.round(x / cv.h + 15.5) + 32 * (Math.round(y / cv.h + 15.5) + 32 * 16)]!;
    expect(at(-4)).toBeCloseTo(300, 0);
    expect(at(6)).toBeCloseTo(40, 0);
    expect(at(-4, 5)).toBeCloseTo(-850, 0);
    // The edge voxel of the tube is a partial-volume mix.
    // (x, y, z) = (-3.75, 1.75, 0.75): 1.90 mm from the axis of a 2 mm tube, so about 70 % covered.
    const edge = cv.data[8 + 32 * (19 + 32 * 17)]!;
    expect(edge).toBeGreaterThan(-850);
    expect(edge).toBeLessThan(300);
  });
});
