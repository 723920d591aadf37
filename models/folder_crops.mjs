#!/usr/bin/env node
/**
 * Training crops for a heatmap network from case folders of any generator: each CASE_ROOT/<id>/ holds a DICOM
 * series and truth.json (as `ctscope synth` and models/altphantom.py write them). The series is loaded and put on
 * the model grid as `ctscope detect` does it (loadSeries, modelGrid), the bundled first stage proposes candidates in
 * its organ region, and crops are cut where the second stage will look: two jittered ones around every lesion, the
 * first stage's best candidates that are not lesions (hard negatives as this generator draws them: junctions,
 * loops, bone edges), and random places in the body. Output as make_crops.mjs writes it, so detector.py reads both
 * alike: OUT/crops.i16 (int16 HU, S^3 per crop, memory order k, j, i) and OUT/crops.jsonl (per crop: case, why,
 * lesions in crop voxels (i, j, k) with diameters in mm).
 *
 * Usage: node models/folder_crops.mjs nodule|aneurysm CASE_ROOT OUT   (build dist/ first)
 * FOLDER_HARD=n keeps the n best non-lesion candidates per case (default 8); FOLDER_RANDOM=n random crops (4).
 * A folder without truth.json, or whose series does not load, is reported and skipped; OUT's two files are written afresh.
 */
import { closeSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { loadSeries } from '../dist/ingest/load.js';
import { loadModel } from '../dist/inference/model.js';
import { decodeOutput, runModel } from '../dist/inference/infer.js';
import { closeRunners } from '../dist/inference/runner.js';
import { cropStart, cutCrop, labelCandidate } from '../dist/inference/refine.js';
import { modelGrid } from '../dist/pipeline/grid.js';
import { lpsToVoxel } from '../dist/volume/affine.js';
import { closePool } from '../dist/workers/pool.js';
import { Rng } from '../dist/synth/rng.js';
import { TASK_EVAL } from '../dist/eval/froc.js';

const [task, root, out] = process.argv.slice(2);
if (!['nodule', 'aneurysm'].includes(task) || !root || !out) {
  console.error('usage: node models/folder_crops.mjs nodule|aneurysm CASE_ROOT OUT');
  process.exit(2);
}
const S = 48, FLOOR = 0.05;
const HARD = Number(process.env.FOLDER_HARD ?? 8), RANDOM = Number(process.env.FOLDER_RANDOM ?? 4);
const pkg = loadModel(task);
// The first stage alone, every candidate above the floor: the refine stage is what the crops will train.
const low = { ...pkg, manifest: { ...pkg.manifest, refine: undefined, thresholds: { ...pkg.manifest.thresholds, score: FLOOR, maxFindings: 100 } } };
mkdirSync(out, { recursive: true });
// Written afresh: a second run into the same OUT must not add its crops to the first run's.
const fd = openSync(join(out, 'crops.i16'), 'w');
const lines = openSync(join(out, 'crops.jsonl'), 'w');
const buf = new Int16Array(S * S * S);
const t0 = performance.now();

// Case folders may be symbolic links (a selection of another root's cases).
const cases = readdirSync(root).filter((n) => statSync(join(root, n)).isDirectory()).sort();
for (const id of cases) {
  const dir = join(root, id);
  let truth;
  try {
    truth = JSON.parse(readFileSync(join(dir, 'truth.json'), 'utf8'));
  } catch {
    console.log(`${id}: no truth.json, skipped`);
    continue;
  }
  const rng = Rng.derive(0, `folder:${task}:${id}`);
  let volume;
  try {
    volume = await loadSeries(dir);
  } catch (err) {
    console.log(`${id}: not loaded (${err.code ?? err.message}), skipped`);
    continue;
  }
  const grid = await modelGrid(volume, pkg);
  const cands = decodeOutput(await runModel(grid, low, { mask: 'organ' }), low.manifest);
  const lesions = truth.findings.map((f) => ({ at: lpsToVoxel(grid.geometry, f.centerLps), d: f.diameterMm, type: f.type }));
  const centres = [];
  for (const l of lesions) for (let q = 0; q < 2; q++) centres.push(['pos', l.at.map((c) => c + rng.uniform(-0.3, 0.3) * (S / 2 - 4))]);
  const misses = cands.filter((c) => !labelCandidate(c.center, grid.geometry.spacing, lesions, TASK_EVAL[task].minRadiusMm));
  for (const c of misses.slice(0, HARD)) centres.push(['hard', c.center.map((x) => x + rng.uniform(-2, 2))]);
  const dims = grid.geometry.dims;
  for (let q = 0, tries = 0; q < RANDOM && tries < 200; tries++) {
    const c = dims.map((n) => rng.uniform(0, n));
    const at = c.map((x, a) => Math.min(dims[a] - 1, Math.round(x)));
    if (grid.data[at[0] + dims[0] * (at[1] + dims[1] * at[2])] <= -500) continue;
    centres.push(['random', c]);
    q++;
  }
  for (const [why, c] of centres) {
    cutCrop(grid, c, S, -1024, buf);
    const s = cropStart(c, S);
    const inCrop = lesions
      .map((l) => ({ c: l.at.map((x, a) => x - s[a]), d: l.d, type: l.type }))
      .filter((l) => l.c.every((x) => x > -l.d && x < S + l.d));
    writeSync(fd, new Uint8Array(buf.buffer));
    writeSync(lines, JSON.stringify({ case: id, why, lesions: inCrop }) + '\n');
  }
  console.log(`${task} ${id}: ${lesions.length} lesions, ${cands.length} candidates, ${centres.length} crops, grid ${dims.join('x')}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
closeSync(fd);
closeSync(lines);
await closeRunners();
await closePool();
