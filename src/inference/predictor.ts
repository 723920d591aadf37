import { CtscopeError } from '../errors.js';
import type { FilledManifest } from './manifest.js';
import type { ModelRunner } from './runner.js';
import type { TensorData } from './tensor.js';
import { fromFloat16, toFloat16 } from './fp16.js';
import type { PatchOutputs, Predictor } from './window.js';

/** Swaps the first and last of three spatial axes in each of `blocks` volumes: [a][b][c] -> [c][b][a]. */
export function swapOuterAxes(src: Float32Array, blocks: number, d0: number, d1: number, d2: number): Float32Array {
  const out = new Float32Array(src.length);
  const vol = d0 * d1 * d2;
  for (let b = 0; b < blocks; b++) {
    const base = b * vol;
    for (let x = 0; x < d0; x++)
      for (let y = 0; y < d1; y++) {
        let s = base + (x * d1 + y) * d2;
        for (let z = 0; z < d2; z++, s++) out[base + (z * d1 + y) * d0 + x] = src[s]!;
      }
  }
  return out;
}

/** Flips each [d, h, w] block of a [N, C, d, h, w] array along spatial axis `axis` (0 = k, 1 = j, 2 = i), in place. */
export function flipSpatial(a: Float32Array, blocks: number, dims: [number, number, number], axis: 0 | 1 | 2): void {
  const [d, h, w] = dims;
  const vol = d * h * w;
  for (let b = 0; b < blocks; b++) {
    const base = b * vol;
    for (let z = 0; z < d; z++)
      for (let y = 0; y < h; y++)
        for (let x = 0; x < w; x++) {
          const [z2, y2, x2] = axis === 0 ? [d - 1 - z, y, x] : axis === 1 ? [z, h - 1 - y, x] : [z, y, w - 1 - x];
          const s = base + (z * h + y) * w + x, t = base + (z2 * h + y2) * w + x2;
          if (s < t) {
            const tmp = a[s]!;
            a[s] = a[t]!;
            a[t] = tmp;
          }
        }
  }
}

type ActivationFn = (t: { data: Float32Array; dims: number[] }) => void;

/** @internal Exported for tests. */
export const ACTIVATIONS: Record<FilledManifest['output']['activation'], ActivationFn> = {
  none: () => undefined,
  sigmoid: (t) => {
    for (let v = 0; v < t.data.length; v++) t.data[v] = 1 / (1 + Math.exp(-t.data[v]!));
  },
  softmax: (t) => {
    const [n, c, ...sp] = t.dims;
    const vol = sp.reduce((a, b) => a * b, 1);
    for (let b = 0; b < n!; b++)
      for (let v = 0; v < vol; v++) {
        let max = -Infinity, sum = 0;
        for (let ch = 0; ch < c!; ch++) max = Math.max(max, t.data[(b * c! + ch) * vol + v]!);
        // A logit that overflowed to +Inf (float16) takes all the probability: Inf - Inf would be NaN.
        const top = max === Infinity;
        for (let ch = 0; ch < c!; ch++) {
          const x = t.data[(b * c! + ch) * vol + v]!;
          sum += t.data[(b * c! + ch) * vol + v] = top ? (x === Infinity ? 1 : 0) : Math.exp(x - max);
        }
        for (let ch = 0; ch < c!; ch++) t.data[(b * c! + ch) * vol + v]! /= sum;
      }
  },
};

/**
 * A score that is NaN or +Infinity is a model (or provider) failure, not a finding: NaN compares false and was
 * dropped silently, and an infinite score was written as a null score. -Infinity (a masked region, a log
 * probability of 0) can never pass a threshold and is left as it is.
 */
function checkFinite(data: Float32Array, model: string): void {
  for (let v = 0; v < data.length; v++) {
    const x = data[v]!;
    if (x !== x || x === Infinity) throw new CtscopeError('E_INFERENCE', `model '${model}' gave a ${x !== x ? 'NaN' : 'infinite'} score: its output is not usable (a broken model, or a provider that computes it wrongly)`);
  }
}

/** Outputs the activation applies to: the dense output, or a box model's scores. */
function activatedOutput(m: FilledManifest, dense: string): string {
  return m.output.kind === 'boxes' ? m.output.boxes!.scores : dense;
}

/**
 * Wraps a session runner as a window predictor: canonical float32 [B, C, k, j, i] in and out; does the
 * manifest's layout transpose, float16 conversion, fixed-batch padding, flip test-time augmentation
 * and output activation.
 */
