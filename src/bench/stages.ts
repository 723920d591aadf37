import type { StageContext } from './context.js';
import { ensureIngestData } from './data.js';
import { benchDecode } from './decode.js';
import { benchDetect } from './detect.js';
import type { BenchRow } from './harness.js';
import { benchInfer } from './infer.js';
import { benchIngest } from './ingest.js';
import { benchMemory } from './memory.js';
import { benchParse } from './parse.js';
import { benchPostprocess } from './postprocess.js';
import { benchPreprocess } from './preprocess.js';
import { benchRead } from './read.js';
import { benchReport } from './report.js';
import { benchResample } from './resample.js';

export type { StageContext } from './context.js';

/** Stage name -> suite, in pipeline order (the order a run without --stage follows). Each suite prepares its own inputs. */
export const STAGES: Record<string, (ctx: StageContext) => Promise<BenchRow[]>> = {
  read: benchRead,
  parse: benchParse,
  decode: benchDecode,
  ingest: async (ctx) => {
    await ensureIngestData(ctx);
    return benchIngest(ctx.baselines, { dataDir: ctx.dataDir, quick: ctx.quick });
  },
  resample: (ctx) => benchResample(ctx.baselines, { quick: ctx.quick }),
  preprocess: benchPreprocess,
  infer: benchInfer,
  postprocess: benchPostprocess,
  report: benchReport,
  detect: benchDetect,
  memory: benchMemory,
};

/** Stages that run a model, so `--ep` picks their provider. */
export const MODEL_STAGES: readonly string[] = ['infer', 'postprocess', 'report', 'detect'];
