import { applyWindow, clipScale, zscore } from '../resample/preprocess.js';
import type { StageContext } from './context.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';
import { BENCH_DIMS, benchVolume } from './resample.js';

/**
 * Model input preparation on the resample benchmark's float32 volume (512 x 512 x 300, or 100 slices in
 * --quick): HU clip and scale to [0, 1], a display window, and z-score (two passes: statistics, then map),
 * on the shared pool.
 */
export async function benchPreprocess(ctx: StageContext): Promise<BenchRow[]> {
  const vol = benchVolume(ctx.quick ? 100 : BENCH_DIMS[2]);
  const vox = vol.data.length;
  const io = vol.data.byteLength * 2;
  const tasks: TaskSpec[] = [
    { name: 'clip -1000..400 and scale to 0..1', fn: () => clipScale(vol, { min: -1000, max: 400 }), work: { amount: vox, unit: 'vox' }, bytes: io, freshMemory: true },
    { name: 'window 40/400', fn: () => applyWindow(vol, 40, 400), work: { amount: vox, unit: 'vox' }, bytes: io, freshMemory: true },
    // Statistics read the volume once more than a map does.
    { name: 'z-score above -500 HU', fn: () => zscore(vol, { above: -500 }), work: { amount: vox, unit: 'vox' }, bytes: io + vol.data.byteLength, freshMemory: true },
  ];
  if (ctx.quick) tasks.splice(1, 1);
  return measure('preprocess', tasks, ctx.baselines, { iterations: ctx.quick ? 3 : 5 });
}
