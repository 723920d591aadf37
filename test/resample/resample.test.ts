import { afterAll, describe, expect, it } from 'vitest';
import type { Geometry, Vec3, Volume } from '../../src/volume/types.js';
import { lpsToVoxel, voxelToLps } from '../../src/volume/affine.js';
import { closePool, getPool } from '../../src/workers/pool.js';
import { resample, resampleToGeometry, spacingGrid, toSpacing } from '../../src/resample/index.js';
import { CtscopeError } from '../../src/errors.js';
import { instantiateKernels } from '../../src/resample/wasm.js';
import { ensureMemory } from '../../src/wasm/assembler.js';
import { affineField, fieldVolume, maxAbsDiff, rotation, sameBits } from './helpers.js';

afterAll(() => closePool());

const oblique: Geometry = { dims: [40, 36, 24], spacing: [0.7, 0.8, 1.9], origin: [-12, 30.5, -80], direction: rotation(2, 17) };

/** Output voxels whose source position lies within [0, n-1] on every axis (no edge replication). */
function interior(src: Geometry, out: Geometry, pad = 0): Array<[number, number, number]> {
  const r: Array<[number, number, number]> = [];
  for (let k = 0; k < out.dims[2]; k++)
    for (let j = 0; j < out.dims[1]; j++)
      for (let i = 0; i < out.dims[0]; i++) {
        const s = lpsToVoxel(src, voxelToLps(out, [i, j, k]));
        if (s.every((x, a) => x >= pad - 1e-9 && x <= src.dims[a]! - 1 - pad + 1e-9)) r.push([i, j, k]);
      }
  return r;
}

function checkField(src: Volume, out: Volume, pad = 0): number {
  const [mx, my] = out.geometry.dims;
  const pts = interior(src.geometry, out.geometry, pad);
  expect(pts.length).toBeGreaterThan(100);
  let worst = 0;
  for (const [i, j, k] of pts) {
    const want = affineField(voxelToLps(out.geometry, [i, j, k]));
    worst = Math.max(worst, Math.abs(out.data[i + mx * (j + my * k)]! - want));
  }
  return worst;
}

