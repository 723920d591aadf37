/** Volume transforms: resampling, restacking (tilt, uneven slices), reorientation, preprocessing. */
import type { CtVolume, Vec3, Volume } from '../volume/types.js';
import type { InterpName } from './kernels.js';
import { resample, spacingGrid } from './resample.js';
import { correctTilt, makeUniform } from './restack.js';
import { orientationPlan, reorient, reorientOwned, type Orientation } from './reorient.js';
import { toSpacing } from './options.js';
import type { RunOptions } from './run.js';
import type { VoxelType } from './plan.js';
import { VOXEL_CTORS, voxelTypeOf } from './arrays.js';
import { DEFAULT_LAYOUT } from '../series/layout.js';

export { KERNELS, INTERP_NAMES, isInterpName, type InterpName } from './kernels.js';
export { resample, spacingGrid } from './resample.js';
export { toSpacing, DEFAULT_FILL, type ResampleOptions } from './options.js';
export { correctTilt, makeUniform, restackGrid, type RestackOptions } from './restack.js';
export { reorient, orientationPlan, isOrientation, type Orientation } from './reorient.js';
export { resampleToGeometry, type ToGeometryOptions } from './to-geometry.js';
export { cropOrPad, clipScale, applyWindow, zscore, type Box, type ClipScaleOptions, type ZScoreOptions } from './preprocess.js';
export type { RunOptions } from './run.js';
export type { VoxelType } from './plan.js';

export interface OutputTransform extends RunOptions {
  /** Target spacing (mm): S or [sx, sy, sz] along the output axes (after reorientation). */
  spacing?: number | Vec3;
  interp?: InterpName;
  orient?: Orientation;
  /**
   * Restack a tilted series onto an orthogonal grid (dcm2niix does this by default, writing `_Tilt`).
   * Default true when the volume reports a tilt. Uneven slices are always made equidistant first,
   * because a voxel grid cannot hold them.
   */
  correctTilt?: boolean;
  /** Output voxel type; default the input's (int16 HU stays int16, rounded, as dcm2niix writes it). */
  outType?: VoxelType;
}

/** A tilt is restacked from where it is reported (`gantry-tilt`): a restack that changes voxels always says why. */
const TILT_EPS_DEG = DEFAULT_LAYOUT.tiltReportDeg;

/**
 * What `ctscope convert` applies before writing: tilt/uneven restack, then reorientation (exact), then
 * resampling to the requested spacing. Returns the input untouched when nothing is asked or needed.
 */
export async function transformForOutput(volume: Volume | CtVolume, o: OutputTransform = {}): Promise<Volume> {
  let v: Volume = volume;
  const ct = volume as Partial<CtVolume>;
  const tilted = Math.abs(ct.tiltDeg ?? 0) >= TILT_EPS_DEG;
  const run: RunOptions = { ...(o.workers !== undefined ? { workers: o.workers } : {}), ...(o.signal ? { signal: o.signal } : {}), ...(o.maxVoxels !== undefined ? { maxVoxels: o.maxVoxels } : {}) };
  // A side limit is the written file's: only the grid that is written must meet it, not a restack on the way.
  const last: RunOptions = { ...run, ...(o.maxDim !== undefined ? { maxDim: o.maxDim } : {}) };
  const restackInterp = o.interp === 'nearest' ? 'nearest' : 'linear';
  const inType = voxelTypeOf(volume.data);
  const outType: VoxelType = o.outType ?? (inType === 'uint8' && o.interp !== 'nearest' ? 'float32' : inType);
  // With a spacing to follow, the restack keeps float32 so values are rounded only once, at the end.
  const restackType: VoxelType = o.spacing !== undefined ? 'float32' : outType;
  if (tilted && (o.correctTilt ?? true)) v = await correctTilt(v, { ...run, interp: restackInterp, outType: restackType });
  else if (ct.slices?.uneven) v = await makeUniform(v, { ...run, interp: restackInterp, outType: restackType });
  const interp = o.interp ?? 'linear';
  const turn = o.orient ? orientationPlan(v.geometry, o.orient).plan : undefined;
  // A volume already in the target orientation would only be copied.
  const orient = turn && turn.perm.some((c, a) => c !== a || turn.flip[a]) ? o.orient : undefined;
  if (orient && turn && o.spacing !== undefined) {
    // Reorienting copies the whole volume. When the resampled grid is smaller (a model grid, usually), resample
    // on the source axes first and reorient only that grid: the same samples, without a full-size copy.
    const target = toSpacing(o.spacing);
    const onSource = [0, 0, 0] as Vec3;
    for (let a = 0; a < 3; a++) onSource[turn.perm[a]!] = target[a]!;
    const [mx, my, mz] = spacingGrid(v.geometry, onSource).geometry.dims;
    if (mx * my * mz * VOXEL_CTORS[outType].BYTES_PER_ELEMENT < v.data.byteLength) {
      const small = await resample(v, { ...last, spacing: onSource, interp, outType });
      return reorientOwned(small, orient, run);
    }
  }
  if (orient) v = await reorient(v, orient, run);
  if (o.spacing !== undefined) v = await resample(v, { ...last, spacing: o.spacing, interp, outType });
  return v;
}
