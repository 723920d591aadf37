import { CtscopeError, throwIfAborted } from '../errors.js';
import type { Candidate } from '../postprocess/candidate.js';
import type { Vec3, Volume } from '../volume/types.js';
import type { FilledRefineSpec } from './manifest.js';
import type { ModelPackage } from './model.js';
import { sessionPredictor } from './predictor.js';
import { applyTransform, channelTransforms } from './preprocess.js';
import type { ModelRunner } from './runner.js';

/**
 * Second stage (false-positive reduction): a small classifier, or other detectors (models/cascade.py), re-scores
 * each first-stage candidate from a cube of the model grid centred on it. This file holds what training and
 * inference must do identically.
 */

/** First voxel (i, j, k) of the S^3 cube centred on a grid position: the centre voxel sits at S/2. */
export function cropStart(center: Vec3, size: number): Vec3 {
  const h = size >> 1;
  return [Math.round(center[0]) - h, Math.round(center[1]) - h, Math.round(center[2]) - h];
}

/** Copies the S^3 cube around `center` (grid voxels) into `out` as HU, memory order k, j, i; outside is `padHu`. */
export function cutCrop(grid: Volume, center: Vec3, size: number, padHu: number, out: Int16Array | Float32Array): void {
  const [nx, ny, nz] = grid.geometry.dims;
  const s = cropStart(center, size);
  const data = grid.data;
  let n = 0;
  for (let k = 0; k < size; k++) {
    const z = s[2] + k;
    for (let j = 0; j < size; j++, n += size) {
      const y = s[1] + j;
      if (z < 0 || z >= nz || y < 0 || y >= ny) {
        out.fill(padHu, n, n + size);
        continue;
      }
      const row = nx * (y + ny * z);
      for (let i = 0; i < size; i++) {
        const x = s[0] + i;
        out[n + i] = x >= 0 && x < nx ? data[row + x]! : padHu;
      }
    }
  }
}

export interface CropLesion {
  /** Centre in grid voxels (i, j, k). */
  at: Vec3;
  /** Diameter in mm. */
  d: number;
  type?: string;
}

/**
 * The lesion a candidate at `center` (grid voxels) hits under the evaluation's rule (within the lesion's
 * radius, never less than `minRadiusMm`), nearest first; else null.
 */
export function labelCandidate<L extends CropLesion>(center: Vec3, spacing: Vec3, lesions: readonly L[], minRadiusMm: number): L | null {
  let best: L | null = null, bestD = Infinity;
  for (const l of lesions) {
    const d = Math.hypot((center[0] - l.at[0]) * spacing[0], (center[1] - l.at[1]) * spacing[1], (center[2] - l.at[2]) * spacing[2]);
    if (d <= Math.max(l.d / 2, minRadiusMm) && d < bestD) {
      best = l;
      bestD = d;
    }
  }
  return best;
}

/** What the second stage did, for stats and reports. */
export interface RefineStats {
  /** Candidates re-scored. */
  candidates: number;
  /** Wall time of cropping and classifying them. */
  ms: number;
}

/** A first-stage candidate with its score from each stage. */
export interface RefinedCandidate extends Candidate {
  firstScore: number;
  refineScore: number;
}

/**
 * Re-scores candidates (grid voxels) with the second-stage model: crops of S^3 voxels around each,
 * windowed like the first stage's input, classified in batches. Returns them with the combined score,
 * highest first.
 */
export async function refineCandidates(grid: Volume, candidates: readonly Candidate[], pkg: ModelPackage, spec: FilledRefineSpec, options: RefineRunOptions): Promise<{ candidates: RefinedCandidate[]; stats: RefineStats }> {
  const t0 = performance.now();
  const m = pkg.manifest;
  const S = spec.patchSize, vol = S * S * S;
  const transforms = channelTransforms(m.input.channels);
  const C = transforms.length;
  const output = m.output.name || options.runner.outputs[0]!.name;
  const predictor = sessionPredictor(options.runner, m, output, 'none', options.signal);
  const hu = new Float32Array(vol);
  const scores: number[] = [];
  for (let b = 0; b < candidates.length; b += spec.batch) {
    throwIfAborted(options.signal, 'inference');
    const chunk = candidates.slice(b, b + spec.batch);
    const input = new Float32Array(chunk.length * C * vol);
    chunk.forEach((c, n) => {
      cutCrop(grid, c.center, S, m.window.padHu, hu);
      for (let ch = 0; ch < C; ch++) {
        const t = transforms[ch]!, o = (n * C + ch) * vol;
        for (let v = 0; v < vol; v++) input[o + v] = applyTransform(t, hu[v]!);
      }
    });
    const out = await predictor(input, chunk.length);
    const t = out[output];
    if (!t || t.data.length !== chunk.length) throw new CtscopeError('E_INFERENCE', `refine model output '${output}' has ${t?.data.length ?? 0} values for ${chunk.length} crops; one score per crop expected`);
    for (let n = 0; n < chunk.length; n++) scores.push(t.data[n]!);
  }
  const refined = candidates.map((c, n): RefinedCandidate => {
    const p = scores[n]!;
    return { ...c, firstScore: c.score, refineScore: p, score: combineScores(spec, c.score, p) };
  });
  refined.sort((a, b) => b.score - a.score);
  return { candidates: refined, stats: { candidates: candidates.length, ms: performance.now() - t0 } };
}

/** The final score of a candidate from its first-stage and second-stage scores (manifest `refine.combine`). */
function combineScores(spec: Pick<FilledRefineSpec, 'combine' | 'firstWeight'>, first: number, second: number): number {
  if (spec.combine === 'geometric') return Math.sqrt(Math.max(0, first) * Math.max(0, second));
  if (spec.combine === 'mean') return spec.firstWeight * first + (1 - spec.firstWeight) * second;
  return second;
}

export interface RefineRunOptions {
  runner: ModelRunner;
  signal?: AbortSignal | undefined;
}
