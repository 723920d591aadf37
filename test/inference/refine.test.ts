import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/inference/infer.js';
import { validateManifest } from '../../src/inference/manifest.js';
import { loadModel } from '../../src/inference/model.js';
import { applyTransform, channelTransforms } from '../../src/inference/preprocess.js';
import { cropStart, cutCrop, labelCandidate } from '../../src/inference/refine.js';
import { closeRunners } from '../../src/inference/runner.js';
import { lpsToVoxel, voxelToLps } from '../../src/volume/affine.js';
import type { Vec3 } from '../../src/volume/types.js';
import { ctVolume, fixture, grid, renderBlobs } from './helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'ctscope-refine-'));
afterAll(async () => {
  await closeRunners();
  rmSync(tmp, { recursive: true, force: true });
});

describe('crops for the second stage', () => {
  const g = grid([10, 9, 8]);
  const data = Int16Array.from({ length: 10 * 9 * 8 }, (_, v) => v);
  const vol = { data, geometry: g };

  it('puts the candidate voxel at S/2 and pads outside the grid', () => {
    expect(cropStart([4.4, 4.6, 3.5], 4)).toEqual([2, 3, 2]);
    const out = new Int16Array(64);
    cutCrop(vol, [4.4, 4.6, 3.5], 4, -1024, out);
    // Crop voxel (2, 2, 2) is grid voxel (4, 5, 4).
    expect(out[2 + 4 * (2 + 4 * 2)]).toBe(4 + 10 * (5 + 9 * 4));
    cutCrop(vol, [0, 8, 7], 4, -1024, out);
    expect(out[0]).toBe(-1024); // i = -2
    expect(out[2 + 4 * (2 + 4 * 2)]).toBe(0 + 10 * (8 + 9 * 7));
    expect(out[2 + 4 * (3 + 4 * 2)]).toBe(-1024); // j = 9
    expect(out[2 + 4 * (2 + 4 * 3)]).toBe(-1024); // k = 8
  });

  it('labels a candidate by the evaluation rule: within the radius, never under the minimum', () => {
    const lesions = [{ at: [10, 10, 10] as Vec3, d: 3 }, { at: [20, 10, 10] as Vec3, d: 10 }];
    const sp: Vec3 = [1, 1, 1];
    expect(labelCandidate([11.4, 10, 10], sp, lesions, 0)).toBe(lesions[0]);
    expect(labelCandidate([11.6, 10, 10], sp, lesions, 0)).toBeNull();
    expect(labelCandidate([11.6, 10, 10], sp, lesions, 2)).toBe(lesions[0]);
    expect(labelCandidate([15.5, 10, 10], sp, lesions, 2)).toBe(lesions[1]);
    // Distances are in mm: 2.5 voxels along j are 2.5 mm at 1 mm spacing, 1.25 mm at 0.5 mm.
    expect(labelCandidate([10, 12.5, 10], sp, lesions, 2)).toBeNull();
    expect(labelCandidate([10, 12.5, 10], [1, 0.5, 1], lesions, 0)).toBe(lesions[0]);
  });
});

describe('manifest refine section', () => {
  const base = JSON.parse(readFileSync(join(fixture('heatmap-refine'), 'manifest.json'), 'utf8')) as Record<string, unknown>;
  it('fills defaults', () => {
    const r = { ...(base.refine as object) } as Record<string, unknown>;
    delete r.candidates;
    delete r.activation;
    delete r.batch;
    const m = validateManifest({ ...base, refine: r });
    expect(m.refine).toMatchObject({ candidates: 200, activation: 'sigmoid', batch: 32, combine: 'refine', firstWeight: 0.5, candidateScore: 0.02, patchSize: 8 });
    expect(validateManifest({ ...base, refine: undefined }).refine).toBeNull();
  });
  it('refuses a refine stage on a box model, the first-stage file, and an unknown combine', () => {
    const r = base.refine as Record<string, unknown>;
    const output = { kind: 'boxes', boxes: { scores: 's', deltas: 'd', stride: [2, 2, 2], anchors: [[4, 4, 4]] } };
    expect(() => validateManifest({ ...base, output, refine: undefined })).not.toThrow();
    expect(() => validateManifest({ ...base, output, refine: r })).toThrow(/refine applies to heatmap/);
    expect(() => validateManifest({ ...base, refine: { ...r, file: 'model.onnx' } })).toThrow(/refine.file/);
    expect(() => validateManifest({ ...base, refine: { ...r, combine: 'max' } })).toThrow(/refine.combine must be one of/);
    expect(() => validateManifest({ ...base, refine: { ...r, combine: 'mean', firstWeight: 1.5 } })).toThrow(/refine.firstWeight/);
  });
  it('checks the second-stage file against its sha256', () => {
    const dir = join(tmp, 'bad-sha');
    cpSync(fixture('heatmap-refine'), dir, { recursive: true });
    writeFileSync(join(dir, 'refine.onnx'), Buffer.concat([readFileSync(join(dir, 'refine.onnx')), Buffer.from([0])]));
    expect(() => loadModel(dir)).toThrow(/refine.onnx|sha256/);
    try {
      loadModel(dir);
    } catch (e) {
      expect((e as { code: string }).code).toBe('E_MODEL');
    }
  });
});

