#!/usr/bin/env node
/**
 * Share of a detect run spent outside session.run, on CPU (build first: npx tsc -p .).
 * Usage: node test/inference/bench-overhead.mjs [size=128] [repeats=3]
 * "runMs" is measured around session.run inside the inference worker; everything else (patch extraction,
 * fp16/layout conversion, transfers, blending, decoding) is overhead, counted only where it is not
 * hidden behind a running session.
 */
import { loadModel } from '../../dist/inference/model.js';
import { getRunner, closeRunners } from '../../dist/inference/runner.js';
import { runModel, decodeOutput } from '../../dist/inference/infer.js';
import { fileURLToPath } from 'node:url';

const size = Number(process.argv[2] ?? 128);
const repeats = Number(process.argv[3] ?? 3);
const dims = [size, size, size];
const data = new Float32Array(size ** 3).fill(-800);
const blobs = [[40.3, 50.2, 60.7], [90.5, 80.1, 30.2], [64, 100, 100]].map((c) => c.map((x) => (x * size) / 128));
for (let k = 0; k < size; k++) for (let j = 0; j < size; j++) for (let i = 0; i < size; i++) {
  let v = 0;
  for (const c of blobs) v += Math.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2) / 12.5);
  data[i + size * (j + size * k)] += 1000 * v;
}
const geometry = { dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const runnerOptions = { ep: process.env.EP ?? 'cpu', onLog: (l) => console.log(l), ...(process.env.THREADS ? { threads: Number(process.env.THREADS) } : {}) };
const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

for (const id of (process.env.MODELS ?? 'heatmap-fp32,heatmap-fp16,bench').split(',')) {
  const pkg = loadModel(fileURLToPath(new URL(`../fixtures/models/${id}`, import.meta.url)));
  await getRunner(pkg, runnerOptions); // session creation is once per model, not per run
  const rows = [];
  for (let r = 0; r < repeats + 1; r++) {
    const t0 = performance.now();
    const out = await runModel({ data, geometry }, pkg, runnerOptions);
    const t1 = performance.now();
    const cands = decodeOutput(out, pkg.manifest);
    const t2 = performance.now();
    if (r > 0) rows.push({ wall: t2 - t0, run: out.stats.runMs, decode: t2 - t1, host: out.stats.hostMs, patches: out.stats.patches, found: cands.length });
  }
  const wall = median(rows.map((x) => x.wall)), run = median(rows.map((x) => x.run));
  console.log(`${id.padEnd(13)} ${size}^3 patches ${rows[0].patches} found ${rows[0].found}: detect ${wall.toFixed(0)} ms, session.run ${run.toFixed(0)} ms, ` +
    `outside run ${(wall - run).toFixed(0)} ms = ${((100 * (wall - run)) / wall).toFixed(1)}% (host work ${median(rows.map((x) => x.host)).toFixed(0)} ms, decode ${median(rows.map((x) => x.decode)).toFixed(0)} ms)`);
}
await closeRunners();
