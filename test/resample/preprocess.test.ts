import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Geometry, Volume } from '../../src/volume/types.js';
import { voxelToLps } from '../../src/volume/affine.js';
import { closePool } from '../../src/workers/pool.js';
import { applyWindow, clipScale, cropOrPad, zscore } from '../../src/resample/index.js';
import { rotation, sameBits } from './helpers.js';

afterAll(() => closePool());

const g: Geometry = { dims: [20, 16, 10], spacing: [0.8, 0.8, 2], origin: [5, -7, 100], direction: rotation(1, 10) };
function ramp(geom: Geometry = g): Volume<Int16Array> {
  const n = geom.dims[0] * geom.dims[1] * geom.dims[2];
  const data = new Int16Array(new SharedArrayBuffer(n * 2));
  for (let v = 0; v < n; v++) data[v] = (v % 3000) - 1024;
  return { data, geometry: geom };
}

describe('preprocessing', () => {
  it('crop/pad copies exactly, pads with the fill, and keeps LPS positions', async () => {
    const src = ramp();
    const out = await cropOrPad(src, { start: [-2, 3, 1], size: [24, 10, 12] }, { fill: -2000 });
    expect(out.data).toBeInstanceOf(Int16Array);
    const [mx, my] = out.geometry.dims;
    for (const [i, j, k] of [[2, 0, 0], [5, 4, 3], [21, 9, 8]]) {
      const v = out.data[i! + mx * (j! + my * k!)];
      expect(v).toBe(src.data[i! - 2 + 20 * (j! + 3 + 16 * (k! + 1))]);
      const a = voxelToLps(out.geometry, [i!, j!, k!]), b = voxelToLps(g, [i! - 2, j! + 3, k! + 1]);
      for (let r = 0; r < 3; r++) expect(a[r]).toBeCloseTo(b[r]!, 9);
    }
    expect(out.data[0]).toBe(-2000); // i = -2: padding
    expect(out.data[mx * my * 11 + 5]).toBe(-2000); // k = 10: past the last slice
  });

  it('clip + scale to [0, 1], a window, and z-score', async () => {
    const src = ramp();
    const c = await clipScale(src, { min: -1000, max: 1000 });
    for (let v = 0; v < src.data.length; v += 37) {
      const x = src.data[v]!;
      expect(c.data[v]).toBeCloseTo(Math.min(1, Math.max(0, (x + 1000) / 2000)), 6);
    }
    const w = await applyWindow(src, 40, 80);
    expect(w.data[src.data.indexOf(40)]).toBeCloseTo(0.5, 6);
    const z = await zscore(src);
    let m = 0, s = 0;
    for (const v of z.volume.data) m += v;
    m /= z.volume.data.length;
    for (const v of z.volume.data) s += (v - m) ** 2;
    expect(m).toBeCloseTo(0, 5);
    expect(Math.sqrt(s / z.volume.data.length)).toBeCloseTo(1, 5);
    const masked = await zscore(src, { above: 0 });
    expect(masked.mean).toBeGreaterThan(0);
  });

  it('runs in the workers for large volumes with the same result as inline', async () => {
    const big: Geometry = { dims: [256, 256, 80], spacing: [1, 1, 1], origin: [0, 0, 0], direction: rotation(0, 0) };
    const src = ramp(big);
    const a = await clipScale(src, { min: -500, max: 500, workers: 2 });
    const b = await clipScale(src, { min: -500, max: 500, workers: 0 });
    expect(a.data.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect(sameBits(a.data, b.data)).toBe(true);
    const za = await zscore(src, { workers: 2 }), zb = await zscore(src, { workers: 0 });
    expect(za.mean).toBeCloseTo(zb.mean, 9);
    expect(sameBits(za.volume.data, zb.volume.data)).toBe(true);
  });
});

describe('shared pool lifecycle', () => {
  it('outputs are freed after use: memory does not grow across repeated resamples on the pool', () => {
    const entry = fileURLToPath(new URL('../../dist/resample/index.js', import.meta.url));
    // 256 x 256 x 128 -> 320 x 320 x 160 float32: 65 MB per output.
    const script = `
      const { resample } = await import(${JSON.stringify(entry)});
      const data = new Float32Array(new SharedArrayBuffer(256 * 256 * 128 * 4)).fill(3);
      const vol = { data, geometry: { dims: [256, 256, 128], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1,0,0,0,1,0,0,0,1] } };
      const rss = [];
      for (let i = 0; i < 6; i++) {
        await resample(vol, { spacing: 0.8, workers: 2 });
        globalThis.gc();
        // The workers collect after 100 ms idle (src/resample/task.ts).
        await new Promise((r) => setTimeout(r, 250));
        rss.push(process.memoryUsage.rss());
      }
      console.log(JSON.stringify(rss));`;
    const r = spawnSync(process.execPath, ['--expose-gc', '--input-type=module', '-e', script], { encoding: 'utf8', timeout: 25_000 });
    expect(r.status).toBe(0);
    const rss = JSON.parse(r.stdout) as number[];
    // Holding every output would add 5 x 65 MB; freed outputs keep it within one.
    expect(rss[5]! - rss[0]!).toBeLessThan(70 * 2 ** 20);
  }, 30_000);

  it('a process that resampled on the pool exits promptly without closePool()', () => {
    const entry = fileURLToPath(new URL('../../dist/resample/index.js', import.meta.url));
    const script = `
      const { resample } = await import(${JSON.stringify(entry)});
      const data = new Float32Array(64 * 64 * 64).fill(7);
      const r = await resample({ data, geometry: { dims: [64, 64, 64], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1,0,0,0,1,0,0,0,1] } }, { spacing: 0.5, workers: 2 });
      console.log(r.geometry.dims.join('x'), r.data[1000]);`;
    const t0 = performance.now();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', timeout: 15_000 });
    expect(r.status).toBe(0);
    expect(r.stdout.trim()).toBe('128x128x128 7');
    expect(performance.now() - t0).toBeLessThan(5_000);
  });
});
