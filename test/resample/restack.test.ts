import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { CtVolume, Geometry, Vec3 } from '../../src/volume/types.js';
import { cross, dot, lpsToVoxel, normalize, voxelToLps } from '../../src/volume/affine.js';
import { closePool } from '../../src/workers/pool.js';
import { correctTilt, makeUniform, restackGrid, transformForOutput } from '../../src/resample/index.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { affineField, sameBits } from './helpers.js';
import { hasTool } from '../helpers/tools.js';

afterAll(() => closePool());

/**
 * The geometry of ../shared/data/ct_head_ge_tilt_varspacing as its headers give it: IOP
 * 1,0,0 / 0,0.948324,-0.317305, slices stepping along +z (the table moves, the gantry is tilted 18.5 deg)
 * with uneven steps of 4.22 mm x13, 1.14 mm, 7.38 mm x13. Values: an affine field of the true positions.
 */
function tiltedSeries(nx = 64, ny = 64, f: (p: Vec3) => number = affineField): CtVolume {
  const u: Vec3 = [1, 0, 0], v: Vec3 = [0, 0.948324, -0.317305];
  const steps = [...Array(13).fill(4.22), 1.14, ...Array(13).fill(7.38)] as number[];
  const positions: Vec3[] = [[-125, -123.5404569, 5.8360586]];
  for (const s of steps) {
    const p = positions[positions.length - 1]!;
    positions.push([p[0], p[1], p[2] + s]);
  }
  const nz = positions.length;
  const sx = 0.4882812 * (512 / nx);
  const n = normalize(cross(u, v));
  const data = new Int16Array(nx * ny * nz);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = positions[k]!.map((o, r) => o + i * sx * u[r]! + j * sx * v[r]!) as Vec3;
        data[i + nx * (j + ny * k)] = Math.round(f(p));
      }
  const depth = positions[nz - 1]![2] - positions[0]![2];
  return {
    data,
    geometry: { dims: [nx, ny, nz], spacing: [sx, sx, depth / (nz - 1)], origin: positions[0]!, direction: [1, 0, 0, 0, 0.948324, 0, 0, -0.317305, 1] },
    seriesInstanceUid: '1.2.3',
    studyInstanceUid: '1.2',
    sliceUids: positions.map((_, k) => `1.2.3.${k}`),
    frameNumbers: positions.map(() => 1),
    instanceNumbers: positions.map(() => null),
    slices: { positions, offsets: positions.map((p) => dot([p[0] - positions[0]![0], p[1] - positions[0]![1], p[2] - positions[0]![2]], n)), uneven: true },
    tiltDeg: 18.5,
    problems: [],
  };
}

/** Output voxels that lie between the first and last real slice and inside every in-plane footprint. */
function checkTiltField(src: CtVolume, out: { data: ArrayLike<number>; geometry: Geometry }, f: (p: Vec3) => number): { worst: number; n: number } {
  const [mx, my, mz] = out.geometry.dims;
  const { positions } = src.slices;
  const [nx, ny] = src.geometry.dims;
  const sx = src.geometry.spacing[0];
  const u: Vec3 = [1, 0, 0], v: Vec3 = [0, 0.948324, -0.317305];
  const n = normalize(cross(u, v));
  const t = positions.map((p) => dot([p[0] - positions[0]![0], p[1] - positions[0]![1], p[2] - positions[0]![2]], n));
  let worst = 0, count = 0;
  for (let k = 0; k < mz; k++)
    for (let j = 0; j < my; j++)
      for (let i = 0; i < mx; i++) {
        const p = voxelToLps(out.geometry, [i, j, k]);
        const tn = dot([p[0] - positions[0]![0], p[1] - positions[0]![1], p[2] - positions[0]![2]], n);
        if (tn < 0 || tn > t[t.length - 1]!) continue;
        // In-plane position of p projected along the normal onto each bracketing slice.
        let kk = 0;
        while (kk < t.length - 2 && t[kk + 1]! < tn) kk++;
        const inside = [kk, kk + 1].every((s) => {
          const r = [p[0] - positions[s]![0], p[1] - positions[s]![1], p[2] - positions[s]![2]] as Vec3;
          const a = dot(r, u) / sx, b = dot(r, v) / sx;
          return a >= 0 && a <= nx - 1 && b >= 0 && b <= ny - 1;
        });
        if (!inside) continue;
        count++;
        worst = Math.max(worst, Math.abs(out.data[i + mx * (j + my * k)]! - f(p)));
      }
  return { worst, n: count };
}

