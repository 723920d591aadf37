import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { StageContext } from './context.js';
import { runChild, type BenchRow } from './harness.js';
import type { MemoryProbe } from './memory-child.js';

/**
 * Peak memory of loading and of detecting (bundled nodule model), each measured in a fresh child process on
 * generated 512 x 512 int16 chest series. The figure of merit is the growth over the fixed overhead (RSS after
 * a warm-up run on a tiny series: runtime, worker threads, model session) divided by the volume's int16 bytes.
 */

/** Growth allowed per volume byte (issue #7): peak - fixed overhead <= 1.5 x the volume's bytes. */
export const MEMORY_TARGET = 1.5;

/**
 * Growth allowed on top, whatever the volume: what the warm-up cannot hold, mostly file buffers awaiting GC
 * (V8 collects them once tens of MiB have piled up) and the index. Measured: 35-45 MiB for a load.
 */
export const FIXED_ALLOWANCE_BYTES = 48 * 2 ** 20;

/**
 * What detect may add per voxel of the model's grid: the grid itself (int16 HU) and the float32 heatmap the
 * sliding window blends into. These scale with the model's spacing, not the series': a model on a finer grid
 * than the series (the nodule model's 1 mm on 0.7 x 0.7 x 1.25 mm CT) needs more than the volume's bytes.
 */
export const GRID_BYTES_PER_VOXEL = 6;

/** The growth allowed: 1.5 x the volume's int16 bytes, plus the model grid's bytes (detect), plus the allowance. */
export function memoryBudget(r: Pick<MemoryResult, 'volumeBytes' | 'probe'>): number {
  return MEMORY_TARGET * r.volumeBytes + GRID_BYTES_PER_VOXEL * r.probe.gridVoxels + FIXED_ALLOWANCE_BYTES;
}

const MODES = ['load', 'detect'] as const;
const MiB = 2 ** 20;

export interface SeriesSpec {
  slices: number;
  rows: number;
  cols: number;
}

/** The warm-up series: big enough for full model batches, so the session's arena is part of the fixed overhead. */
export const WARM_SERIES: SeriesSpec = { slices: 64, rows: 160, cols: 160 };

export interface MemoryResult {
  mode: (typeof MODES)[number];
  volumeBytes: number;
  importRss: number;
  fixedRss: number;
  peakRss: number;
  /** (peak - fixed) / volume bytes. */
  ratio: number;
  probe: MemoryProbe;
}

const root = fileURLToPath(new URL('../../', import.meta.url));

/** The compiled child entry (under vitest the sources are .ts, so the build in dist/). */
export function memoryChildPath(): string {
  return join(root, 'dist', 'bench', 'memory-child.js');
}

/** Makes (once) a synthetic chest series like the ingest benchmark's; `.done` marks a complete one. */
export async function ensureSeries(dir: string, s: SeriesSpec): Promise<string> {
  if (existsSync(join(dir, '.done'))) return dir;
  await runChild(
    process.execPath,
    [join(root, 'dist', 'cli.js'), 'synth', 'chest', '--out', dir, '--force', '--seed', '7', '--slices', String(s.slices), '--rows', String(s.rows), '--cols', String(s.cols),
      '--spacing', '0.703,0.703,1.25', '--bits', '16', '--pixels', 'signed', '--no-truth'],
    { what: 'making the memory benchmark series', stdout: 'ignore' },
  );
  writeFileSync(join(dir, '.done'), '');
  return dir;
}

export interface MeasureOptions {
  /** Provider of the detect runs (default cpu) and its GPU index. */
  ep?: StageContext['ep'];
  deviceId?: number;
  /** Variables added to the child's environment (e.g. CTSCOPE_THREADS). */
  env?: Record<string, string>;
}

