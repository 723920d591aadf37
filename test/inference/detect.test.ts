import { afterAll, describe, expect, it } from 'vitest';
import type { Geometry, Vec3 } from '../../src/volume/types.js';
import { add, cross, dot, lpsToVoxel, normalize, sub, voxelToLps } from '../../src/volume/affine.js';
import { loadModel } from '../../src/inference/model.js';
import { closeRunners, getRunner } from '../../src/inference/runner.js';
import { decodeOutput, detect, runModel } from '../../src/inference/infer.js';
import { ctVolume, fixture, grid, renderBlobs, rotation } from './helpers.js';

afterAll(() => closeRunners());

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

function nearestByNormal(original: Geometry, positions: Vec3[], p: Vec3): number {
  const d = original.direction;
  const n = normalize(cross([d[0], d[3], d[6]], [d[1], d[4], d[7]]));
  let best = 0;
  positions.forEach((q, k) => {
    if (Math.abs(dot(sub(p, q), n)) < Math.abs(dot(sub(p, positions[best]!), n))) best = k;
  });
  return best;
}

/** Plants blobs at LPS points on the model grid, detects them, and checks every mapping back to the original. */
async function plantAndDetect(original: Geometry, model: Geometry, planted: Vec3[]): Promise<void> {
  const ct = ctVolume(original);
  for (const p of planted) {
    const v = lpsToVoxel(original, p);
    v.forEach((x, a) => expect(x >= 0 && x <= original.dims[a]! - 1, `planted point inside the original series`).toBe(true));
  }
  const volume = { data: renderBlobs(model, planted), geometry: model };
  const { findings, stats } = await detect(volume, ct, loadModel(fixture('heatmap-fp32')), { ep: 'cpu', threads: 1 });
  expect(stats.provider).toBe('cpu');
  expect(findings).toHaveLength(planted.length);
  for (const p of planted) {
    const f = findings.reduce((a, b) => (dist(a.centerLps, p) < dist(b.centerLps, p) ? a : b));
    expect(dist(f.centerLps, p)).toBeLessThan(0.25);
    const expectedVoxel = lpsToVoxel(original, p);
    expect(dist(f.centerVoxel, expectedVoxel)).toBeLessThan(0.25);
    const k = nearestByNormal(original, ct.slices.positions, p);
    expect(f.sliceIndex).toBe(k);
    expect(f.sliceIndex).toBe(Math.round(f.centerVoxel[2]));
    expect(f.sopInstanceUid).toBe(`1.2.826.0.1.${k}`);
    expect(f.score).toBeGreaterThan(0.5);
    expect(f.diameterMm).toBeGreaterThan(3);
    expect(f.diameterMm).toBeLessThan(10);
    expect(f.kind).toBe('nodule');
  }
}

describe('decoded centres land on the planted LPS positions', () => {
  it('oblique series (rotated axes, anisotropic voxels), model grid at 1 mm in the same orientation', async () => {
    const direction = rotation(15, -20, 30);
    const original = grid([100, 100, 60], [0.7, 0.7, 1.25], [-35.2, 12.5, -401.3], direction);
    const model = grid([70, 70, 75], [1, 1, 1], original.origin, direction);
    const planted = [voxelToLps(model, [20.3, 30.7, 40.2]), voxelToLps(model, [50.6, 45.1, 20.8]), voxelToLps(model, [33.5, 12.25, 61.4])];
    await plantAndDetect(original, model, planted);
  });

  it('gantry-tilted series (sheared affine), model grid axis-aligned at 1 mm', async () => {
    const t = (20 * Math.PI) / 180;
    // Rows along L, columns tilted 20 degrees about L, slices stacked along the table (S): not orthogonal.
    const original = grid([80, 80, 70], [0.9, 0.9, 1.25], [-30, -20, 100], [1, 0, 0, 0, Math.cos(t), 0, 0, Math.sin(t), 1]);
    const model = grid([72, 68, 110], [1, 1, 1], original.origin);
    const planted: Vec3[] = [add(original.origin, [20.3, 30.6, 40.2]), add(original.origin, [50.5, 50.2, 70.7]), add(original.origin, [60.1, 10.4, 30.9])];
    await plantAndDetect(original, model, planted);
  });
});