describe('gantry tilt and uneven slices', () => {
  it('matches dcm2niix _Tilt_Eq dims and spacing: 512 x 611 x 56 at 2.6198 mm', () => {
    const g = restackGrid(tiltedSeries(512, 512, () => 0), true);
    expect(g.uneven).toBe(true);
    expect(g.geometry.dims).toEqual([512, 611, 56]);
    expect(g.geometry.spacing[0]).toBeCloseTo(0.4882812, 6);
    expect(g.geometry.spacing[2]).toBeCloseTo(2.6198, 4);
    // Orthogonal output: k is the image normal.
    const d = g.geometry.direction;
    expect(d[1] * d[2] + d[4] * d[5] + d[7] * d[8]).toBeCloseTo(0, 12);
  });

  it('tilt correction reproduces an affine field of true positions (exact geometry, linear both ways)', async () => {
    const src = tiltedSeries(64, 64, (p) => 3 * p[0] + 5 * p[1] - 4 * p[2]);
    const out = await correctTilt(src, { workers: 2 });
    const { worst, n } = checkTiltField(src, out, (p) => 3 * p[0] + 5 * p[1] - 4 * p[2]);
    expect(n).toBeGreaterThan(20_000);
    // Source values were rounded to int16: at most 0.5 off, interpolation adds nothing.
    expect(worst).toBeLessThan(0.5 + 1e-3);
    // Corners of the sheared footprint get the fill value.
    expect(out.data[0]).toBe(-1024);
  });

  it('makeUniform keeps the sheared slice axis and makes the steps equal', async () => {
    const src = tiltedSeries(32, 32);
    const out = await makeUniform(src, { workers: 0 });
    expect(out.geometry.dims[0]).toBe(32);
    expect(out.geometry.dims[1]).toBe(32);
    expect(out.geometry.direction).toEqual(src.geometry.direction);
    // First and last output slices sit on the first and last real slice.
    const last = voxelToLps(out.geometry, [0, 0, out.geometry.dims[2] - 1]);
    src.slices.positions[src.slices.positions.length - 1]!.forEach((x, r) => expect(last[r]).toBeCloseTo(x, 6));
    const { worst, n } = checkTiltField(src, out, affineField);
    expect(n).toBeGreaterThan(5_000);
    expect(worst).toBeLessThan(0.5 + 1e-3);
  });

  it('is identical for inline, 1 and 2 workers (per-slice tables)', async () => {
    const src = tiltedSeries(48, 40, (p) => Math.sin(p[1] / 4) * 400 + p[2]);
    const ref = await correctTilt(src, { workers: 0, interp: 'cubic' });
    for (const workers of [1, 2]) expect(sameBits((await correctTilt(src, { workers, interp: 'cubic' })).data, ref.data)).toBe(true);
  });

  it('transformForOutput corrects tilt by default, then reorients and resamples', async () => {
    const src = tiltedSeries(32, 32);
    const plain = await transformForOutput(src, { correctTilt: false });
    expect(plain.geometry.direction).toEqual(src.geometry.direction);
    const out = await transformForOutput(src, { orient: 'RAS', spacing: 2, workers: 2 });
    const d = out.geometry.direction;
    expect(d[0]).toBeLessThan(0); // i toward R
    expect(d[4]).toBeLessThan(0); // j toward A
    expect(d[8]).toBeGreaterThan(0); // k toward S
    expect(out.geometry.spacing).toEqual([2, 2, 2]);
  });

  it('a tilt under the reported 0.05 deg is not restacked (a restack that changes voxels always comes with its gantry-tilt problem)', async () => {
    // An evenly spaced stack sheared by `deg`: the k axis leans toward j.
    const sheared = (deg: number): CtVolume => {
      const t = Math.tan((deg * Math.PI) / 180);
      const len = Math.hypot(1, t);
      const v = tiltedSeries(16, 16);
      return { ...v, slices: { ...v.slices, uneven: false }, tiltDeg: deg, geometry: { dims: v.geometry.dims, spacing: [1, 1, 2 * len], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, t / len, 0, 0, 1 / len] } };
    };
    const slight = sheared(0.03);
    expect(await transformForOutput(slight, {})).toBe(slight);
    const reported = sheared(0.06);
    const out = await transformForOutput(reported, { workers: 0 });
    expect(out).not.toBe(reported);
    expect(out.geometry.direction).toEqual([1, 0, 0, 0, 1, 0, 0, 0, 1]);
  });
});

