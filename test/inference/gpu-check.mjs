#!/usr/bin/env node
/**
 * Checks on a machine with a GPU (not part of CI): doctor report, that `auto` picks the GPU provider,
 * that findings on the GPU match CPU ones, and the time outside session.run. Build first (npx tsc -p .).
 * Usage: node test/inference/gpu-check.mjs [ep=cuda]
 */
import { doctorReport } from '../../dist/inference/doctor.js';
import { loadModel } from '../../dist/inference/model.js';
import { ModelRunner, closeRunners } from '../../dist/inference/runner.js';
import { detect } from '../../dist/inference/infer.js';
import { fileURLToPath } from 'node:url';

const ep = process.argv[2] ?? 'cuda';
const r = await doctorReport();
console.log('providers:', r.providers.map((p) => `${p.ep}=${p.ok ? 'ok' : p.error}`).join('; '));
console.log('gpu:', r.gpu.nvidiaSmi, Object.entries(r.gpu.libraries).map(([k, v]) => `${k}:${v.length}`).join(' '));
const dims = [96, 90, 80];
const data = new Float32Array(dims[0] * dims[1] * dims[2]).fill(-800);
const planted = [[20.2, 30.6, 24.4], [65.5, 44.8, 50.1]];
for (let k = 0; k < dims[2]; k++) for (let j = 0; j < dims[1]; j++) for (let i = 0; i < dims[0]; i++)
  for (const c of planted) data[i + dims[0] * (j + dims[1] * k)] += 1000 * Math.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2) / 12.5);
const geometry = { dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
const original = { data, geometry, sliceUids: Array.from({ length: dims[2] }, (_, k) => `1.2.${k}`), frameNumbers: new Array(dims[2]).fill(1), slices: { positions: [], offsets: [], uneven: false } };
for (const id of ['heatmap-fp32', 'heatmap-fp16', 'boxes']) {
  const pkg = loadModel(fileURLToPath(new URL(`../fixtures/models/${id}`, import.meta.url)));
  const res = {};
  for (const e of ['cpu', ep, 'auto']) {
    const runner = await ModelRunner.create(pkg, { ep: e, onLog: (l) => console.log(`  ${id} ${e}: ${l}`) });
    const out = await detect({ data, geometry }, original, pkg, { runner });
    res[e] = out.findings;
    console.log(`  ${id} --ep ${e} -> ${runner.provider}: ${out.findings.map((f) => f.centerLps.map((x) => x.toFixed(3)).join(',') + ' s=' + f.score.toFixed(4)).join(' | ')}`);
    await runner.close();
  }
  const d = Math.max(...res.cpu.map((f, n) => Math.hypot(...f.centerLps.map((x, a) => x - res[ep][n].centerLps[a]))));
  console.log(`${id}: ${ep} vs cpu max centre difference ${d.toExponential(2)} mm, ${res[ep].length}/${res.cpu.length} findings`);
}
await closeRunners();
