#!/usr/bin/env node
/**
 * ctscope's ONNX Runtime path on a GPU, measured on the same ONNX graph that unet.py times in PyTorch.
 *   node native-bench/gpu/bench.mjs --onnx-dir DIR [--ep cuda] [--batches 1,4,8] [--iters 20] [--volume 256]
 * Needs a build (dist/). Prints one JSON line per measurement:
 *  - runner: ModelRunner.run on a ready batch (host->worker transfer, host<->device copies and session.run),
 *    with 1 and 2 batches in flight (2 in flight overlaps one batch's copies with the other's compute);
 *  - window: runModel (sliding window, Gaussian blending) over a volume^3 grid at 1 mm, the detect path.
 */
import { mkdtempSync, writeFileSync, copyFileSync, readFileSync, rmSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadModel } from '../../dist/inference/model.js';
import { ModelRunner, closeRunners } from '../../dist/inference/runner.js';
import { runModel } from '../../dist/inference/infer.js';
import { toFloat16 } from '../../dist/inference/fp16.js';
import { exitCodeFor } from '../../dist/errors.js';

const { values: a } = parseArgs({
  options: {
    'onnx-dir': { type: 'string' },
    ep: { type: 'string', default: 'cuda' },
    batches: { type: 'string', default: '1,4,8' },
    iters: { type: 'string', default: '20' },
    volume: { type: 'string', default: '256' },
    patch: { type: 'string', default: '96' },
  },
});
if (!a['onnx-dir']) {
  console.error('error[E_USAGE]: --onnx-dir DIR is required (the ONNX files unet.py writes: unet_fp32.onnx, unet_fp16.onnx, unet_fp16_io32.onnx)');
  process.exit(2);
}
const P = Number(a.patch);
const iters = Number(a.iters);

// The packages made for timing go however the run ends: a signal skips 'exit' handlers, so it removes them too.
const made = [];
const removeMade = () => made.splice(0).forEach((d) => rmSync(d, { recursive: true, force: true }));
process.on('exit', removeMade);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.once(sig, () => {
    removeMade();
    process.kill(process.pid, sig);
  });
}

function makePackage(onnxPath, dtype) {
  const dir = mkdtempSync(join(tmpdir(), 'ctscope-gpu-'));
  made.push(dir);
  copyFileSync(onnxPath, join(dir, 'model.onnx'));
  const sha256 = createHash('sha256').update(readFileSync(onnxPath)).digest('hex');
  const manifest = {
    id: `unet-${dtype}-${Math.random().toString(36).slice(2, 8)}`, version: '0.0.0', licence: 'MIT', task: 'other',
    trainingData: 'None: random weights, for timing only.',
    input: { name: 'input', spacing: [1, 1, 1], orientation: 'LPS', layout: 'NCDHW', patchSize: [P, P, P], dtype,
             channels: [{ window: [-1000, 400], normalisation: 'unit' }], batch: { size: 4, fixed: false } },
    output: { kind: 'heatmap', name: 'output', activation: 'none', heatmap: { minDistanceMm: 6 } },
    window: { overlap: 0.25, blend: 'gaussian', margin: 0 },
    thresholds: { score: 0.99 }, labels: ['blob'], sha256,
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return loadModel(dir);
}

const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];

function feed(dtype, b) {
  const n = b * P * P * P;
  const f = new Float32Array(n);
  for (let i = 0; i < n; i++) f[i] = Math.random();
  return { type: dtype, data: dtype === 'float16' ? toFloat16(f) : f, dims: [b, 1, P, P, P] };
}
const clone = (t) => ({ ...t, data: t.data.slice() });

// float32, float16 at the edges (host converts), float16 inside with float32 edges (casts on the device).
const VARIANTS = [['float32', 'unet_fp32.onnx', 'fp32'], ['float16', 'unet_fp16.onnx', 'fp16'], ['float32', 'unet_fp16_io32.onnx', 'fp16-io32']];
try {
for (const [dtype, fileName, label] of VARIANTS) {
  const file = join(a['onnx-dir'], fileName);
  let pkg;
  try { pkg = makePackage(file, dtype); } catch (e) { console.log(JSON.stringify({ variant: label, skipped: String(e.message ?? e) })); continue; }
  const runner = await ModelRunner.create(pkg, { ep: a.ep, onLog: (l) => console.error(l) });
  for (const b of a.batches.split(',').map(Number)) {
    const base = feed(dtype, b);
    for (let w = 0; w < 3; w++) await runner.run({ input: clone(base) });
    for (const inflight of [1, 2]) {
      const wall = [], run = [];
      for (let it = 0; it < iters; it += inflight) {
        const t0 = performance.now();
        const rs = await Promise.all(Array.from({ length: inflight }, () => runner.run({ input: clone(base) })));
        wall.push((performance.now() - t0) / inflight);
        run.push(...rs.map((r) => r.runMs));
      }
      const ms = median(wall);
      console.log(JSON.stringify({ runtime: 'ctscope-runner', ep: runner.provider, variant: label, batch: b, inflight, medianMs: ms, sessionRunMs: median(run), mvoxPerS: (b * P ** 3) / ms / 1e3 }));
    }
  }
  // The detect path: sliding window over a volume on the model grid.
  const V = Number(a.volume);
  const data = new Float32Array(V * V * V);
  for (let i = 0; i < data.length; i++) data[i] = -1000 + 1400 * Math.random();
  const volume = { data, geometry: { dims: [V, V, V], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
  for (const batchSize of [4, 8]) {
    await runModel(volume, pkg, { runner, batchSize });
    const walls = [], stats = [];
    for (let it = 0; it < 3; it++) {
      const out = await runModel(volume, pkg, { runner, batchSize });
      walls.push(out.stats.wallMs);
      stats.push(out.stats);
    }
    const s = stats[walls.indexOf(median(walls))];
    console.log(JSON.stringify({ runtime: 'ctscope-window', ep: runner.provider, variant: label, volume: V, batch: batchSize, patches: s.patches, wallMs: s.wallMs, sessionRunMs: s.runMs, hostMs: s.hostMs, mvoxPerS: (V ** 3) / s.wallMs / 1e3 }));
  }
  await runner.close();
}
} catch (e) {
  // A provider this machine lacks (E_EP_UNAVAILABLE): one coded line, not a stack trace. (A variant whose ONNX file
  // is missing is a `skipped` line above.)
  console.error(`error[${e?.code ?? 'E_INTERNAL'}]: ${e?.message ?? e}`);
  process.exitCode = exitCodeFor(e);
} finally {
  await closeRunners();
}
