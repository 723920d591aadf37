import { cellsHit, type CellMask } from '../anatomy/cells.js';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { AIR_HU, type Vec3 } from '../volume/types.js';
import { extractPatch, type ChannelTransform } from './preprocess.js';
import { eventLoopTurns, runToEnd, runWithTurns } from '../io/turns.js';
import { DenseMerger, importanceMap, ringDepthFor } from './merge.js';

/**
 * Sliding-window inference, split MONAI-style into a splitter (the patch grid), a predictor passed in as an
 * async callable, and a merger that blends overlapping predictions with an importance map. The merger keeps
 * only a slab of accumulators (patch depth along k) and writes finished slices straight to the output, so
 * stitching memory stays bounded whatever the volume size.
 */

/** Model outputs for a batch, in canonical layout [B, C, d, h, w] (spatial axes k, j, i). */
export type PatchOutputs = Record<string, { data: Float32Array; dims: number[] }>;

/** Runs the model on `count` patches packed as [count, C, pk, pj, pi] float32. */
export type Predictor = (input: Float32Array, count: number) => Promise<PatchOutputs>;

export interface WindowOptions {
  patchSize: Vec3;
  /** Fraction of a patch shared with its neighbour, 0 <= overlap < 1. */
  overlap?: number;
  blend?: 'gaussian' | 'constant';
  /** Gaussian sigma as a fraction of the patch size. */
  sigmaScale?: number;
  /** Voxels ignored at patch faces that lie inside the volume (half the receptive field makes stitching exact). */
  margin?: number;
  /** Patches per predictor call. */
  batchSize?: number;
  /**
   * Patches whose valid region holds no non-zero voxel of this mask (same grid) are skipped. A level mask
   * (voxels of `data` above `above`) is read in place: no byte-per-voxel copy of the grid; a cell mask (an
   * organ region) is looked up through its coarse cells.
   */
  mask?: PatchMask;
  /** HU for voxels outside the volume. */
  padHu?: number;
  /** Predictor calls in flight at once (more than 1 overlaps patch preparation with inference). */
  inFlight?: number;
  signal?: AbortSignal;
  /** Patches done of the total: once when the grid is known (0), then after each batch is merged. */
  onPatches?: (done: number, total: number) => void;
}

export interface FilledWindowOptions {
  patchSize: Vec3;
  overlap: number;
  blend: 'gaussian' | 'constant';
  sigmaScale: number;
  margin: number;
  batchSize: number;
  mask: PatchMask | null;
  padHu: number;
  inFlight: number;
  signal: AbortSignal | null;
  onPatches: ((done: number, total: number) => void) | null;
}

export function fillWindowOptions(o: WindowOptions): FilledWindowOptions {
  const f: FilledWindowOptions = {
    patchSize: [...o.patchSize],
    overlap: o.overlap ?? 0.25,
    blend: o.blend ?? 'gaussian',
    sigmaScale: o.sigmaScale ?? 0.125,
    margin: o.margin ?? 0,
    batchSize: o.batchSize ?? 1,
    mask: o.mask ?? null,
    padHu: o.padHu ?? AIR_HU,
    inFlight: o.inFlight ?? 3,
    signal: o.signal ?? null,
    onPatches: o.onPatches ?? null,
  };
  if (!(f.overlap >= 0 && f.overlap < 1)) throw new CtscopeError('E_USAGE', `overlap must be in [0, 1), got ${f.overlap}`);
  for (let a = 0; a < 3; a++) {
    if (!(Number.isInteger(f.patchSize[a]) && f.patchSize[a] > 0)) throw new CtscopeError('E_USAGE', `patch size must be positive integers, got ${f.patchSize.join('x')}`);
    if (2 * f.margin >= f.patchSize[a]) throw new CtscopeError('E_USAGE', `margin ${f.margin} must be less than half the patch size`);
  }
  if (!(Number.isInteger(f.batchSize) && f.batchSize > 0)) throw new CtscopeError('E_USAGE', `batch size must be a positive integer, got ${f.batchSize}`);
  return f;
}

/** One patch: where it starts, and the voxel range [lo, hi) whose predictions it contributes. */
export interface Patch {
  start: Vec3;
  validLo: Vec3;
  validHi: Vec3;
}

/** Patch starts along one axis: regular steps, the last one flush with the end; a step never skips past a margin. */
export function axisStarts(n: number, p: number, overlap: number, margin: number): number[] {
  if (n <= p) return [0];
  const step = Math.max(1, Math.min(Math.round(p * (1 - overlap)), p - 2 * margin));
  const starts: number[] = [];
  for (let s = 0; s + p < n; s += step) starts.push(s);
  starts.push(n - p);
  return starts;
}