/** Runs one measurement in a fresh process and reads its JSON line. */
export async function measureMemory(mode: MemoryResult['mode'], warmDir: string, dir: string, o: MeasureOptions = {}): Promise<MemoryResult> {
  const args = ['--expose-gc', memoryChildPath(), mode, warmDir, dir, o.ep ?? 'cpu', String(o.deviceId ?? 0)];
  const out = await runChild(process.execPath, args, { what: `the memory probe (${mode})`, stdout: 'pipe', env: { ...process.env, ...o.env } });
  const probe = JSON.parse(out.trim().split('\n').pop()!) as MemoryProbe;
  const volumeBytes = probe.dims[0] * probe.dims[1] * probe.dims[2] * 2;
  const peakRss = Math.max(probe.hwmRss ?? 0, probe.sampledPeakRss);
  return { mode, volumeBytes, importRss: probe.importRss, fixedRss: probe.fixedRss, peakRss, ratio: (peakRss - probe.fixedRss) / volumeBytes, probe };
}

/** The series the ingest benchmark already made, when it has the wanted slice count (same generator options). */
function reusable(dataDir: string, slices: number): string | undefined {
  const ele = join(dataDir, 'ele');
  if (!existsSync(join(ele, '.done'))) return undefined;
  return readdirSync(ele).filter((f) => f.endsWith('.dcm')).length === slices ? ele : undefined;
}

export async function benchMemory(options: Pick<StageContext, 'dataDir' | 'quick' | 'ep' | 'deviceId'>): Promise<BenchRow[]> {
  const counts = options.quick ? [100] : [300, 1000];
  const warm = await ensureSeries(join(options.dataDir, 'mem-warm'), WARM_SERIES);
  const rows: BenchRow[] = [];
  for (const mode of MODES) {
    const results: MemoryResult[] = [];
    for (const slices of counts) {
      const dir = reusable(options.dataDir, slices) ?? (await ensureSeries(join(options.dataDir, `mem-${slices}`), { slices, rows: 512, cols: 512 }));
      const r = await measureMemory(mode, warm, dir, { ep: options.ep, deviceId: options.deviceId });
      results.push(r);
      rows.push(toRow(r, results.length > 1 ? results[0] : undefined));
    }
  }
  return rows;
}

function toRow(r: MemoryResult, smaller: MemoryResult | undefined): BenchRow {
  const ms = r.probe.ms;
  const mib = (b: number): number => Math.round((b / MiB) * 10) / 10;
  // Between two sizes the fixed overhead cancels: the growth per extra volume byte.
  const marginal = smaller ? (r.peakRss - r.fixedRss - (smaller.peakRss - smaller.fixedRss)) / (r.volumeBytes - smaller.volumeBytes) : undefined;
  const verdict = r.peakRss - r.fixedRss <= memoryBudget(r) ? 'ok' : 'OVER';
  return {
    stage: 'memory',
    name: `${r.mode} ${r.probe.dims.join('x')}`,
    medianMs: ms,
    minMs: ms,
    p75Ms: ms,
    maxMs: ms,
    samples: 1,
    peakRssMiB: Math.round(r.peakRss / MiB),
    memory: {
      volumeMiB: mib(r.volumeBytes),
      importMiB: mib(r.importRss),
      fixedMiB: mib(r.fixedRss),
      peakMiB: mib(r.peakRss),
      ratio: Math.round(r.ratio * 100) / 100,
      ...(marginal !== undefined ? { marginal: Math.round(marginal * 100) / 100 } : {}),
      target: MEMORY_TARGET,
      stagePeakMiB: Object.fromEntries(Object.entries(r.probe.stagePeakRss).map(([k, v]) => [k, mib(v)])),
    },
    note: `vol ${mib(r.volumeBytes)} MiB, fixed ${mib(r.fixedRss)} MiB: growth ${r.ratio.toFixed(2)}x vol (${verdict}: target ${MEMORY_TARGET}x vol${r.probe.gridVoxels ? ` + ${GRID_BYTES_PER_VOXEL} B x ${(r.probe.gridVoxels / 1e6).toFixed(1)} M grid voxels` : ''} + ${FIXED_ALLOWANCE_BYTES / MiB} MiB)${marginal !== undefined ? `, ${marginal.toFixed(2)}x per extra vol byte` : ''}`,
  };
}