export function sessionPredictor(runner: ModelRunner, m: FilledManifest, denseOutput: string, tta: 'none' | 'flip', signal?: AbortSignal): Predictor {
  const inputName = m.input.name || runner.inputs[0]!.name;
  const [pi, pj, pk] = m.input.patchSize;
  const channels = m.input.channels.length;
  const patchLen = channels * pi * pj * pk;
  const batch = m.input.batch.size;
  const ncwhd = m.input.layout === 'NCWHD';

  const runChunk = async (input: Float32Array, count: number): Promise<PatchOutputs> => {
    const n = m.input.batch.fixed ? batch : count;
    let data = input;
    if (n > count) {
      data = new Float32Array(n * patchLen);
      data.set(input);
    }
    if (ncwhd) data = swapOuterAxes(data, n * channels, pk, pj, pi);
    const dims = ncwhd ? [n, channels, pi, pj, pk] : [n, channels, pk, pj, pi];
    const feed: TensorData = m.input.dtype === 'float16' ? { type: 'float16', data: toFloat16(data), dims } : { type: 'float32', data, dims };
    const { outputs } = await runner.run({ [inputName]: feed }, signal);
    const out: PatchOutputs = {};
    for (const [name, t] of Object.entries(outputs)) {
      let f = t.type === 'float16' ? fromFloat16(t.data as Uint16Array) : (t.data as Float32Array);
      let tdims = [...t.dims];
      if (tdims.length === 5 && ncwhd) {
        f = swapOuterAxes(f, tdims[0]! * tdims[1]!, tdims[2]!, tdims[3]!, tdims[4]!);
        tdims = [tdims[0]!, tdims[1]!, tdims[4]!, tdims[3]!, tdims[2]!];
      }
      if (n > count) {
        const per = f.length / n;
        f = f.slice(0, per * count);
        tdims[0] = count;
      }
      out[name] = { data: f, dims: tdims };
    }
    const act = out[activatedOutput(m, denseOutput)];
    if (act) {
      ACTIVATIONS[m.output.activation](act);
      checkFinite(act.data, m.id);
    }
    return out;
  };

  /** Runs `count` patches in session-sized chunks and concatenates the outputs along the batch axis. */
  const runAll = async (input: Float32Array, count: number): Promise<PatchOutputs> => {
    if (count <= batch) return runChunk(input, count);
    // All chunks are queued at once: the worker runs them back to back, without a round trip between.
    const pending: Promise<PatchOutputs>[] = [];
    for (let b = 0; b < count; b += batch) {
      const c = Math.min(batch, count - b);
      pending.push(runChunk(input.slice(b * patchLen, (b + c) * patchLen), c));
    }
    const parts = await Promise.all(pending);
    const out: PatchOutputs = {};
    for (const name of Object.keys(parts[0]!)) {
      const total = parts.reduce((s, p) => s + p[name]!.data.length, 0);
      const data = new Float32Array(total);
      let o = 0;
      for (const p of parts) {
        data.set(p[name]!.data, o);
        o += p[name]!.data.length;
      }
      out[name] = { data, dims: [count, ...parts[0]![name]!.dims.slice(1)] };
    }
    return out;
  };

  if (tta === 'none') return runAll;
  if (m.output.kind === 'boxes') throw new CtscopeError('E_USAGE', 'flip test-time augmentation applies to heatmap and segmentation outputs, not boxes');
  const axes: (0 | 1 | 2)[] = [0, 1, 2];
  return async (input, count) => {
    // The original plus one flip per axis, run together, un-flipped and averaged.
    const all = new Float32Array(input.length * 4);
    all.set(input);
    axes.forEach((ax, n) => {
      const copy = input.slice();
      flipSpatial(copy, count * channels, [pk, pj, pi], ax);
      all.set(copy, (n + 1) * input.length);
    });
    const out = await runAll(all, count * 4);
    const res: PatchOutputs = {};
    for (const [name, t] of Object.entries(out)) {
      const per = t.data.length / 4;
      const [, c, d, h, w] = t.dims as [number, number, number, number, number];
      const sum = t.data.slice(0, per);
      axes.forEach((ax, n) => {
        const part = t.data.slice((n + 1) * per, (n + 2) * per);
        flipSpatial(part, count * c, [d, h, w], ax);
        for (let v = 0; v < per; v++) sum[v] += part[v]!;
      });
      for (let v = 0; v < per; v++) sum[v] /= 4;
      res[name] = { data: sum, dims: [count, c, d, h, w] };
    }
    return res;
  };
}
