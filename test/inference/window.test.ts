import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Vec3 } from '../../src/volume/types.js';
import { loadModel, type ModelPackage } from '../../src/inference/model.js';
import { ModelRunner } from '../../src/inference/runner.js';
import { ACTIVATIONS, sessionPredictor } from '../../src/inference/predictor.js';
import { applyTransform, channelTransforms } from '../../src/inference/preprocess.js';
import { axisStarts, fillWindowOptions, patchGrid, slidingWindow, type Predictor } from '../../src/inference/window.js';
import { ringDepthFor } from '../../src/inference/merge.js';
import { fixture, grid, renderBlobs } from './helpers.js';

describe('patch grid', () => {
  it.each([
    [[70, 60, 50], [32, 32, 32], 0.25, 2],
    [[33, 32, 31], [32, 32, 32], 0.5, 4],
    [[100, 20, 64], [24, 32, 16], 0, 0],
    [[129, 128, 127], [64, 64, 64], 0.25, 8],
  ] as [Vec3, Vec3, number, number][])('%j patch %j overlap %f margin %i: valid regions cover every voxel once or more', (dims, patch, overlap, margin) => {
    const o = fillWindowOptions({ patchSize: patch, overlap, margin });
    const cover = new Uint8Array(dims[0] * dims[1] * dims[2]);
    for (const p of patchGrid(dims, o)) {
      for (let a = 0; a < 3; a++) {
        expect(p.start[a]).toBeGreaterThanOrEqual(0);
        if (dims[a]! >= patch[a]!) expect(p.start[a]! + patch[a]!).toBeLessThanOrEqual(dims[a]!);
      }
      for (let z = p.validLo[2]; z < p.validHi[2]; z++) for (let y = p.validLo[1]; y < p.validHi[1]; y++) for (let x = p.validLo[0]; x < p.validHi[0]; x++) cover[x + dims[0] * (y + dims[1] * z)] = 1;
    }
    expect(cover.every((c) => c === 1)).toBe(true);
  });

  it('steps by patch x (1 - overlap) and ends flush', () => {
    expect(axisStarts(100, 32, 0.25, 0)).toEqual([0, 24, 48, 68]);
    expect(axisStarts(20, 32, 0.25, 0)).toEqual([0]);
    expect(axisStarts(64, 32, 0, 4)).toEqual([0, 24, 32]);
  });
});

/** A predictor that returns its first input channel: the identity model. */
const identity: Predictor = async (input, count) => ({ y: { data: input.slice(), dims: [count, 1, 16, 16, 16] } });
const unitHu = channelTransforms([{ window: [-1e6, 1e6], normalisation: 'none', mean: 0, std: 1 }]);

