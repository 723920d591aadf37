import type { ModelOutput } from '../inference/infer.js';
import { runModel } from '../inference/infer.js';
import { loadModel, type ModelPackage } from '../inference/model.js';
import { getRunner, type ModelRunner } from '../inference/runner.js';
import { loadSeries, type LoadedSeries } from '../ingest/load.js';
import { modelGrid } from '../pipeline/grid.js';
import type { SynthKind } from '../synth/options.js';
import type { Volume } from '../volume/types.js';
import type { StageContext } from './context.js';
import { ensurePhantom } from './data.js';

/** Bundled model -> the phantom it is measured on. */
export const MODEL_CASES: ReadonlyArray<{ model: string; phantom: SynthKind }> = [
  { model: 'nodule', phantom: 'chest' },
  { model: 'aneurysm', phantom: 'cta' },
];

/** The quick (CI) subset runs the first model only. */
export function modelCases(ctx: Pick<StageContext, 'quick'>): ReadonlyArray<{ model: string; phantom: SynthKind }> {
  return ctx.quick ? MODEL_CASES.slice(0, 1) : MODEL_CASES;
}

/** A model with its phantom loaded and resampled to the model's grid, and its session on the run's provider. */
export interface ModelCase {
  model: string;
  phantom: SynthKind;
  phantomDir: string;
  pkg: ModelPackage;
  series: LoadedSeries;
  /** The phantom on the model's grid (what detect feeds the sliding window). */
  grid: Volume;
  runner: ModelRunner;
  /** One output of the model on the grid, for the decoding stage. */
  output: () => Promise<ModelOutput>;
}

const cases = new Map<string, Promise<ModelCase>>();

/** Prepared once per process and shared by the infer, postprocess and report stages. */
export function modelCase(ctx: StageContext, c: { model: string; phantom: SynthKind }): Promise<ModelCase> {
  const key = `${ctx.dataDir}|${c.model}|${ctx.ep}|${ctx.deviceId}`;
  let p = cases.get(key);
  if (!p) {
    p = prepare(ctx, c);
    cases.set(key, p);
    p.catch(() => cases.delete(key));
  }
  return p;
}

async function prepare(ctx: StageContext, c: { model: string; phantom: SynthKind }): Promise<ModelCase> {
  const pkg = loadModel(c.model);
  const runner = await getRunner(pkg, { ep: ctx.ep, deviceId: ctx.deviceId });
  const phantomDir = await ensurePhantom(ctx, c.phantom);
  const series = await loadSeries(phantomDir);
  // The same transform detect applies before the sliding window.
  const grid = await modelGrid(series, pkg);
  let output: Promise<ModelOutput> | undefined;
  return {
    ...c,
    phantomDir,
    pkg,
    series,
    grid,
    runner,
    output: () => (output ??= runModel(grid, pkg, { runner, mask: 'body' })),
  };
}

/** Mvox of a volume's grid, for row notes. */
export function dimsText(v: Volume): string {
  return v.geometry.dims.join('x');
}