describe('resample to a spacing', () => {
  it('keeps the field of view: dims = round(n * s / s\'), centred, exact affine', () => {
    const g = spacingGrid(oblique, [1, 1, 1]).geometry;
    expect(g.dims).toEqual([28, 29, 46]);
    // The centre of the field of view does not move.
    const c0 = voxelToLps(oblique, oblique.dims.map((n) => (n - 1) / 2) as Vec3);
    const c1 = voxelToLps(g, g.dims.map((n) => (n - 1) / 2) as Vec3);
    c0.forEach((x, a) => expect(c1[a]).toBeCloseTo(x, 9));
    expect(g.direction).toEqual(oblique.direction);
  });

  it('trilinear reproduces an affine intensity field to float rounding (oblique, down and up)', async () => {
    const src = fieldVolume(oblique, affineField);
    for (const spacing of [[1, 1, 1], [0.45, 1.3, 0.8]] as Vec3[]) {
      const out = await resample(src, { spacing, workers: 0 });
      // Values reach a few hundred; float32 rounding there is ~3e-5.
      expect(checkField(src, out)).toBeLessThan(2e-4);
    }
  });

  it('cubic (Keys) and lanczos3 reproduce an affine field away from the edges', async () => {
    const src = fieldVolume(oblique, affineField);
    expect(checkField(src, await resample(src, { spacing: [1, 0.6, 1.2], interp: 'cubic', workers: 0 }), 1)).toBeLessThan(2e-4);
    // Lanczos is not exact for linear ramps, only close.
    expect(checkField(src, await resample(src, { spacing: [1, 0.6, 1.2], interp: 'lanczos3', workers: 0 }), 2)).toBeLessThan(0.5);
  });

  it('nearest keeps the label set and the voxel type', async () => {
    const g: Geometry = { dims: [30, 20, 16], spacing: [0.9, 0.9, 2.5], origin: [0, 0, 0], direction: rotation(1, 5) };
    const labels = new Uint8Array(30 * 20 * 16);
    for (let i = 0; i < labels.length; i++) labels[i] = [0, 3, 7, 200][(i * 2654435761) % 7 % 4]!;
    const out = await resample({ data: labels, geometry: g }, { spacing: [0.5, 1.7, 1], interp: 'nearest', fill: 0, workers: 2 });
    expect(out.data).toBeInstanceOf(Uint8Array);
    expect(new Set(out.data)).toEqual(new Set([0, 3, 7, 200]));
  });

  it('the fill is stored as the output type stores any value: rounded and clamped, never wrapped', async () => {
    const g: Geometry = { dims: [12, 10, 8], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const labels = new Uint8Array(12 * 10 * 8).fill(7);
    // A larger field of view than the source, so that outside voxels exist along every axis.
    const target: Geometry = { dims: [16, 14, 12], spacing: [1, 1, 1], origin: [-2, -2, -2], direction: g.direction };
    for (const interp of ['nearest', 'linear'] as const)
      for (const [fill, stored] of [[-1, 0], [300, 255], [0.6, 1]] as const) {
        const r = await resampleToGeometry({ data: labels, geometry: g }, target, { interp, fill, outType: 'uint8', workers: 0 });
        expect(new Set(r.data), `${interp}, fill ${fill}`).toEqual(new Set([7, stored]));
      }
  });

  it('nearest takes, for every output voxel, the source voxel nearest to its position', async () => {
    const g: Geometry = { dims: [23, 19, 11], spacing: [0.7, 0.9, 1.6], origin: [4, -3, 10], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const data = new Float32Array(23 * 19 * 11).map((_, i) => ((i * 7919) % 1000) - 500.25);
    // Spacings with no exact ties (a position halfway between two voxels may round either way).
    for (const outType of ['float32', 'int16'] as const)
      for (const workers of [0, 2]) {
        const r = await resample({ data, geometry: g }, { spacing: [0.53, 1.13, 0.83], interp: 'nearest', outType, fill: -1024, workers });
        const [mx, my, mz] = r.geometry.dims;
        let wrong = 0;
        for (let k = 0; k < mz; k++)
          for (let j = 0; j < my; j++)
            for (let i = 0; i < mx; i++) {
              // Inside: within half a voxel of the source extent (then the index is clamped), as for every kernel.
              const x = lpsToVoxel(g, voxelToLps(r.geometry, [i, j, k]));
              const inside = x.every((c, a) => c >= -0.5 - 1e-6 && c <= g.dims[a]! - 0.5 + 1e-6);
              const s = x.map((c, a) => Math.min(g.dims[a]! - 1, Math.max(0, Math.floor(c + 0.5))));
              const v = inside ? data[(s[2]! * 19 + s[1]!) * 23 + s[0]!]! : -1024;
              if (r.data[(k * my + j) * mx + i] !== (outType === 'int16' ? Math.round(v) : Math.fround(v))) wrong++;
            }
        expect(wrong, `${outType}, ${workers} workers`).toBe(0);
      }
  });

  it('a point keeps its LPS position: the centroid of a blob', async () => {
    const g: Geometry = { dims: [48, 40, 30], spacing: [0.6, 0.6, 1.5], origin: [10, -20, 33], direction: rotation(0, -12) };
    const centre: Vec3 = voxelToLps(g, [21.3, 17.8, 12.4]);
    const blob = (p: Vec3): number => Math.exp(-((p[0] - centre[0]) ** 2 + (p[1] - centre[1]) ** 2 + (p[2] - centre[2]) ** 2) / (2 * 3 * 3));
    const src = fieldVolume(g, blob);
    const out = await resample(src, { spacing: 1.1, workers: 2 });
    const [mx, my, mz] = out.geometry.dims;
    const c: Vec3 = [0, 0, 0];
    let w = 0;
    for (let k = 0; k < mz; k++)
      for (let j = 0; j < my; j++)
        for (let i = 0; i < mx; i++) {
          const v = out.data[i + mx * (j + my * k)]!;
          const p = voxelToLps(out.geometry, [i, j, k]);
          for (let a = 0; a < 3; a++) c[a] += v * p[a]!;
          w += v;
        }
    c.forEach((x, a) => expect(Math.abs(x / w - centre[a]!)).toBeLessThan(0.05));
  });

  it('samples outside the field of view get the fill value (default -1024)', async () => {
    const src = fieldVolume(oblique, affineField);
    const out = await resample(src, { spacing: 1, dims: [40, 40, 60], workers: 0 });
    expect(out.data[0]).toBe(-1024);
    const withFill = await resample(src, { spacing: 1, dims: [40, 40, 60], fill: 5, workers: 0 });
    expect(withFill.data[0]).toBe(5);
  });

  it('anti-aliasing blurs only when downsampling and keeps constants', async () => {
    // 33 voxels to 9 at 4x the spacing: output samples land exactly on every 4th source voxel.
    const g: Geometry = { dims: [33, 33, 8], spacing: [0.5, 0.5, 1], origin: [0, 0, 0], direction: rotation(2, 0) };
    const flat = fieldVolume(g, () => 100);
    const a = await resample(flat, { spacing: [2, 2, 1], dims: [9, 9, 8], antialias: true, workers: 0 });
    expect(maxAbsDiff(a.data, new Float32Array(a.data.length).fill(100))).toBeLessThan(1e-4);
    // A one-voxel checkerboard aliases to a constant without the prefilter; with it, it averages out.
    const checker = fieldVolume(g, (p) => (Math.round(p[0] / 0.5 + p[1] / 0.5) % 2 === 0 ? 1000 : 0));
    const plain = await resample(checker, { spacing: [2, 2, 1], dims: [9, 9, 8], workers: 0 });
    const smooth = await resample(checker, { spacing: [2, 2, 1], dims: [9, 9, 8], antialias: true, workers: 0 });
    const mid = (v: Volume): number => v.data[5 + v.geometry.dims[0] * 5]!;
    expect(Math.abs(mid(plain) - 500)).toBeGreaterThan(400);
    expect(Math.abs(mid(smooth) - 500)).toBeLessThan(60);
  });

  it('int16 output rounds and clamps', async () => {
    const src = fieldVolume(oblique, (p) => (p[0] + 12) * 3000 - 40000.3);
    const out = await resample(src, { spacing: 1, outType: 'int16', workers: 0 });
    expect(out.data).toBeInstanceOf(Int16Array);
    let lo = Infinity, hi = -Infinity;
    for (const v of out.data) (lo = Math.min(lo, v)), (hi = Math.max(hi, v));
    expect(hi).toBe(32767);
    expect(lo).toBe(-32768);
    expect(out.data.some((v) => v > -32768 && v < 32767)).toBe(true);
  });

  it('results are identical for inline, 1, 2 and 3 workers (linear, cubic, anti-aliased)', async () => {
    const src = fieldVolume(oblique, (p) => Math.sin(p[0] / 7) * 300 + p[2]);
    for (const opts of [{ interp: 'linear' as const }, { interp: 'cubic' as const }, { interp: 'linear' as const, antialias: true }]) {
      const ref = await resample(src, { spacing: [1.3, 1.1, 0.9], ...opts, workers: 0 });
      for (const workers of [1, 2, 3]) {
        const r = await resample(src, { spacing: [1.3, 1.1, 0.9], ...opts, workers });
        expect(r.data.buffer).toBeInstanceOf(SharedArrayBuffer);
        expect(sameBits(r.data, ref.data)).toBe(true);
      }
    }
  });

  it('the WebAssembly path matches the JS kernel (linear, cubic, lanczos3, anti-aliased)', async () => {
    const src = fieldVolume(oblique, (p) => Math.sin(p[0] / 7) * 300 + p[2]);
    const cases = [{ interp: 'linear' as const }, { interp: 'cubic' as const }, { interp: 'lanczos3' as const }, { interp: 'cubic' as const, antialias: true }];
    const simd = await Promise.all(cases.map((c) => resample(src, { spacing: [1.3, 0.5, 0.9], ...c, workers: 0 })));
    process.env.CTSCOPE_NO_WASM = '1';
    try {
      for (const [i, c] of cases.entries()) {
        const js = await resample(src, { spacing: [1.3, 0.5, 0.9], ...c, workers: 0 });
        // float32 (wasm) vs float64 (JS) intermediates: equal to float32 rounding of values up to ~400.
        expect(maxAbsDiff(simd[i]!.data, js.data)).toBeLessThan(3e-4);
        expect(sameBits(simd[i]!.data, js.data)).toBe(false);
      }
    } finally {
      delete process.env.CTSCOPE_NO_WASM;
    }
  });

  it('the WebAssembly int16 conversions: widening in, Math.round and int16 saturation out', () => {
    const K = instantiateKernels();
    if (!K) return expect.fail('WebAssembly SIMD is available in Node 20');
    ensureMemory(K.memory, 1 << 16);
    const f32 = new Float32Array(K.memory.buffer), i16 = new Int16Array(K.memory.buffer);
    const edge = [0.5, -0.5, 1.5, -1.5, 2.5, -2.5, 0.49999997, -0.49999997, 1e-8, -1e-8, 32766.5, 32767.5, -32768.5, -32769,
      1e10, -1e10, Infinity, -Infinity, NaN, -0, 0.999999, 123.25, -123.75, 40000, -40000, 8388607.5];
    const xs = Float32Array.from([...edge, ...Array.from({ length: 998 }, (_, i) => (i - 500) * 73.37 + 0.5)]);
    f32.set(xs, 0);
    K.f32ToI16(8192 * 4, 0, xs.length);
    const want = new Int16Array(xs.length);
    for (let i = 0; i < xs.length; i++) {
      const r = Math.round(xs[i]!);
      want[i] = r < -32768 ? -32768 : r > 32767 ? 32767 : r;
    }
    expect(Array.from(i16.subarray(8192 * 2, 8192 * 2 + xs.length))).toEqual(Array.from(want));
    const ints = Int16Array.from({ length: 1024 }, (_, i) => ((i * 7919) % 65536) - 32768);
    i16.set(ints, 0);
    K.i16ToF32(4096 * 4, 0, ints.length);
    expect(Array.from(f32.subarray(4096, 4096 + ints.length))).toEqual(Array.from(ints));
  });

  it('int16 in and out: the WebAssembly path rounds like the JS kernel', async () => {
    const f = fieldVolume(oblique, (p) => Math.sin(p[0] / 7) * 900 + p[2] * 40 - 300);
    const src: Volume = { data: Int16Array.from(f.data, (v) => Math.round(v)), geometry: f.geometry };
    const simd = await resample(src, { spacing: [1.3, 0.5, 0.9], outType: 'int16', workers: 0 });
    process.env.CTSCOPE_NO_WASM = '1';
    try {
      const js = await resample(src, { spacing: [1.3, 0.5, 0.9], outType: 'int16', workers: 0 });
      expect(simd.data).toBeInstanceOf(Int16Array);
      // float32 (wasm) vs float64 (JS) intermediates may land on either side of a .5: at most 1 apart, rarely
      // (here about 0.2 % of voxels; a truncating or half-even rounding would differ in tens of percent).
      expect(maxAbsDiff(simd.data, js.data)).toBeLessThanOrEqual(1);
      let differ = 0;
      for (let i = 0; i < js.data.length; i++) if (simd.data[i] !== js.data[i]) differ++;
      expect(differ / js.data.length).toBeLessThan(5e-3);
    } finally {
      delete process.env.CTSCOPE_NO_WASM;
    }
  });

  it('the separable path agrees with the general affine gather', async () => {
    const src = fieldVolume(oblique, (p) => Math.sin(p[0] / 5) * 100 + Math.cos(p[1] / 3) * 50 + p[2]);
    const sep = await resample(src, { spacing: [1.1, 0.9, 1.4], workers: 0 });
    // A target rotated a hair off the source axes takes the gather path; at 0 it matches exactly.
    const tgt = { ...sep.geometry, direction: rotation(2, 17.0000001) };
    const gat = await resampleToGeometry(src, tgt, { workers: 2 });
    expect(maxAbsDiff(sep.data, gat.data)).toBeLessThan(1e-3);
    const same = await resampleToGeometry(src, sep.geometry, { workers: 0 });
    expect(maxAbsDiff(same.data, sep.data)).toBeLessThan(1e-4);
  });

  it('a target walking the slices backwards (flipped k) matches the gather path (plane cache both ways)', async () => {
    const src = fieldVolume(oblique, (p) => Math.sin(p[2] / 3) * 200 + Math.cos(p[0] / 4) * 90);
    const d = oblique.direction;
    const flipped: Geometry = {
      dims: [40, 36, 70],
      spacing: [0.7, 0.8, 0.6],
      origin: voxelToLps(oblique, [0, 0, 23]),
      direction: [d[0], d[1], -d[2], d[3], d[4], -d[5], d[6], d[7], -d[8]],
    };
    for (const interp of ['linear', 'cubic'] as const) {
      const sep = await resampleToGeometry(src, flipped, { interp, workers: 2 });
      const gat = await resampleToGeometry(src, { ...flipped, direction: rotation(2, 17.0000001).map((x, i) => (i % 3 === 2 ? -x : x)) as Geometry['direction'] }, { interp, workers: 0 });
      expect(maxAbsDiff(sep.data, gat.data)).toBeLessThan(2e-3);
    }
  });

  it('general affine gather reproduces an affine field on an oblique target', async () => {
    const src = fieldVolume(oblique, affineField);
    const tgt: Geometry = { dims: [20, 20, 20], spacing: [1, 1, 1], origin: voxelToLps(oblique, [8, 8, 4]), direction: rotation(0, 30) };
    const out = await resampleToGeometry(src, tgt, { workers: 2 });
    expect(checkField(src, out)).toBeLessThan(2e-4);
  });
});

describe('resample errors and cancellation', () => {
  it('rejects bad options with E_USAGE and bad volumes with E_GEOMETRY', async () => {
    const src = fieldVolume(oblique, affineField);
    await expect(resample(src, { spacing: -1 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(resample(src, { spacing: 1, interp: 'bogus' as never })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(resample({ data: new Float32Array(5), geometry: oblique }, { spacing: 1 })).rejects.toMatchObject({ code: 'E_GEOMETRY' });
    // A host's wrong value is E_USAGE, not a TypeError from deep inside.
    const { cropOrPad, clipScale } = await import('../../src/resample/index.js');
    for (const bad of [null, undefined, {}, { data: new Float32Array(5) }, { data: [1, 2], geometry: oblique }])
      await expect(resample(bad as never, { spacing: 1 })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(cropOrPad(src, [10, 10, 10] as never)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(clipScale(src, undefined as never)).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(toSpacing('0.8,0.8,2')).toEqual([0.8, 0.8, 2]);
    expect(toSpacing('1')).toEqual([1, 1, 1]);
    expect(() => toSpacing('1,2')).toThrow(CtscopeError);
  });

  it('an aborted resample rejects with E_ABORTED, stops its tasks, and the pool keeps working', async () => {
    const g: Geometry = { dims: [256, 256, 160], spacing: [0.5, 0.5, 0.5], origin: [0, 0, 0], direction: rotation(2, 0) };
    const src = { data: new Float32Array(new SharedArrayBuffer(256 * 256 * 160 * 4)), geometry: g };
    const pre = new AbortController();
    pre.abort();
    await expect(resample(src, { spacing: 0.4, signal: pre.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
    // Both threads running first, so the abort meets running tasks, not queued ones.
    await resample(fieldVolume(oblique, affineField), { spacing: 1, workers: 2 });
    const ctl = new AbortController();
    let destroyed = 0;
    const onDestroy = (): void => void destroyed++;
    getPool().on('workerDestroy', onDestroy);
    const t0 = performance.now();
    const p = resample(src, { spacing: 0.2, interp: 'cubic', workers: 2, signal: ctl.signal });
    setTimeout(() => ctl.abort(), 100);
    await expect(p).rejects.toMatchObject({ code: 'E_ABORTED' });
    // Unaborted this takes seconds; the rejection comes right after the abort.
    expect(performance.now() - t0).toBeLessThan(1000);
    // The tasks wound down after their current slice: no thread is terminated.
    await new Promise((r) => setTimeout(r, 500));
    getPool().off('workerDestroy', onDestroy);
    expect(destroyed).toBe(0);
    const small = fieldVolume(oblique, affineField);
    const again = await resample(small, { spacing: 1, workers: 2 });
    expect(checkField(small, again)).toBeLessThan(2e-4);
  });

  it('after an aborted resample rejects, nothing more is written into the caller\'s buffer', async () => {
    // Oblique target, Lanczos: a general affine plan whose slices take tens of ms each.
    const g: Geometry = { dims: [96, 96, 64], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
    const src = { data: new Float32Array(new SharedArrayBuffer(96 * 96 * 64 * 4)).fill(5), geometry: g };
    const target: Geometry = { dims: [150, 150, 100], spacing: [0.6, 0.6, 0.6], origin: [10, -10, 2], direction: rotation(2, 20) };
    const into = new Float32Array(new SharedArrayBuffer(150 * 150 * 100 * 4));
    await resample(fieldVolume(oblique, affineField), { spacing: 1, workers: 2 });
    const ctl = new AbortController();
    const p = resampleToGeometry(src, target, { interp: 'lanczos3', workers: 2, signal: ctl.signal, into });
    setTimeout(() => ctl.abort(), 150);
    await expect(p).rejects.toMatchObject({ code: 'E_ABORTED' });
    into.fill(12345);
    await new Promise((r) => setTimeout(r, 400));
    expect(into.every((v) => v === 12345)).toBe(true);
  });
});