describe('sliding window stitching', () => {
  it('is seamless: an identity model returns a ramp unchanged with Gaussian blending', async () => {
    const dims: Vec3 = [40, 37, 45];
    const data = new Float32Array(dims[0] * dims[1] * dims[2]).map((_, v) => (v % 40) * 0.5 + Math.floor(v / 40 / 37) * 3 - 7);
    const { maps } = await slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16], overlap: 0.4, batchSize: 3 }, identity, 'y');
    let worst = 0;
    for (let v = 0; v < data.length; v++) worst = Math.max(worst, Math.abs(maps[0]![v]! - data[v]!));
    expect(worst).toBeLessThan(1e-4);
  });

  it('keeps stitching memory to a slab: ring depth is the patch depth plus the k-span of one batch', () => {
    const o = fillWindowOptions({ patchSize: [32, 32, 32], overlap: 0.25, batchSize: 4 });
    const g = patchGrid([64, 64, 400], o);
    expect(ringDepthFor(g, 1, 32)).toBe(32);
    // 9 patches per layer: a batch of 4 or 8 spans at most two layers, one step (24) apart.
    expect(ringDepthFor(g, 4, 32)).toBe(32 + 24);
    expect(ringDepthFor(g, 8, 32)).toBe(32 + 24);
  });

  it('a predictor with the wrong output shape is E_INFERENCE; an aborted run is E_ABORTED', async () => {
    const dims: Vec3 = [20, 20, 20];
    const data = new Float32Array(8000);
    const bad: Predictor = async (input, count) => ({ y: { data: input, dims: [count, 1, 8, 16, 16] } });
    await expect(slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16] }, bad, 'y')).rejects.toMatchObject({ code: 'E_INFERENCE', message: expect.stringContaining('shape') });
    await expect(slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16] }, identity, 'z')).rejects.toMatchObject({ code: 'E_INFERENCE' });
    const ac = new AbortController();
    ac.abort();
    await expect(slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16], signal: ac.signal }, identity, 'y')).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('skips patches outside the mask and fills them with 0', async () => {
    const dims: Vec3 = [48, 48, 48];
    const data = new Float32Array(48 ** 3).fill(5);
    const mask = new Uint8Array(48 ** 3);
    mask[10 + 48 * (10 + 48 * 10)] = 1;
    const calls: number[] = [];
    const spy: Predictor = async (input, count) => (calls.push(count), identity(input, count));
    const { maps, stats } = await slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16], overlap: 0, mask }, spy, 'y');
    expect(stats.patches).toBe(1);
    expect(stats.skipped).toBe(26);
    expect(maps[0]![10 + 48 * (10 + 48 * 10)]).toBeCloseTo(5, 5);
    expect(maps[0]![40 + 48 * (40 + 48 * 40)]).toBe(0);
  });

  it('a mask that skips the first layers of patches (an organ starting high up) stitches the rest exactly', async () => {
    const dims: Vec3 = [32, 32, 80];
    const data = new Float32Array(32 * 32 * 80).map((_, v) => v % 7);
    const mask = new Uint8Array(32 * 32 * 80);
    mask[5 + 32 * (5 + 32 * 70)] = 1; // only the top layer of patches (k 64..80)
    const { maps, stats } = await slidingWindow({ data, dims, transforms: unitHu }, { patchSize: [16, 16, 16], overlap: 0.25, mask }, identity, 'y');
    expect(stats.patches).toBeGreaterThan(0);
    expect(maps[0]![5 + 32 * (5 + 32 * 70)]).toBeCloseTo(data[5 + 32 * (5 + 32 * 70)]!, 5);
    expect(maps[0]![5 + 32 * (5 + 32 * 10)]).toBe(0);
  });

  it('a mask that rules out every patch runs no model and reports only the host time spent', async () => {
    const dims: Vec3 = [32, 32, 32];
    const calls: number[] = [];
    const spy: Predictor = async (input, count) => (calls.push(count), identity(input, count));
    const t0 = performance.now();
    const { maps, stats } = await slidingWindow({ data: new Float32Array(32 ** 3), dims, transforms: unitHu }, { patchSize: [16, 16, 16], overlap: 0, mask: new Uint8Array(32 ** 3) }, spy, 'y');
    expect(calls).toEqual([]);
    expect(stats.patches).toBe(0);
    expect(maps[0]!.every((v) => v === 0)).toBe(true);
    expect(stats.hostMs).toBeLessThanOrEqual(performance.now() - t0);
  });
});

