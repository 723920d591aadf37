/**
 * One memory measurement in a fresh process, so RSS holds nothing from earlier work. Runs the operation once
 * on a tiny warm-up series first (worker threads, codecs, the model session: the fixed overhead), then once
 * on the target series while sampling RSS; VmHWM from /proc gives the exact peak. Prints one JSON line.
 *   usage: node --expose-gc dist/bench/memory-child.js load|detect WARM_DIR DIR [EP [DEVICE]]
 */
import { readFileSync } from 'node:fs';
import { loadSeries } from '../ingest/load.js';
import { parseEpRequest, type EpRequest } from '../inference/providers.js';
import { closeRunners } from '../inference/runner.js';
import { detect } from '../pipeline/detect.js';
import { closePool } from '../workers/pool.js';

export interface MemoryProbe {
  mode: 'load' | 'detect';
  dims: [number, number, number];
  /** Bytes per voxel of the loaded volume (2 for int16 HU). */
  bytesPerVoxel: number;
  /** Voxels of the model's grid (detect only; 0 for load). */
  gridVoxels: number;
  /** RSS after the imports, before any work. */
  importRss: number;
  /** RSS after the warm-up run and a GC: the fixed overhead the measured run starts from. */
  fixedRss: number;
  /** Largest RSS sampled every 2 ms during the measured run. */
  sampledPeakRss: number;
  /** VmHWM (exact high-water mark of the process); null where /proc is missing. */
  hwmRss: number | null;
  /** Largest RSS seen while each stage ran (scan, index, decode; detect adds resample, infer...). */
  stagePeakRss: Record<string, number>;
  ms: number;
}

type Mode = MemoryProbe['mode'];

const gc = (): void => (globalThis as { gc?: () => void }).gc?.();

function vmHwm(): number | null {
  try {
    const m = /^VmHWM:\s+(\d+)\s+kB/m.exec(readFileSync('/proc/self/status', 'utf8'));
    return m ? Number(m[1]) * 1024 : null;
  } catch {
    return null;
  }
}

/** The operation measured, with a hook called as each pipeline stage begins. */
type Operation = (dir: string, onStage: (stage: string) => void, ep: { ep: EpRequest; deviceId: number }) => Promise<{ dims: [number, number, number]; bytesPerVoxel: number; gridVoxels: number }>;

const OPERATIONS: Record<Mode, Operation> = {
  load: async (dir, onStage) => {
    const v = await loadSeries(dir, { onProgress: (p) => onStage(p.stage) });
    return { dims: [...v.geometry.dims], bytesPerVoxel: v.data.BYTES_PER_ELEMENT, gridVoxels: 0 };
  },
  detect: async (dir, onStage, ep) => {
    // No outDir: the outputs (key images, SR) are not part of the volume's memory story.
    const { document } = await detect(dir, { models: ['nodule'], ...ep, onProgress: (p) => onStage(p.stage) });
    const grid = document.models[0]!.dims;
    return { dims: [...document.series.dims], bytesPerVoxel: 2, gridVoxels: grid[0] * grid[1] * grid[2] };
  },
};

async function main(): Promise<void> {
  const [mode, warmDir, dir, epName, device] = process.argv.slice(2) as [Mode, string, string, string?, string?];
  const op = OPERATIONS[mode];
  if (!op || !warmDir || !dir) {
    process.stderr.write('usage: memory-child load|detect WARM_DIR DIR [EP [DEVICE]]\n');
    process.exit(2);
  }
  const ep = { ep: parseEpRequest(epName ?? 'cpu'), deviceId: Number(device ?? 0) };
  gc();
  const importRss = process.memoryUsage.rss();
  await op(warmDir, () => undefined, ep);
  gc();
  const fixedRss = process.memoryUsage.rss();

  let peak = fixedRss;
  let stage = 'start';
  const stagePeakRss: Record<string, number> = {};
  const sample = (): void => {
    const rss = process.memoryUsage.rss();
    peak = Math.max(peak, rss);
    stagePeakRss[stage] = Math.max(stagePeakRss[stage] ?? 0, rss);
  };
  const timer = setInterval(sample, 2);
  const t0 = performance.now();
  const r = await op(
    dir,
    (s) => {
      sample();
      stage = s;
      sample();
    },
    ep,
  );
  const ms = performance.now() - t0;
  clearInterval(timer);
  sample();
  const probe: MemoryProbe = { mode, dims: r.dims, bytesPerVoxel: r.bytesPerVoxel, gridVoxels: r.gridVoxels, importRss, fixedRss, sampledPeakRss: peak, hwmRss: vmHwm(), stagePeakRss, ms };
  process.stdout.write(JSON.stringify(probe) + '\n');
  await closeRunners();
  await closePool();
}

await main();