describe('float16 and box models end to end', () => {
  const g = grid([64, 60, 48]);
  const planted: Vec3[] = [[20.2, 30.6, 24.4], [45.5, 14.8, 30.1]];
  const volume = { data: renderBlobs(g, planted), geometry: g };

  it('the float16 model agrees with the float32 one within fp16 tolerance', async () => {
    const a = await runModel(volume, loadModel(fixture('heatmap-fp32')), { ep: 'cpu', threads: 1 });
    const b = await runModel(volume, loadModel(fixture('heatmap-fp16')), { ep: 'cpu', threads: 1 });
    if (a.kind === 'boxes' || b.kind === 'boxes') throw new Error('dense outputs expected');
    let worst = 0;
    for (let v = 0; v < a.map.length; v++) worst = Math.max(worst, Math.abs(a.map[v]! - b.map[v]!));
    expect(worst).toBeGreaterThan(0); // really a different precision
    expect(worst).toBeLessThan(3e-3);
    const fa = (await detect(volume, ctVolume(g), loadModel(fixture('heatmap-fp32')), { ep: 'cpu' })).findings;
    const fb = (await detect(volume, ctVolume(g), loadModel(fixture('heatmap-fp16')), { ep: 'cpu' })).findings;
    expect(fb).toHaveLength(2);
    fa.forEach((f, n) => expect(dist(f.centerLps, fb[n]!.centerLps)).toBeLessThan(0.05));
  });

  it('a RetinaNet-style box model decodes one box per blob after 3-D NMS', async () => {
    const { findings } = await detect(volume, ctVolume(g), loadModel(fixture('boxes')), { ep: 'cpu', threads: 1 });
    expect(findings).toHaveLength(2);
    for (const p of planted) {
      const f = findings.reduce((a, b) => (dist(a.centerLps, p) < dist(b.centerLps, p) ? a : b));
      f.centerLps.forEach((c, a) => expect(Math.abs(c - p[a]!)).toBeLessThanOrEqual(1.01)); // stride 2 cells
      expect(f.extentMm).toEqual([6, 6, 6].map((x) => expect.closeTo(x, 4)));
    }
  });

  it("a box model's thresholds.minDiameterMm holds its boxes to their reported diameter (it let every box through)", async () => {
    const pkg = loadModel(fixture('boxes'));
    const withMin = (mm: number): typeof pkg => ({ ...pkg, manifest: { ...pkg.manifest, thresholds: { ...pkg.manifest.thresholds, minDiameterMm: mm } } });
    // Each box is 6 mm on a side here, so 6 mm across.
    expect((await detect(volume, ctVolume(g), withMin(5.9), { ep: 'cpu', threads: 1 })).findings).toHaveLength(2);
    expect((await detect(volume, ctVolume(g), withMin(6.1), { ep: 'cpu', threads: 1 })).findings).toHaveLength(0);
    // The finding cap still holds, applied after the size floor.
    const one = { ...withMin(5.9), manifest: { ...withMin(5.9).manifest, thresholds: { ...withMin(5.9).manifest.thresholds, maxFindings: 1 } } };
    expect((await detect(volume, ctVolume(g), one, { ep: 'cpu', threads: 1 })).findings).toHaveLength(1);
  });

  it('skips patches outside the body mask without losing findings', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const all = await detect(volume, ctVolume(g), pkg, { ep: 'cpu', threads: 1 });
    const masked = await detect(volume, ctVolume(g), pkg, { ep: 'cpu', threads: 1, mask: 'body' });
    expect(masked.stats.skipped).toBeGreaterThan(0);
    expect(masked.stats.patches).toBeLessThan(all.stats.patches);
    expect(masked.findings.map((f) => f.centerLps)).toEqual(all.findings.map((f) => f.centerLps));
  });

  it('a segmentation output decodes by connected components with volume and equivalent diameter', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const seg = { ...pkg, manifest: { ...pkg.manifest, output: { ...pkg.manifest.output, kind: 'segmentation' as const } } };
    const { findings } = await detect(volume, ctVolume(g), seg, { ep: 'cpu', threads: 1 });
    expect(findings).toHaveLength(2);
    for (const f of findings) {
      expect(f.volumeMm3).toBeGreaterThan(20);
      expect(f.diameterMm).toBeCloseTo(Math.cbrt((6 * f.volumeMm3) / Math.PI), 9);
      expect(Math.min(...planted.map((p) => dist(p, f.centerLps)))).toBeLessThan(0.3);
    }
  });

  it('refuses a volume that was not resampled to the model spacing', async () => {
    const wrong = { data: volume.data, geometry: { ...g, spacing: [0.7, 0.7, 1] as Vec3 } };
    await expect(runModel(wrong, loadModel(fixture('heatmap-fp32')), { ep: 'cpu' })).rejects.toMatchObject({ code: 'E_GEOMETRY' });
  });
});

