import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detectFolder } from '../../src/eval/detect-folder.js';
import { loadModel } from '../../src/inference/model.js';
import { closeRunners } from '../../src/inference/runner.js';
import { synthToDirectory } from '../../src/synth/synthesize.js';
import type { SynthKind } from '../../src/synth/options.js';

// Seeds outside training (src/eval/detect-folder.ts TRAINING_SEEDS), validation and evaluation: each draws one large lesion at
// 192 x 192. Both models have a second network re-scoring cubes around the first's candidates (aneurysm 0.5.0
// and 0.6.0: 48^3; nodule 0.6.0: 40^3, with its mirrors): `refineCrop` is the cube edge.
const CASES: { model: string; kind: SynthKind; seed: number; refineCrop: number | null }[] = [
  { model: 'nodule', kind: 'chest', seed: 9009, refineCrop: 40 },
  { model: 'aneurysm', kind: 'cta', seed: 9005, refineCrop: 48 },
];

const root = mkdtempSync(join(tmpdir(), 'ctscope-models-'));
afterAll(async () => {
  await closeRunners();
  rmSync(root, { recursive: true, force: true });
});

describe('bundled detection models', () => {
  for (const c of CASES) {
    it(`${c.model}: loads, runs on a ${c.kind} phantom and finds its planted lesion`, async () => {
      const pkg = loadModel(c.model);
      expect(pkg.manifest.licence).toBe('MIT');
      expect(pkg.manifest.trainingData).toMatch(/synthetic/i);
      expect(pkg.bytes.length + (pkg.refine?.bytes.length ?? 0)).toBeLessThan(5_000_000);
      // Where there is a second stage, the planted lesion must survive it.
      expect(pkg.manifest.refine?.file).toBe(c.refineCrop ? 'refine.onnx' : undefined);
      expect(pkg.refine?.manifest.input.patchSize).toEqual(c.refineCrop ? [c.refineCrop, c.refineCrop, c.refineCrop] : undefined);
      const dir = join(root, c.kind);
      const { truth } = await synthToDirectory(c.kind, { seed: c.seed, rows: 192, cols: 192, lesions: 1 }, dir);
      const lesion = truth.findings[0]!;
      const det = await detectFolder(dir, [pkg.dir], null);
      const d = det.findings.map((f) => Math.hypot(...f.centerLps.map((x, a) => x - lesion.centerLps[a]!)));
      const hit = Math.max(lesion.diameterMm / 2, c.model === 'aneurysm' ? 2 : 0);
      expect(Math.min(...d)).toBeLessThanOrEqual(hit);
      // Its size is measured on the image (half maximum), within a quarter of the planted diameter.
      const found = det.findings[d.indexOf(Math.min(...d))]!;
      expect(Math.abs(found.diameterMm - lesion.diameterMm) / lesion.diameterMm, `${found.diameterMm} mm found, ${lesion.diameterMm} mm planted`).toBeLessThan(0.25);
      expect(det.findings.every((f) => f.kind === c.model && f.score >= pkg.manifest.thresholds.score)).toBe(true);
    }, 60_000);
  }
});

describe('the quick benchmark phantoms (src/bench/data.ts)', () => {
  // The model rows time a run that finds something: at 96 x 96 the chest field cut the lungs and nothing was found.
  for (const [kind, model] of [['chest', 'nodule'], ['cta', 'aneurysm']] as const) {
    it(`${kind}: ${model} finds the planted lesion, so the report row writes a key image`, async () => {
      const { PHANTOMS } = await import('../../src/bench/data.js');
      const dir = join(root, `quick-${kind}`);
      const { truth } = await synthToDirectory(kind, PHANTOMS[kind].quick, dir);
      const lesion = truth.findings[0]!;
      const det = await detectFolder(dir, [model], null);
      const d = det.findings.map((f) => Math.hypot(...f.centerLps.map((x, a) => x - lesion.centerLps[a]!)));
      expect(Math.min(...d)).toBeLessThanOrEqual(Math.max(lesion.diameterMm / 2, 2));
    }, 60_000);
  }
});
