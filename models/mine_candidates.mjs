#!/usr/bin/env node
/**
 * Training data for the second stage (false-positive reduction): phantoms from the library's `synthesize`,
 * put on the model grid as `ctscope detect` does (`modelGrid`, int16), run through the bundled first-stage
 * model, and cut into crops around its candidates (heatmap maxima above a low floor), labelled by the truth.
 * Every lesion also gets jittered crops of its own, so lesions the first stage ranks low are still learned.
 * Writes OUT/crops.i16 (int16 HU, S^3 per crop, memory order k, j, i) and OUT/crops.jsonl (one line per crop:
 * seed, why (cand|lesion), label, first-stage score, lesion diameter and type for positives).
 *
 * Usage: node models/mine_candidates.mjs nodule|aneurysm OUT SEED_FROM SEED_TO   (build dist/ first)
 * The phantoms have the generator's full z coverage (as `ctscope synth` and the evaluation make them);
 * MINE_COVERAGE=cropped crops it to the `coverage` range below (faster, but misses anatomy above and below).
 * MINE_LESIONS=a,b draws a..b lesions per phantom instead of the task's range (more distinct positives per
 * phantom); MINE_CANDIDATES=n keeps the first stage's n highest maxima instead of 200 (less disk per phantom).
 */
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../dist/synth/synthesize.js';
import { fillSynthOptions } from '../dist/synth/options.js';
import { loadModel } from '../dist/inference/model.js';
import { runModel, decodeOutput } from '../dist/inference/infer.js';
import { modelGrid } from '../dist/pipeline/grid.js';
import { lpsToVoxel } from '../dist/volume/affine.js';
import { closeRunners } from '../dist/inference/runner.js';
import { closePool } from '../dist/workers/pool.js';
import { Rng } from '../dist/synth/rng.js';
import { cutCrop, labelCandidate } from '../dist/inference/refine.js';
import { TASK_EVAL } from '../dist/eval/froc.js';

const TASKS = {
  nodule: { kind: 'chest', rows: [256, 320, 384], coverage: [120, 220], lesions: [2, 4], jitter: 4 },
  aneurysm: { kind: 'cta', rows: [256, 320, 384], coverage: [70, 140], lesions: [1, 3], jitter: 4 },
};
const FLOOR = 0.02, MAX_CANDIDATES = Number(process.env.MINE_CANDIDATES ?? 200);

const [task, out, from, to] = process.argv.slice(2);
const T = TASKS[task] && { ...TASKS[task], ...(process.env.MINE_LESIONS ? { lesions: process.env.MINE_LESIONS.split(',').map(Number) } : {}) };
if (!T || !out) {
  console.error('usage: node models/mine_candidates.mjs nodule|aneurysm OUT SEED_FROM SEED_TO');
  process.exit(2);
}
const pkg = loadModel(task);
// train_refine.py's MINED: room for its +-2 voxel jitter around the 28^3 patch, whatever the package's refine says.
const S = 32;
const low = { ...pkg, manifest: { ...pkg.manifest, refine: undefined, thresholds: { ...pkg.manifest.thresholds, score: FLOOR, maxFindings: MAX_CANDIDATES } } };
mkdirSync(out, { recursive: true });
const fd = openSync(join(out, 'crops.i16'), 'a');
const lines = openSync(join(out, 'crops.jsonl'), 'a');
const t0 = performance.now();
for (let seed = Number(from); seed <= Number(to); seed++) {
  const rng = Rng.derive(seed, `mine:${task}`);
  const base = fillSynthOptions(T.kind, { seed });
  const rows = rng.pick(T.rows);
  const slices = Math.max(32, Math.round(rng.uniform(T.coverage[0], T.coverage[1]) / base.spacing[2]));
  const lesionCount = rng.int(T.lesions[0], T.lesions[1]);
  const r = synthesize(T.kind, { seed, rows, cols: rows, ...(process.env.MINE_COVERAGE === 'cropped' ? { slices } : {}), lesions: lesionCount });
  const grid = await modelGrid(r.volume, pkg);
  const outMap = await runModel(grid, low, { mask: 'body' });
  const cands = decodeOutput(outMap, low.manifest);
  const lesions = r.truth.findings.map((f) => ({ at: lpsToVoxel(grid.geometry, f.centerLps), d: f.diameterMm, type: f.type }));
  const crops = [];
  for (const c of cands) {
    const hit = labelCandidate(c.center, grid.geometry.spacing, lesions, TASK_EVAL[task].minRadiusMm);
    crops.push({ why: 'cand', at: c.center, score: c.score, label: hit ? 1 : 0, ...(hit ? { d: hit.d, type: hit.type } : {}) });
  }
  for (const l of lesions)
    for (let q = 0; q < T.jitter; q++) crops.push({ why: 'lesion', at: l.at.map((x) => x + rng.uniform(-1.5, 1.5)), score: -1, label: 1, d: l.d, type: l.type });
  const buf = new Int16Array(S * S * S);
  for (const c of crops) {
    cutCrop(grid, c.at, S, -1024, buf);
    writeSync(fd, new Uint8Array(buf.buffer));
    const { at, ...rest } = c;
    writeSync(lines, JSON.stringify({ seed, ...rest }) + '\n');
  }
  const pos = crops.filter((c) => c.why === 'cand' && c.label).length;
  console.log(`${task} seed ${seed}: ${lesions.length} lesions, ${cands.length} candidates (${pos} on lesions), grid ${grid.geometry.dims.join('x')}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
closeSync(fd);
closeSync(lines);
await closeRunners();
await closePool();
