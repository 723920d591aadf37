import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXED_ALLOWANCE_BYTES, GRID_BYTES_PER_VOXEL, MEMORY_TARGET, WARM_SERIES, ensureSeries, measureMemory, memoryBudget } from '../../src/bench/memory.js';
import { bodyMask } from '../../src/inference/infer.js';
import { fillWindowOptions, selectPatches } from '../../src/inference/window.js';
import { reorient, resample, transformForOutput } from '../../src/resample/index.js';

/**
 * Peak RSS of loadSeries in a fresh child process (dist/bench/memory-child.js, so build first). The volume is
 * 200 x 512 x 512 int16 (100 MiB): large enough that a second copy of it (about 240 MiB growth against a bound
 * of 198 MiB) cannot hide inside the fixed allowance; a normal load grows by about 140 MiB.
 */
describe('load memory', () => {
  let root: string;
  let warm: string;
  let series: string;

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ctscope-memory-'));
    warm = await ensureSeries(join(root, 'warm'), WARM_SERIES);
    series = await ensureSeries(join(root, 'series'), { slices: 200, rows: 512, cols: 512 });
  }, 60_000);

  afterAll(() => {
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it(`grows by at most ${MEMORY_TARGET}x the volume's bytes plus a fixed allowance`, async () => {
    // One decode lane: the same figure on any core count (more lanes add worker threads, not volume copies).
    const r = await measureMemory('load', warm, series, { env: { CTSCOPE_THREADS: '1' } });
    expect(r.probe.dims).toEqual([512, 512, 200]);
    expect(r.volumeBytes).toBe(100 * 2 ** 20);
    const growth = r.peakRss - r.fixedRss;
    // The measurement is real: the volume itself must show up in the peak.
    expect(growth).toBeGreaterThan(r.volumeBytes);
    expect(growth).toBeLessThanOrEqual(MEMORY_TARGET * r.volumeBytes + FIXED_ALLOWANCE_BYTES);
  }, 30_000);

  it(`detect (bundled nodule model) grows by at most ${MEMORY_TARGET}x the volume's bytes, plus ${GRID_BYTES_PER_VOXEL} bytes per model-grid voxel, plus the allowance`, async () => {
    // The volume is released once the model grid (int16) is made, the grid is reoriented in place, and key
    // images decode their slices again: the model grid and heatmap never sit beside a second copy of anything.
    const r = await measureMemory('detect', warm, series, { env: { CTSCOPE_THREADS: '1' } });
    const growth = r.peakRss - r.fixedRss;
    expect(r.probe.gridVoxels).toBeGreaterThan(0);
    expect(growth).toBeGreaterThan(r.volumeBytes);
    expect(growth).toBeLessThanOrEqual(memoryBudget(r));
  }, 60_000);
});

describe('in-place body mask (no byte-per-voxel copy during detect)', () => {
  it('selects the same patches as the byte mask it replaces', () => {
    const dims: [number, number, number] = [70, 60, 50];
    const data = new Float32Array(dims[0] * dims[1] * dims[2]).fill(-1000);
    // Two small bodies in opposite corners; most patches see only air.
    for (const [cx, cy, cz] of [[10, 10, 10], [60, 50, 42]] as const)
      for (let z = cz - 3; z <= cz + 3; z++) for (let y = cy - 3; y <= cy + 3; y++) for (let x = cx - 3; x <= cx + 3; x++) data[x + dims[0] * (y + dims[1] * z)] = 40;
    const base = { patchSize: [24, 24, 24] as [number, number, number], overlap: 0.25, margin: 2 };
    const bytes = selectPatches(dims, fillWindowOptions({ ...base, mask: bodyMask(data) }));
    const level = selectPatches(dims, fillWindowOptions({ ...base, mask: { data, above: -500 } }));
    expect(level.grid).toEqual(bytes.grid);
    expect(level.skipped).toBe(bytes.skipped);
    expect(bytes.grid.length).toBeGreaterThan(0);
    expect(bytes.skipped).toBeGreaterThan(0);
  });
});

describe('model grid without a full-size reorientation copy', () => {
  type Mat = [number, number, number, number, number, number, number, number, number];
  const dims: [number, number, number] = [61, 47, 23];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]);
  for (let v = 0; v < data.length; v++) data[v] = ((v * 7919) % 2001) - 1000;
  const volumeWith = (direction: Mat) => ({ data, geometry: { dims, spacing: [0.703, 0.703, 1.25] as [number, number, number], origin: [12, -30, 5] as [number, number, number], direction } });

  // A prone axial series (flips on i and j), and a coronal one (j and k swap places), to a non-cubic grid.
  it.each([
    ['prone axial', [-1, 0, 0, 0, -1, 0, 0, 0, 1] as Mat],
    ['coronal', [1, 0, 0, 0, 0, 1, 0, -1, 0] as Mat],
  ])('%s: resampling before reorienting gives the grid reorienting first gives', async (_name, direction) => {
    const volume = volumeWith(direction);
    const opts = { spacing: [1.25, 1.5, 1.75] as [number, number, number], interp: 'linear' as const, outType: 'float32' as const, workers: 0 };
    const first = await resample(await reorient(volume, 'LPS', { workers: 0 }), opts);
    const now = await transformForOutput(volume, { ...opts, orient: 'LPS' });
    expect(now.geometry.dims).toEqual(first.geometry.dims);
    expect(now.geometry.spacing).toEqual(first.geometry.spacing);
    expect(now.geometry.direction).toEqual(first.geometry.direction);
    now.geometry.origin.forEach((x, a) => expect(x).toBeCloseTo(first.geometry.origin[a]!, 9));
    let max = 0;
    for (let v = 0; v < now.data.length; v++) max = Math.max(max, Math.abs(now.data[v]! - first.data[v]!));
    expect(max).toBeLessThan(1e-3);
  });

  it('leaves a volume already in the target orientation uncopied', async () => {
    expect((await transformForOutput(volumeWith([1, 0, 0, 0, 1, 0, 0, 0, 1]), { orient: 'LPS', workers: 0 })).data).toBe(data);
  });
});