const TILT = 'ct_head_ge_tilt_varspacing';
const DCM2NIIX = 'dcm2niix';

describe.skipIf(!hasSharedData)('real tilted GE head series', () => {
  it('loadSeries + correctTilt gives dcm2niix\'s 512 x 611 x 56 grid and its voxel values', async () => {
    const { loadSeries } = await import('../../src/ingest/load.js');
    const vol = await loadSeries(sharedPath(TILT));
    expect(vol.tiltDeg).toBeCloseTo(18.5, 1);
    const out = await correctTilt(vol, { fill: -1500 });
    expect(out.geometry.dims).toEqual([512, 611, 56]);
    expect(out.geometry.spacing[2]).toBeCloseTo(2.6198, 4);
    // Every real slice position maps to a whole output row offset along the normal: check one point.
    const p = vol.slices.positions[10]!;
    const ijk = lpsToVoxel(out.geometry, p);
    expect(ijk[0]).toBeCloseTo(0, 6);
    if (!hasTool(DCM2NIIX)) return;
    // dcm2niix's own _Tilt_Eq_1 output, rows flipped (NIfTI), agrees voxel by voxel to interpolation detail.
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-tilt-'));
    try {
      execFileSync(DCM2NIIX, ['-z', 'n', '-b', 'n', '-f', 'x', '-o', dir, sharedPath(TILT)], { stdio: 'ignore' });
      const file = readdirSync(dir).find((f) => f.includes('Tilt') && f.endsWith('.nii'));
      expect(file).toBeDefined();
      const buf = readFileSync(join(dir, file!));
      const dims = [buf.readInt16LE(42), buf.readInt16LE(44), buf.readInt16LE(46)];
      expect(dims).toEqual([512, 611, 56]);
      const off = buf.readFloatLE(108);
      const ref = new Int16Array(buf.buffer.slice(buf.byteOffset + off, buf.byteOffset + off + 512 * 611 * 56 * 2));
      let sum = 0, n = 0;
      const diffs: number[] = [];
      for (let k = 0; k < 56; k++)
        for (let j = 0; j < 611; j += 3)
          for (let i = 0; i < 512; i += 3) {
            const a = out.data[i + 512 * (j + 611 * k)]!, b = ref[i + 512 * (610 - j + 611 * k)]!;
            if (a <= -1000 || b <= -1000) continue;
            const d = Math.abs(a - b);
            sum += d;
            n++;
            if (diffs.length < 50_000) diffs.push(d);
          }
      diffs.sort((x, y) => x - y);
      expect(n).toBeGreaterThan(100_000);
      expect(diffs[diffs.length >> 1]).toBeLessThan(2);
      expect(sum / n).toBeLessThan(10);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 30_000);
});