describe('toFinding names the image as a PACS numbers it', () => {
  it('takes the InstanceNumber of the nearest slice from the header, not the stack position', async () => {
    const { toFinding } = await import('../../src/inference/findings.js');
    const g = grid([16, 16, 10], [1, 1, 2]);
    const ct = ctVolume(g);
    // Images numbered from the other end, as a head-first chest often is; one header without a number.
    ct.instanceNumbers = Array.from({ length: 10 }, (_, k) => (k === 3 ? null : 100 - k));
    expect(toFinding({ center: [8, 8, 6], score: 1, voxels: 1 }, g, ct, 'other', 'x')).toMatchObject({ sliceIndex: 6, instanceNumber: 94 });
    expect(toFinding({ center: [8, 8, 3], score: 1, voxels: 1 }, g, ct, 'other', 'x').instanceNumber).toBeUndefined();
  });
});

describe('minDiameterMm with sizes measured on the image (manifest measure)', () => {
  const n = 64;
  const g = grid([n, n, n]);
  // A 10 mm solid nodule (-850 HU lung round it) and a 6 mm one, 30 mm apart.
  const spheres: [Vec3, number][] = [[[20, 32, 32], 5], [[50, 32, 32], 3]];
  const image = new Float32Array(n ** 3);
  for (let k = 0; k < n; k++)
    for (let j = 0; j < n; j++)
      for (let i = 0; i < n; i++) image[i + n * (j + n * k)] = spheres.some(([c, r]) => dist([i, j, k], c) <= r) ? 20 : -850;

  it('compares with the measured size, not the heatmap blob: a narrow blob over a 10 mm nodule passes decoding', () => {
    // The blob a heatmap net is trained to draw (sigma 1.5 mm, about 3.5 mm wide at half maximum), over the large nodule.
    const map = new Float32Array(n ** 3);
    for (let k = 0; k < n; k++) for (let j = 0; j < n; j++) for (let i = 0; i < n; i++) map[i + n * (j + n * k)] = 0.95 * Math.exp(-(dist([i, j, k], spheres[0]![0]) ** 2) / (2 * 1.5 ** 2));
    const m = loadModel(fixture('heatmap-fp32')).manifest;
    const thresholds = { ...m.thresholds, minDiameterMm: 5 };
    const out = { kind: 'heatmap' as const, map, geometry: g, stats: {} as never };
    expect(decodeOutput(out, { ...m, thresholds })).toHaveLength(0);
    expect(decodeOutput(out, { ...m, thresholds, measure: { maxDiameterMm: 40, minContrastHu: 100 } })).toHaveLength(1);
  });

  it('drops a finding whose measured size is under it, after measuring', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const measured = { ...pkg, manifest: { ...pkg.manifest, measure: { maxDiameterMm: 40, minContrastHu: 100 } } };
    const all = (await detect({ data: image, geometry: g }, ctVolume(g, image), measured, { ep: 'cpu', threads: 1 })).findings;
    expect(all).toHaveLength(2);
    all.forEach((f, i) => expect(Math.abs(f.diameterMm - [10, 6][i]!)).toBeLessThan(1.5));
    const min = { ...measured, manifest: { ...measured.manifest, thresholds: { ...measured.manifest.thresholds, minDiameterMm: 8 } } };
    const kept = (await detect({ data: image, geometry: g }, ctVolume(g, image), min, { ep: 'cpu', threads: 1 })).findings;
    expect(kept).toHaveLength(1);
    expect(kept[0]!.sizeMethod).toBe('half-max');
    expect(kept[0]!.diameterMm).toBeGreaterThan(8.5);
  });
});

