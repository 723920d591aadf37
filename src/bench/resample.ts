/**
 * Resample benchmark: a synthetic 300 x 512 x 512 float32 CT at 0.703 x 0.703 x 1.25 mm to 1 mm isotropic
 * (375 x 360 x 360), trilinear, on the shared pool with 1 and 2 workers. Two flavours: a fresh output
 * per call (what a caller gets; includes first-touch page faults on the 194 MB output) and into a reused
 * shared buffer (compute only). Runnable alone: `node dist/bench/resample.js [--json] [--quick] [--dump F]`.
 * native-bench/resample/run.sh runs this next to scipy and PyTorch in one go.
 */
import { existsSync, realpathSync, writeFileSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import type { Volume } from '../volume/types.js';
import { closePool, getPool } from '../workers/pool.js';
import { resample, spacingGrid } from '../resample/index.js';
import { allocVoxels } from '../resample/arrays.js';
import { median, quantile } from '../io/stats.js';
import { Bench } from 'tinybench';
import { formatRows, machineInfo, measureBaselines, type Baselines, type BenchRow } from './harness.js';

export const BENCH_DIMS = [512, 512, 300] as const;
export const BENCH_SPACING = [0.703, 0.703, 1.25] as const;

/** Deterministic test volume, bit-identical to native-bench/resample/bench.py's: ((7i + 13j + 29k) mod 2001) - 1000. */
export function benchVolume(nz: number = BENCH_DIMS[2]): Volume<Float32Array> {
  const [nx, ny] = BENCH_DIMS;
  const data = allocVoxels('float32', nx * ny * nz, true) as Float32Array;
  let o = 0;
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) data[o++] = ((7 * i + 13 * j + 29 * k) % 2001) - 1000;
  return { data, geometry: { dims: [nx, ny, nz], spacing: [...BENCH_SPACING], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
}

export async function benchResample(baselines: Baselines, options: { quick: boolean; rounds?: number }): Promise<BenchRow[]> {
  const vol = benchVolume(options.quick ? 100 : BENCH_DIMS[2]);
  const { geometry } = spacingGrid(vol.geometry, [1, 1, 1]);
  const outVox = geometry.dims[0] * geometry.dims[1] * geometry.dims[2];
  const into = allocVoxels('float32', outVox, true);
  into.fill(0);
  // Start both threads before timing anything.
  await Promise.all([0, 1].map(() => resample(vol, { spacing: 1, workers: 1 })));
  void getPool();
  const bytes = vol.data.byteLength + outVox * 4;
  const tasks: Array<{ name: string; fn: () => Promise<unknown> }> = [];
  for (const reuse of [false, true])
    for (const workers of [1, 2])
      tasks.push({
        name: `trilinear to 1 mm, ${workers} worker${workers > 1 ? 's' : ''}${reuse ? ', reused output' : ''}`,
        fn: async () => {
          await resample(vol, { spacing: 1, workers, ...(reuse ? { into } : {}) });
        },
      });
  if (!options.quick) {
    for (const interp of ['nearest', 'cubic'] as const)
      tasks.push({ name: `${interp} to 1 mm, 2 workers, reused output`, fn: async () => { await resample(vol, { spacing: 1, workers: 2, interp, outType: 'float32', into }); } });
    // What `detect` builds: the loader's int16 HU volume to an int16 model grid.
    const huData = allocVoxels('int16', vol.data.length, true);
    huData.set(vol.data);
    const hu: Volume = { data: huData, geometry: vol.geometry };
    const intoHu = allocVoxels('int16', outVox, true);
    intoHu.fill(0);
    for (const workers of [1, 2])
      tasks.push({
        name: `int16 -> int16 trilinear to 1 mm, ${workers} worker${workers > 1 ? 's' : ''}, reused output`,
        fn: async () => { await resample(hu, { spacing: 1, workers, outType: 'int16', into: intoHu }); },
      });
  }
  const samples = await interleaved(tasks, options.rounds ?? (options.quick ? 2 : 4));
  const rows = tasks.map((t) => toRow(t.name, samples.get(t.name)!, { outVox, bytes, baselines }));
  const byName = (s: string): BenchRow | undefined => rows.find((r) => r.name === s);
  for (const [prefix, reuse] of [['', ''], ['', ', reused output'], ['int16 -> int16 ', ', reused output']]) {
    const one = byName(`${prefix}trilinear to 1 mm, 1 worker${reuse}`), two = byName(`${prefix}trilinear to 1 mm, 2 workers${reuse}`);
    if (one && two) two.note = `1 -> 2 workers speed-up ${(one.medianMs / two.medianMs).toFixed(2)}x`;
  }
  return rows;
}

/** Looked up at call time: `ctscope bench` exposes gc after this module is loaded. */
const gc = (): (() => void) | undefined => (globalThis as { gc?: () => void }).gc;

/**
 * tinybench over all tasks, `rounds` times, 2 samples per task per round: the tasks interleave, so load
 * from other processes on a shared machine hits every configuration alike and the ratios hold.
 * Before every sample `settle` frees the previous output (untimed, needs --expose-gc), as promptly as
 * Python's refcounting frees numpy/torch outputs; without it V8 keeps dead SharedArrayBuffers and every
 * call faults in never-touched pages.
 */
async function interleaved(tasks: Array<{ name: string; fn: () => Promise<unknown> }>, rounds: number): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>(tasks.map((t) => [t.name, []]));
  for (let r = 0; r < rounds; r++) {
    // A fresh Bench per round: tinybench 6 does not run a finished Bench's tasks again (a second run()
    // returned the first round's samples unchanged, so earlier reports repeated one round `rounds` times).
    const bench = new Bench({ iterations: 2, time: 0, warmupIterations: r === 0 ? 1 : 0, warmupTime: 0, throws: true, retainSamples: true });
    for (const t of tasks) bench.add(t.name, t.fn, { beforeEach: settle });
    await bench.run();
    for (const t of bench.tasks) {
      const lat = (t.result as unknown as { latency: { samples?: ArrayLike<number> } }).latency;
      out.get(t.name)!.push(...Array.from(lat.samples ?? []));
    }
  }
  return out;
}

/**
 * Untimed, before every sample: free the previous output (main-thread GC) and give the workers a moment
 * to run their own post-task GC, which unmaps it; Python's `del r` after its timer does the same. 150 ms,
 * not 40: V8 frees array buffers on a background thread after the GC, and unmapping 200-500 MB still
 * overlapped the next sample (2-worker samples varied 40-67 ms with 40 ms, 39-54 ms with 150 ms).
 */
async function settle(): Promise<void> {
  gc()?.();
  await new Promise((r) => setTimeout(r, 150));
}

function toRow(name: string, samples: number[], o: { outVox: number; bytes: number; baselines: Baselines }): BenchRow & { samplesMs: number[] } {
  const s = [...samples].sort((a, b) => a - b);
  const mid = median(s);
  return {
    stage: 'resample',
    name,
    medianMs: mid,
    minMs: s[0]!,
    p75Ms: quantile(s, 0.75),
    maxMs: s[s.length - 1]!,
    samples: s.length,
    work: { amount: o.outVox, unit: 'vox' },
    throughput: o.outVox / 1e6 / (mid / 1000),
    throughputUnit: 'Mvox/s',
    vsMemcpy: mid / ((o.bytes / (o.baselines.memcpyGBs * 1e9)) * 1000),
    vsScalar: mid / o.baselines.scalarMs,
    peakRssMiB: Math.round(process.memoryUsage.rss() / 2 ** 20),
    samplesMs: samples,
    ...(name.includes('reused output') ? {} : { freshMemory: true }),
    ...(gc() ? {} : { note: 'run with --expose-gc for prompt frees between samples' }),
  };
}

/** Output voxels at a few fixed indices, for the cross-implementation check in native-bench. */
export async function sampleOutput(): Promise<{ dims: number[]; out: Float32Array }> {
  const r = await resample(benchVolume(), { spacing: 1, workers: 2 });
  return { dims: r.geometry.dims, out: r.data as Float32Array };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { json: { type: 'boolean', default: false }, quick: { type: 'boolean', default: false }, dump: { type: 'string' }, rounds: { type: 'string' } } });
  const baselines = await measureBaselines();
  const rows = await benchResample(baselines, { quick: values.quick, ...(values.rounds ? { rounds: Number(values.rounds) } : {}) });
  if (values.dump) {
    const { dims, out } = await sampleOutput();
    writeFileSync(values.dump, out);
    writeFileSync(`${values.dump}.json`, JSON.stringify({ dims }));
  }
  await closePool();
  const result = { machine: machineInfo(), baselines, rows };
  if (values.json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
  else {
    process.stdout.write(`memcpy ${baselines.memcpyGBs.toFixed(1)} GB/s\n${formatRows(rows)}\n`);
    for (const r of rows) if (r.note) process.stdout.write(`${r.name}: ${r.note}\n`);
  }
}

// Node resolves symbolic links in import.meta.url but not in argv[1]: compare real paths (a checkout reached through a
// link ran nothing and printed nothing).
if (process.argv[1] && existsSync(process.argv[1]) && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href) await main();
void fileURLToPath;
