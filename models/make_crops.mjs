#!/usr/bin/env node
/**
 * Training data for the bundled detectors: phantoms from `ctscope synth` (library `synthesize`), put on the
 * model grid exactly as `ctscope detect` does (reorient to LPS, linear resample to the model spacing, float32),
 * then cut into cubic crops: around every lesion (jittered), at the generator's hard negatives, and at random
 * places that touch the body. Writes OUT/crops.i16 (int16 HU, crop after crop, memory order k, j, i) and
 * OUT/crops.jsonl + OUT/meta.json (per crop: lesion centres in crop voxels (i, j, k) and diameters in mm).
 *
 * Usage: node models/make_crops.mjs nodule|aneurysm OUT SEED_FROM SEED_TO   (build dist/ first)
 */
import { mkdirSync, openSync, writeSync, closeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { synthesize } from '../dist/synth/synthesize.js';
import { fillSynthOptions } from '../dist/synth/options.js';
import { transformForOutput } from '../dist/resample/index.js';
import { lpsToVoxel } from '../dist/volume/affine.js';
import { Rng } from '../dist/synth/rng.js';

export const TASKS = {
  nodule: { kind: 'chest', spacing: 1.25, crop: 48, rows: [256, 320, 384, 512], coverage: [110, 200], lesions: [2, 4], random: 6, hard: 3 },
  aneurysm: { kind: 'cta', spacing: 0.75, crop: 48, rows: [256, 320, 384, 512], coverage: [70, 140], lesions: [1, 3], random: 6, hard: 4 },
};

const [task, out, from, to] = process.argv.slice(2);
// CROPS_OPTIONS: JSON merged over the task's defaults, e.g. '{"lesions":[1,4]}' (the session-5 fine-tuning runs).
const T = TASKS[task] && { ...TASKS[task], ...JSON.parse(process.env.CROPS_OPTIONS || '{}') };
if (!T || !out) {
  console.error('usage: node models/make_crops.mjs nodule|aneurysm OUT SEED_FROM SEED_TO');
  process.exit(2);
}
mkdirSync(out, { recursive: true });
const fd = openSync(join(out, 'crops.i16'), 'w');
// One line per crop as it is written, so a run stopped early still leaves usable data.
const lines = openSync(join(out, 'crops.jsonl'), 'w');
const meta = { task, spacing: T.spacing, crop: T.crop, crops: [] };
const C = T.crop, half = C / 2;
const buf = new Int16Array(C * C * C);

function cut(v, centre) {
  const [nx, ny, nz] = v.geometry.dims;
  const s = centre.map((c) => Math.round(c) - half);
  let n = 0;
  for (let k = 0; k < C; k++)
    for (let j = 0; j < C; j++)
      for (let i = 0; i < C; i++, n++) {
        const x = s[0] + i, y = s[1] + j, z = s[2] + k;
        const inside = x >= 0 && y >= 0 && z >= 0 && x < nx && y < ny && z < nz;
        buf[n] = inside ? Math.max(-32768, Math.min(32767, Math.round(v.data[x + nx * (y + ny * z)]))) : -1024;
      }
  return s;
}

function touchesBody(v, centre, rng) {
  const [nx, ny, nz] = v.geometry.dims;
  for (let t = 0; t < 200; t++) {
    const x = Math.round(centre[0] + rng.uniform(-half, half)), y = Math.round(centre[1] + rng.uniform(-half, half)), z = Math.round(centre[2] + rng.uniform(-half, half));
    if (x < 0 || y < 0 || z < 0 || x >= nx || y >= ny || z >= nz) continue;
    if (v.data[x + nx * (y + ny * z)] > -500) return true;
  }
  return false;
}

const t0 = performance.now();
for (let seed = Number(from); seed <= Number(to); seed++) {
  const rng = Rng.derive(seed, `train:${task}`);
  const base = fillSynthOptions(T.kind, { seed });
  const rows = rng.pick(T.rows);
  const slices = Math.max(32, Math.round(rng.uniform(T.coverage[0], T.coverage[1]) / base.spacing[2]));
  const r = synthesize(T.kind, { seed, rows, cols: rows, slices, lesions: rng.int(T.lesions[0], T.lesions[1]) });
  const v = await transformForOutput(r.volume, { spacing: T.spacing, orient: 'LPS', interp: 'linear', outType: 'float32' });
  const lesions = r.truth.findings.map((f) => ({ at: lpsToVoxel(v.geometry, f.centerLps), d: f.diameterMm, type: f.type }));
  const centres = [];
  for (const l of lesions) for (let q = 0; q < 2; q++) centres.push(['pos', l.at.map((c) => c + rng.uniform(-0.3, 0.3) * (C / 2 - 4))]);
  for (const h of r.truth.hardNegatives.slice().sort(() => rng.uniform(-1, 1)).slice(0, T.hard)) centres.push(['hard', lpsToVoxel(v.geometry, h.centerLps).map((c) => c + rng.uniform(-6, 6))]);
  const dims = v.geometry.dims;
  for (let q = 0, tries = 0; q < T.random && tries < 100; tries++) {
    const c = dims.map((n) => rng.uniform(0, n));
    if (!touchesBody(v, c, rng)) continue;
    centres.push(['random', c]);
    q++;
  }
  for (const [why, c] of centres) {
    const s = cut(v, c);
    const inCrop = lesions
      .map((l) => ({ c: l.at.map((x, a) => x - s[a]), d: l.d, type: l.type }))
      .filter((l) => l.c.every((x) => x > -l.d && x < C + l.d));
    writeSync(fd, new Uint8Array(buf.buffer));
    meta.crops.push({ seed, why, lesions: inCrop });
    writeSync(lines, JSON.stringify({ seed, why, lesions: inCrop }) + '\n');
  }
  console.log(`${task} seed ${seed}: ${lesions.length} lesions, ${centres.length} crops, dims ${dims.join('x')}, ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
closeSync(fd);
meta.seconds = (performance.now() - t0) / 1000;
writeFileSync(join(out, 'meta.json'), JSON.stringify(meta));
process.exit(0);