/** The patch grid, k slowest, so finished slabs can be released while the window moves on. */
export function patchGrid(dims: Vec3, o: FilledWindowOptions): Patch[] {
  const starts = [0, 1, 2].map((a) => axisStarts(dims[a]!, o.patchSize[a]!, o.overlap, o.margin));
  const out: Patch[] = [];
  for (const sk of starts[2]!)
    for (const sj of starts[1]!)
      for (const si of starts[0]!) {
        const start: Vec3 = [si, sj, sk];
        const validLo = [0, 0, 0] as Vec3;
        const validHi = [0, 0, 0] as Vec3;
        for (let a = 0; a < 3; a++) {
          const s = start[a]!, p = o.patchSize[a]!, n = dims[a]!;
          validLo[a] = s > 0 ? s + o.margin : 0;
          validHi[a] = s + p < n ? s + p - o.margin : n;
        }
        out.push({ start, validLo, validHi });
      }
  return out;
}

/** The voxels of `data` whose value is above `above`, as a mask that costs no memory. */
export interface LevelMask {
  data: ArrayLike<number>;
  above: number;
}

function levelHits(mask: LevelMask, dims: Vec3, p: Patch): boolean {
  const [nx, ny] = dims;
  const { data, above } = mask;
  for (let z = p.validLo[2]; z < p.validHi[2]; z++)
    for (let y = p.validLo[1]; y < p.validHi[1]; y++) {
      const row = nx * (y + ny * z);
      for (let x = p.validLo[0]; x < p.validHi[0]; x++) if (data[row + x]! > above) return true;
    }
  return false;
}

export type PatchMask = Uint8Array | LevelMask | CellMask;

function maskHits(mask: PatchMask, dims: Vec3, p: Patch): boolean {
  if ('cells' in mask) return cellsHit(mask, p.validLo, p.validHi);
  if (!(mask instanceof Uint8Array)) return levelHits(mask, dims, p);
  const [nx, ny] = dims;
  for (let z = p.validLo[2]; z < p.validHi[2]; z++)
    for (let y = p.validLo[1]; y < p.validHi[1]; y++) {
      const row = nx * (y + ny * z);
      for (let x = p.validLo[0]; x < p.validHi[0]; x++) if (mask[row + x] !== 0) return true;
    }
  return false;
}

export interface PatchSource {
  data: ArrayLike<number>;
  dims: Vec3;
  transforms: ChannelTransform[];
}

export interface BatchStats {
  patches: number;
  skipped: number;
  batches: number;
  /** Host milliseconds spent extracting patches and merging results (main thread). */
  hostMs: number;
}

/** The grid without the patches the mask rules out. */
export function selectPatches(dims: Vec3, o: FilledWindowOptions): { grid: Patch[]; skipped: number } {
  return runToEnd(patchSelection(dims, o));
}

/** selectPatches as steps (one per patch checked against the mask) for runWithTurns. */
export function* patchSelection(dims: Vec3, o: FilledWindowOptions): Generator<void, { grid: Patch[]; skipped: number }> {
  const all = patchGrid(dims, o);
  const fits = !o.mask || ('cells' in o.mask ? o.mask.dims.every((d, a) => d === dims[a]) : (o.mask instanceof Uint8Array ? o.mask.length : o.mask.data.length) === dims[0] * dims[1] * dims[2]);
  if (!fits) throw new CtscopeError('E_USAGE', 'the patch mask must cover the volume voxel for voxel');
  if (!o.mask) return { grid: all, skipped: 0 };
  const grid: Patch[] = [];
  for (const p of all) {
    if (maskHits(o.mask, dims, p)) grid.push(p);
    yield;
  }
  return { grid, skipped: all.length - grid.length };
}

/**
 * Drives the grid: extracts batches, keeps up to `inFlight` predictor calls running, and hands each
 * finished batch to `consume` in grid order.
 */