describe('minDiameterMm before the count limit, with measured sizes', () => {
  it('a small component that scores higher does not take the only place of a large one', async () => {
    const n = 64;
    const g = grid([n, n, n]);
    // A 6 mm sphere at 400 HU (the higher score) and a 10 mm one at 20 HU, in -850 HU lung.
    const image = new Float32Array(n ** 3);
    for (let k = 0; k < n; k++)
      for (let j = 0; j < n; j++)
        for (let i = 0; i < n; i++) image[i + n * (j + n * k)] = dist([i, j, k], [20, 32, 32]) <= 3 ? 400 : dist([i, j, k], [46, 32, 32]) <= 5 ? 20 : -850;
    const pkg = loadModel(fixture('heatmap-fp32'));
    const m = pkg.manifest;
    const seg = { ...pkg, manifest: { ...m, output: { ...m.output, kind: 'segmentation' as const }, measure: { maxDiameterMm: 40, minContrastHu: 100 }, thresholds: { ...m.thresholds, minDiameterMm: 8, maxFindings: 1 } } };
    const found = (await detect({ data: image, geometry: g }, ctVolume(g, image), seg, { ep: 'cpu', threads: 1 })).findings;
    expect(found).toHaveLength(1);
    expect(found[0]!.diameterMm).toBeGreaterThan(8);
  });
});

describe('output names the manifest gives are checked before the first model run', () => {
  const g = grid([40, 40, 40]);
  const volume = { data: renderBlobs(g, [[20, 20, 20]]), geometry: g };

  it('a first stage output that does not exist is E_MODEL before any batch runs', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const wrong = { ...pkg, manifest: { ...pkg.manifest, output: { ...pkg.manifest.output, name: 'no-such-output' } } };
    const runner = await getRunner(wrong, { ep: 'cpu', threads: 1 });
    const before = runner.stats.runs;
    await expect(runModel(volume, wrong, { ep: 'cpu', threads: 1 })).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringContaining("no output named 'no-such-output'") });
    expect(runner.stats.runs).toBe(before);
  });

  it("a second stage's wrong input or output name is E_MODEL before the first stage runs (it came after the whole first stage)", async () => {
    const pkg = loadModel(fixture('heatmap-refine'));
    const first = await getRunner(pkg, { ep: 'cpu', threads: 1 });
    for (const [field, label] of [['input', "no input named 'nope'"], ['output', "no output named 'nope'"]] as const) {
      const refine = pkg.refine!;
      const bad = field === 'input' ? { ...refine.manifest.input, name: 'nope' } : { ...refine.manifest.output, name: 'nope' };
      const wrong = { ...pkg, refine: { ...refine, manifest: { ...refine.manifest, [field]: bad } } };
      const before = first.stats.runs;
      await expect(detect(volume, ctVolume(g, volume.data), wrong, { ep: 'cpu', threads: 1 })).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringContaining(label) });
      expect(first.stats.runs, field).toBe(before);
    }
  });
});