describe('sliding window with a real ONNX session (translation-equivariant conv model)', () => {
  let pkg: ModelPackage;
  let runner: ModelRunner;
  beforeAll(async () => {
    pkg = loadModel(fixture('heatmap-fp32'));
    runner = await ModelRunner.create(pkg, { ep: 'cpu', threads: 1 });
  });
  afterAll(() => runner?.close());

  const dims: Vec3 = [70, 61, 53];
  const g = grid(dims);
  const data = renderBlobs(g, [[20, 30, 12], [47.4, 15.2, 33.7], [64, 55, 50]]);
  const wholeVolume = async (): Promise<Float32Array> => {
    const m = { ...pkg.manifest, input: { ...pkg.manifest.input, patchSize: dims } };
    const { maps } = await slidingWindow({ data, dims, transforms: channelTransforms(m.input.channels) }, { patchSize: dims, padHu: -1000 }, sessionPredictor(runner, m, 'heatmap', 'none'), 'heatmap');
    return maps[0]!;
  };

  it('a NaN or infinite score is E_INFERENCE, not a dropped or null finding', async () => {
    const m = pkg.manifest;
    const [pi, pj, pk] = m.input.patchSize;
    // The input is transferred to the session thread, so each call gets its own.
    const patch = (v: number): Float32Array => new Float32Array(m.input.channels.length * pi * pj * pk).fill(v);
    // A whole patch of NaN (the fixture's ReLU turns a lone NaN into 0, and its output saturates at 1 for Inf).
    await expect(sessionPredictor(runner, m, 'heatmap', 'none')(patch(NaN), 1)).rejects.toMatchObject({ code: 'E_INFERENCE', message: expect.stringMatching(/gave a NaN score/) });
    await expect(sessionPredictor(runner, m, 'heatmap', 'none')(patch(0), 1)).resolves.toBeDefined();
  });

  it('softmax gives an overflowed (+Inf) logit all the probability, not NaN', () => {
    // Two voxels, three channels: [1, +Inf, 2] and [0, 0, -Inf].
    const t = { data: new Float32Array([1, 0, Infinity, 0, 2, -Infinity]), dims: [1, 3, 2] };
    ACTIVATIONS.softmax(t);
    expect(Array.from(t.data)).toEqual([0, 0.5, 1, 0.5, 0, 0]);
  });

  it('equals the whole-volume output everywhere (margin = receptive-field half-width)', async () => {
    const whole = await wholeVolume();
    const m = pkg.manifest;
    const { maps, stats } = await slidingWindow({ data, dims, transforms: channelTransforms(m.input.channels) }, { patchSize: m.input.patchSize, overlap: 0.25, margin: 2, batchSize: 2, padHu: -1000 }, sessionPredictor(runner, m, 'heatmap', 'none'), 'heatmap');
    expect(stats.patches).toBe(3 * 3 * 2);
    let worst = 0;
    for (let v = 0; v < whole.length; v++) worst = Math.max(worst, Math.abs(maps[0]![v]! - whole[v]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('pads a volume smaller than the patch like the model pads itself: equal everywhere', async () => {
    const small: Vec3 = [20, 40, 10];
    const sg = grid(small);
    const sdata = renderBlobs(sg, [[10, 20, 5], [3, 35, 8]]);
    const m = pkg.manifest;
    const tr = channelTransforms(m.input.channels);
    const whole = (await slidingWindow({ data: sdata, dims: small, transforms: tr }, { patchSize: small }, sessionPredictor(runner, { ...m, input: { ...m.input, patchSize: small } }, 'heatmap', 'none'), 'heatmap')).maps[0]!;
    // padHu -1000 maps to 0 after the window, which is what the convolution's own zero padding sees.
    const padded = await slidingWindow({ data: sdata, dims: small, transforms: tr }, { patchSize: m.input.patchSize, margin: 2, padHu: -1000 }, sessionPredictor(runner, m, 'heatmap', 'none'), 'heatmap');
    expect(padded.stats.patches).toBe(2); // 40 > 32 along j
    let worst = 0;
    for (let v = 0; v < whole.length; v++) worst = Math.max(worst, Math.abs(padded.maps[0]![v]! - whole[v]!));
    expect(worst).toBeLessThan(1e-5);
  });

  it('without a margin differs only near inner patch faces, and by little', async () => {
    const whole = await wholeVolume();
    const m = pkg.manifest;
    const { maps } = await slidingWindow({ data, dims, transforms: channelTransforms(m.input.channels) }, { patchSize: m.input.patchSize, overlap: 0.25, margin: 0, padHu: -1000 }, sessionPredictor(runner, m, 'heatmap', 'none'), 'heatmap');
    let worst = 0, sum = 0;
    for (let v = 0; v < whole.length; v++) {
      const d = Math.abs(maps[0]![v]! - whole[v]!);
      worst = Math.max(worst, d);
      sum += d;
    }
    expect(worst).toBeGreaterThan(1e-4); // the margin above is what makes it exact
    expect(sum / whole.length).toBeLessThan(1e-3);
  });
});

describe('flip TTA and the NCWHD layout, on a model that is not flip- or transpose-symmetric', () => {
  let ncdhw: ModelPackage, ncwhd: ModelPackage;
  let rd: ModelRunner, rw: ModelRunner;
  beforeAll(async () => {
    ncdhw = loadModel(fixture('heatmap-skew-ncdhw'));
    ncwhd = loadModel(fixture('heatmap-skew-ncwhd'));
    rd = await ModelRunner.create(ncdhw, { ep: 'cpu', threads: 1 });
    rw = await ModelRunner.create(ncwhd, { ep: 'cpu', threads: 1 });
  });
  afterAll(async () => {
    await rd?.close();
    await rw?.close();
  });

  // One 32^3 patch with off-centre blobs; k-major [k][j][i] as the window gives it.
  const n = 32;
  const patchHu = renderBlobs(grid([n, n, n]), [[9, 20, 12], [22.5, 8, 25]], 2, -800, 1000);
  const input = (m: ModelPackage['manifest']): Float32Array => {
    const t = channelTransforms(m.input.channels)[0]!;
    return patchHu.map((hu) => applyTransform(t, hu));
  };
  /** Mirrors a k-major n^3 block along axis 0 = k, 1 = j, 2 = i (written here, not the library's flip). */
  const mirror = (a: Float32Array, axis: number): Float32Array => {
    const out = new Float32Array(a.length);
    for (let k = 0; k < n; k++)
      for (let j = 0; j < n; j++)
        for (let i = 0; i < n; i++) {
          const [k2, j2, i2] = axis === 0 ? [n - 1 - k, j, i] : axis === 1 ? [k, n - 1 - j, i] : [k, j, n - 1 - i];
          out[(k2 * n + j2) * n + i2] = a[(k * n + j) * n + i]!;
        }
    return out;
  };
  const worstDiff = (a: Float32Array, b: Float32Array): number => a.reduce((w, v, i) => Math.max(w, Math.abs(v - b[i]!)), 0);
  const heat = async (p: Predictor, x: Float32Array): Promise<Float32Array> => (await p(x.slice(), 1)).heatmap!.data;

  it('flip TTA is the mean of the four views, each mirrored back', async () => {
    const m = ncdhw.manifest;
    const x = input(m);
    const plain = sessionPredictor(rd, m, 'heatmap', 'none');
    const base = await heat(plain, x);
    const expected = base.slice();
    for (const axis of [0, 1, 2]) {
      const back = mirror(await heat(plain, mirror(x, axis)), axis);
      // Each view differs from the plain run: the check below could not pass by accident.
      expect(worstDiff(back, base)).toBeGreaterThan(0.05);
      for (let v = 0; v < expected.length; v++) expected[v]! += back[v]!;
    }
    for (let v = 0; v < expected.length; v++) expected[v]! /= 4;
    const tta = await heat(sessionPredictor(rd, m, 'heatmap', 'flip'), x);
    expect(worstDiff(tta, expected)).toBeLessThan(1e-5);
  });

  it('a model that reads [N, C, W, H, D] (transposed kernel, layout NCWHD) gives the NCDHW model\'s map', async () => {
    const x = input(ncdhw.manifest);
    const want = await heat(sessionPredictor(rd, ncdhw.manifest, 'heatmap', 'none'), x);
    const got = await heat(sessionPredictor(rw, ncwhd.manifest, 'heatmap', 'none'), x);
    expect(worstDiff(got, want)).toBeLessThan(1e-5);
    // Fed without the transpose, the same network gives another map.
    const untransposed = { ...ncwhd.manifest, input: { ...ncwhd.manifest.input, layout: 'NCDHW' as const } };
    expect(worstDiff(await heat(sessionPredictor(rw, untransposed, 'heatmap', 'none'), x), want)).toBeGreaterThan(0.05);
  });
});