describe('detect with a second stage (real ONNX sessions)', () => {
  // Two blobs: a bright one and a faint one. The first stage finds both; the fixture's second stage scores a
  // candidate by the window-normalised HU of its crop's centre voxel, so each final score is known exactly.
  const g = grid([48, 44, 40]);
  const bright: Vec3 = [14.2, 20.6, 18.3], faint: Vec3 = [33.4, 24.1, 22.7];
  const data = renderBlobs(g, [bright], 2.5, -800, 1000);
  const faintOnly = renderBlobs(g, [faint], 2.5, 0, 700);
  for (let v = 0; v < data.length; v++) data[v]! += faintOnly[v]!;
  const volume = { data, geometry: g };
  const ct = ctVolume(g);
  const expected = (pkgDir: string, at: Vec3): number => {
    const m = loadModel(pkgDir).manifest;
    const c = lpsToVoxel(g, at).map(Math.round) as Vec3;
    return applyTransform(channelTransforms(m.input.channels)[0]!, data[c[0] + 48 * (c[1] + 44 * c[2])]!);
  };

  it('re-scores each candidate from the crop centred on it and keeps those above the threshold', async () => {
    const pkg = loadModel(fixture('heatmap-refine'));
    const low = { ...pkg, manifest: { ...pkg.manifest, thresholds: { ...pkg.manifest.thresholds, score: 0 } } };
    const { findings, stats } = await detect(volume, ct, low, { ep: 'cpu', threads: 1 });
    expect(stats.refine?.candidates).toBeGreaterThanOrEqual(2);
    const near = (p: Vec3) => findings.find((f) => Math.hypot(...f.centerLps.map((x, a) => x - p[a]!)) < 1)!;
    for (const p of [bright, faint]) expect(near(p).score).toBeCloseTo(expected(fixture('heatmap-refine'), voxelToLps(g, lpsToVoxel(g, near(p).centerLps))), 5);
    expect(findings.map((f) => f.score)).toEqual([...findings.map((f) => f.score)].sort((a, b) => b - a));
    // The package's threshold (0.5) applies to the final score: the same candidates, cut there.
    const kept = await detect(volume, ct, pkg, { ep: 'cpu', threads: 1 });
    expect(kept.findings.map((f) => f.score)).toEqual(findings.filter((f) => f.score >= 0.5).map((f) => f.score));
    expect(kept.findings.length).toBeGreaterThanOrEqual(2);
  });

  it.each([
    ['geometric', undefined, (s1: number, s2: number) => Math.sqrt(s1 * s2)],
    ['mean', 0.25, (s1: number, s2: number) => 0.25 * s1 + 0.75 * s2],
  ] as const)('combine %s mixes both stages scores by its rule', async (combine, firstWeight, rule) => {
    const dir = join(tmp, combine);
    cpSync(fixture('heatmap-refine'), dir, { recursive: true });
    const man = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
    man.refine.combine = combine;
    if (firstWeight !== undefined) man.refine.firstWeight = firstWeight;
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify(man));
    const pkg = loadModel(dir);
    const plain = loadModel(fixture('heatmap-fp32'));
    const zero = <T extends { manifest: { thresholds: object } }>(p: T): T => ({ ...p, manifest: { ...p.manifest, thresholds: { ...p.manifest.thresholds, score: 0 } } });
    const both = await detect(volume, ct, zero(pkg), { ep: 'cpu', threads: 1 });
    const first = await detect(volume, ct, zero(plain), { ep: 'cpu', threads: 1 });
    for (const p of [bright, faint]) {
      const f = both.findings.find((x) => Math.hypot(...x.centerLps.map((v, a) => v - p[a]!)) < 1)!;
      const s1 = first.findings.find((x) => Math.hypot(...x.centerLps.map((v, a) => v - p[a]!)) < 1)!.score;
      expect(f.score).toBeCloseTo(rule(s1, expected(dir, f.centerLps)), 5);
    }
  });
});
