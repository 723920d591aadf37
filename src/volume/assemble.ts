import { decodeSlicesInto, type SliceSource } from '../dicom/decode-series.js';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { definedOnly } from '../io/fill.js';
import type { SeriesEntry } from '../series/types.js';
import type { CtVolume } from './types.js';

export interface AssembleOptions {
  signal?: AbortSignal | undefined;
  /** Decode worker threads (default: the shared pool's size). */
  threads?: number | undefined;
  /** HU written where PixelPaddingValue marks no data (default: the decoder's, air). */
  paddingHu?: number | undefined;
  /** Largest volume accepted, in voxels; larger is E_TOO_LARGE before anything is allocated. */
  maxVoxels?: number | undefined;
  /** Called as slices are decoded. */
  onProgress?: ((done: number, total: number) => void) | undefined;
  /** Bytes of in-memory instances, by source name; sources not found here are read from disk. */
  bytesFor?: ((source: string) => Uint8Array | undefined) | undefined;
}

export interface FilledAssembleOptions {
  signal: AbortSignal | undefined;
  threads: number | undefined;
  paddingHu: number | undefined;
  maxVoxels: number;
  onProgress: ((done: number, total: number) => void) | undefined;
  bytesFor: (source: string) => Uint8Array | undefined;
}

/** 2^30 voxels: 2 GiB as int16 (e.g. 512 x 512 x 4096), 4 GiB as float32. */
export const DEFAULT_MAX_VOXELS = 2 ** 30;

export const DEFAULT_ASSEMBLE: FilledAssembleOptions = {
  signal: undefined,
  threads: undefined,
  paddingHu: undefined,
  maxVoxels: DEFAULT_MAX_VOXELS,
  onProgress: undefined,
  bytesFor: () => undefined,
};

/**
 * Decodes a series into one CT volume in HU. The voxel buffer is a single SharedArrayBuffer of the final
 * size, allocated once and filled in place by the decode workers (each reads its own files), so peak
 * memory stays near the volume's size. int16 when every slope and intercept is an integer, float32
 * otherwise. The geometry is the series layout (see series/layout.ts).
 */
export async function assembleVolume(series: SeriesEntry, options: AssembleOptions = {}): Promise<CtVolume> {
  const o: FilledAssembleOptions = { ...DEFAULT_ASSEMBLE, ...definedOnly(options) };
  const layout = series.layout;
  if (!layout) throw new CtscopeError('E_GEOMETRY', `series ${series.id}: ${series.layoutError ?? 'no slice geometry'}`);
  if (series.samplesPerPixel !== 1 || !series.photometricInterpretation.startsWith('MONOCHROME'))
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `series ${series.id} is a colour image (${series.photometricInterpretation}), not a CT volume`);
  throwIfAborted(o.signal, 'volume assembly');

  const [nx, ny, nz] = layout.geometry.dims;
  const sliceVoxels = nx * ny;
  const voxels = sliceVoxels * nz;
  if (!(voxels > 0)) throw new CtscopeError('E_GEOMETRY', `series ${series.id} has an empty image matrix (${nx} x ${ny} x ${nz})`);
  if (voxels > o.maxVoxels)
    throw new CtscopeError('E_TOO_LARGE', `series ${series.id} is ${nx} x ${ny} x ${nz} = ${voxels} voxels, over the limit of ${o.maxVoxels}`);

  const integral = layout.slices.every(({ instance, frameIndex }) => {
    const f = instance.frames[frameIndex] ?? instance.frames[0];
    return !f || (Number.isInteger(f.rescaleSlope) && Number.isInteger(f.rescaleIntercept));
  });
  const dtype = integral ? 'int16' : 'float32';
  const bytesPerVoxel = integral ? 2 : 4;
  let buffer: SharedArrayBuffer;
  try {
    buffer = new SharedArrayBuffer(voxels * bytesPerVoxel);
  } catch (e) {
    throw new CtscopeError('E_TOO_LARGE', `cannot allocate ${voxels * bytesPerVoxel} bytes for series ${series.id}`, { cause: e });
  }

  const sources: SliceSource[] = layout.slices.map(({ instance, frameIndex }, sliceIndex) => ({
    source: o.bytesFor(instance.source) ?? instance.source,
    instance,
    frameIndex,
    sliceIndex,
  }));
  const { saturatedVoxels } = await decodeSlicesInto(
    sources,
    { buffer, dtype, sliceVoxels },
    {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.threads !== undefined ? { threads: o.threads } : {}),
      ...(o.paddingHu !== undefined ? { paddingHu: o.paddingHu } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    },
  );

  const problems = layout.problems.map((p) => `${p.kind}: ${p.message}`);
  if (saturatedVoxels > 0) problems.push(`saturated: ${saturatedVoxels} voxel(s) outside the int16 range were clipped`);
  const first = layout.slices[0]!.instance;
  return {
    data: integral ? new Int16Array(buffer) : new Float32Array(buffer),
    geometry: {
      dims: [...layout.geometry.dims],
      spacing: [...layout.geometry.spacing],
      origin: [...layout.geometry.origin],
      direction: [...layout.geometry.direction],
    },
    seriesInstanceUid: first.seriesInstanceUid,
    studyInstanceUid: first.studyInstanceUid,
    sliceUids: layout.slices.map((s) => s.instance.sopInstanceUid),
    frameNumbers: layout.slices.map((s) => s.frameIndex + 1),
    instanceNumbers: layout.slices.map((s) => s.instance.instanceNumber ?? null),
    slices: {
      positions: layout.positions.map((p) => [...p]),
      offsets: [...layout.offsets],
      uneven: layout.uneven,
    },
    tiltDeg: layout.tiltDeg,
    problems,
  };
}
