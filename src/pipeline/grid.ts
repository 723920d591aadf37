import { CtscopeError, isCtscopeError, toCtscopeError } from '../errors.js';
import type { ModelPackage } from '../inference/model.js';
import { transformForOutput } from '../resample/index.js';
import { isOrientation } from '../resample/reorient.js';
import type { CtVolume, Volume } from '../volume/types.js';

/**
 * The series on a model's grid: reoriented as its manifest asks and linearly resampled to its spacing, as int16
 * HU. int16 rather than float32 halves the grid that lives through the whole sliding window; rounding to whole
 * HU moves a model's input by at most 0.5 HU (under 4e-4 of the nodule model's 1400 HU window). detect, eval and
 * the benchmarks all make their grids here, so they feed the models the same values. `maxVoxels` (default 2^30, as
 * for the series) caps the grid too: a small series of coarse voxels can make a huge grid at a model's 1 mm.
 */
export async function modelGrid(volume: CtVolume | Volume, pkg: ModelPackage, run: { workers?: number | undefined; signal?: AbortSignal | undefined; maxVoxels?: number | undefined } = {}): Promise<Volume> {
  const m = pkg.manifest;
  try {
    return await transformForOutput(volume, {
      spacing: m.input.spacing,
      ...(isOrientation(m.input.orientation) ? { orient: m.input.orientation } : {}),
      interp: 'linear',
      outType: 'int16',
      ...(run.maxVoxels !== undefined ? { maxVoxels: run.maxVoxels } : {}),
      ...(run.workers !== undefined ? { workers: run.workers } : {}),
      ...(run.signal ? { signal: run.signal } : {}),
    });
  } catch (e) {
    if (isCtscopeError(e) && e.code === 'E_TOO_LARGE') throw new CtscopeError('E_TOO_LARGE', `model '${m.id}' at ${m.input.spacing.join(' x ')} mm: ${e.message}`, { cause: e });
    throw toCtscopeError(e, 'E_INTERNAL', `resampling for model '${m.id}' failed`, 'resample');
  }
}