export async function runPatches(
  source: PatchSource,
  o: FilledWindowOptions,
  selection: { grid: Patch[]; skipped: number },
  predict: Predictor,
  consume: (patches: Patch[], out: PatchOutputs, remaining: Patch | undefined, turn: () => Promise<void>) => void | Promise<void>,
): Promise<BatchStats> {
  const { grid, skipped } = selection;
  const stats: BatchStats = { patches: grid.length, skipped, batches: 0, hostMs: 0 };
  const [pi, pj, pk] = o.patchSize;
  const patchLen = source.transforms.length * pi * pj * pk;
  const queue: { patches: Patch[]; next: Patch | undefined; result: Promise<PatchOutputs> }[] = [];
  // Extraction and merging run on the calling thread between predictor calls: a turn of the event loop
  // between patches keeps the host responsive (a batch of them took up to 170 ms at once).
  const eventLoop = eventLoopTurns();
  let hostSince = 0;
  const turn = async (): Promise<void> => {
    stats.hostMs += performance.now() - hostSince;
    await eventLoop();
    hostSince = performance.now();
  };
  let done = 0;
  const drain = async (): Promise<void> => {
    const q = queue.shift()!;
    const out = await q.result;
    hostSince = performance.now();
    await consume(q.patches, out, q.next, turn);
    stats.hostMs += performance.now() - hostSince;
    o.onPatches?.((done += q.patches.length), grid.length);
  };
  o.onPatches?.(0, grid.length);
  for (let b = 0; b < grid.length; b += o.batchSize) {
    throwIfAborted(o.signal ?? undefined, 'inference');
    hostSince = performance.now();
    const patches = grid.slice(b, b + o.batchSize);
    const input = new Float32Array(patches.length * patchLen);
    for (let n = 0; n < patches.length; n++) {
      extractPatch(source.data, source.dims, patches[n]!.start, o.patchSize, source.transforms, o.padHu, input, n * patchLen);
      await turn();
    }
    stats.hostMs += performance.now() - hostSince;
    // An abort that arrived during those turns must not start another model run.
    throwIfAborted(o.signal ?? undefined, 'inference');
    const result = predict(input, patches.length);
    result.catch(() => undefined); // observed when drained
    queue.push({ patches, next: grid[b + o.batchSize], result });
    stats.batches++;
    if (queue.length >= o.inFlight) await drain();
  }
  while (queue.length) await drain();
  if (grid.length === 0) {
    hostSince = performance.now();
    await consume([], {}, undefined, turn);
    stats.hostMs += performance.now() - hostSince;
  }
  return stats;
}

export interface DenseWindowResult {
  /** One float32 map per requested output channel, in volume order. */
  maps: Float32Array[];
  stats: BatchStats;
}

/** Slices of a patch merged between event-loop turns (a whole patch on fresh memory took up to 55 ms). */
const MERGE_SLICES = 8;

/**
 * Sliding-window inference of a dense model: `output` names the predictor output, `channels` the channels
 * kept. Pure orchestration: the predictor may be a real session or a function.
 */
export async function slidingWindow(
  source: PatchSource,
  options: WindowOptions,
  predict: Predictor,
  output: string,
  channels: number[] = [0],
): Promise<DenseWindowResult> {
  const o = fillWindowOptions(options);
  const selection = await runWithTurns(patchSelection(source.dims, o));
  const merger = new DenseMerger(source.dims, o.patchSize, channels.length, importanceMap(o.patchSize, o.blend, o.sigmaScale), ringDepthFor(selection.grid, o.batchSize, o.patchSize[2]));
  const [pi, pj, pk] = o.patchSize;
  const stats = await runPatches(source, o, selection, predict, async (patches, out, next, turn) => {
    if (patches.length) {
      const t = out[output];
      if (!t) throw new CtscopeError('E_INFERENCE', `model output '${output}' is missing (got ${Object.keys(out).join(', ') || 'none'})`);
      const [b, c, d, h, w] = t.dims;
      if (t.dims.length !== 5 || b !== patches.length || d !== pk || h !== pj || w !== pi || channels.some((ch) => ch >= c!)) {
        throw new CtscopeError('E_INFERENCE', `model output '${output}' has shape [${t.dims.join(', ')}], expected [${patches.length}, >${Math.max(...channels)}, ${pk}, ${pj}, ${pi}]`);
      }
      // Slices before the batch's first patch are final too (the mask may have skipped the grid's first layers).
      while (merger.finalizeNext(patches[0]!.validLo[2])) await turn();
      for (let n = 0; n < patches.length; n++) {
        const p = patches[n]!;
        for (let z = p.validLo[2]; z < p.validHi[2]; z += MERGE_SLICES) {
          merger.aggregate(p, t.data, n, c!, channels, z, z + MERGE_SLICES);
          await turn();
        }
      }
    }
    // Slices before the next patch's first valid slice are final; skipped patches leave gaps that finalize as 0.
    const upTo = next ? next.validLo[2] : source.dims[2];
    while (merger.finalizeNext(upTo)) await turn();
  });
  return { maps: merger.outputs, stats };
}
