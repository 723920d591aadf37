import { basename } from 'node:path';
import { decodeSlicesInto } from '../dicom/decode-series.js';
import type { BrokenSlice } from '../dicom/decode-task.js';
import type { DicomInstance } from '../dicom/types.js';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { definedOnly } from '../io/fill.js';
import { layoutSlices } from '../series/layout.js';
import type { SeriesEntry, SliceLayout, SliceRef } from '../series/types.js';
import { DEFAULT_MAX_VOXELS, type CtVolume } from '../volume/types.js';

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
 * memory stays near the volume's size. int16 when every slope and intercept of the series is an integer,
 * float32 otherwise. The geometry is the series layout (see series/layout.ts). A slice whose file cannot be read or
 * whose pixel data does not decode is left out (compacted in the same buffer) and reported in `problems`
 * (`undecodable-slices`), as long as at most half the slice positions are lost; otherwise the first one's error is
 * thrown.
 */
export async function assembleVolume(series: SeriesEntry, options: AssembleOptions = {}): Promise<CtVolume> {
  return (await assembleSeries(series, options)).volume;
}

/** The volume, the layout it ended with (without broken slices) and the slices left out. */
export interface AssembledSeries {
  volume: CtVolume;
  layout: SliceLayout;
  broken: Array<BrokenSlice & { ref: SliceRef }>;
}

/** assembleVolume, also saying which slices were left out and the layout of those kept. */
export async function assembleSeries(series: SeriesEntry, options: AssembleOptions = {}): Promise<AssembledSeries> {
  const o: FilledAssembleOptions = { ...DEFAULT_ASSEMBLE, ...definedOnly(options) };
  const first = series.layout;
  if (!first) throw new CtscopeError('E_GEOMETRY', `series ${series.id}: ${series.layoutError ?? 'no slice geometry'}`);
  if (series.samplesPerPixel !== 1 || !series.photometricInterpretation.startsWith('MONOCHROME'))
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `series ${series.id} is a colour image (${series.photometricInterpretation}), not a CT volume`);
  throwIfAborted(o.signal, 'volume assembly');

  const [nx, ny, nz] = first.geometry.dims;
  const sliceVoxels = nx * ny;
  const voxels = sliceVoxels * nz;
  if (!(voxels > 0)) throw new CtscopeError('E_GEOMETRY', `series ${series.id} has an empty image matrix (${nx} x ${ny} x ${nz})`);
  if (voxels > o.maxVoxels)
    throw new CtscopeError('E_TOO_LARGE', `series ${series.id} is ${nx} x ${ny} x ${nz} = ${voxels} voxels, over the limit of ${o.maxVoxels}`);

  // Every image of the series, not only those laid out: a duplicate may take a broken image's place.
  const integral = series.instances.every((instance) => instance.frames.every((f) => Number.isInteger(f.rescaleSlope) && Number.isInteger(f.rescaleIntercept)));
  const dtype = integral ? 'int16' : 'float32';
  const bytesPerVoxel = integral ? 2 : 4;
  let buffer: SharedArrayBuffer;
  try {
    buffer = new SharedArrayBuffer(voxels * bytesPerVoxel);
  } catch (e) {
    throw new CtscopeError('E_TOO_LARGE', `cannot allocate ${voxels * bytesPerVoxel} bytes for series ${series.id}`, { cause: e });
  }

  // Progress is the first pass's: replacements for broken slices are a few more images at its end.
  const decode = async (refs: readonly SliceRef[], into: SharedArrayBuffer, at: (k: number) => number, progress: boolean): Promise<{ saturatedVoxels: number; broken: BrokenSlice[] }> =>
    await decodeSlicesInto(
      refs.map(({ instance, frameIndex }, k) => ({ source: o.bytesFor(instance.source) ?? instance.source, instance, frameIndex, sliceIndex: at(k) })),
      { buffer: into, dtype, sliceVoxels },
      {
        skipBroken: true,
        ...(o.signal ? { signal: o.signal } : {}),
        ...(o.threads !== undefined ? { threads: o.threads } : {}),
        ...(o.paddingHu !== undefined ? { paddingHu: o.paddingHu } : {}),
        ...(o.onProgress && progress ? { onProgress: o.onProgress } : {}),
      },
    );
  const firstPass = await decode(first.slices, buffer, (k) => k, true);
  let saturatedVoxels = firstPass.saturatedVoxels;
  const broken = firstPass.broken.map((b) => ({ ...b, ref: first.slices[b.sliceIndex]! }));

  let layout = first;
  let kept = nz;
  if (broken.length > 0) {
    // Laid out again without the broken images, with the same options: where a broken image had a duplicate at its
    // position, that image now takes its place and is decoded here; one that fails too is left out in turn.
    const bad = new Set(broken.map((b) => refKey(b.ref)));
    let have = new Map(first.slices.map((r, k) => [refKey(r), k] as const).filter(([key]) => !bad.has(key)));
    let byPosition: Map<string, SliceRef[]> | undefined;
    const images = series.instances.reduce((n, instance) => n + Math.max(1, instance.frames.length), 0);
    const tooMany = (lost: number): CtscopeError => {
      const head = broken[0]!;
      return new CtscopeError(head.code, `${lost} of ${nz} slices of series ${series.id} cannot be decoded; the first: ${head.message.replace(/;+$/, '')}`, { where: head.where });
    };
    for (;;) {
      // Nothing left to lay out (a single broken file, say) is the same failure, with the decoder's reason.
      if (bad.size >= images) throw tooMany(nz);
      layout = layoutSlices(series.instances, first.options, (r) => !bad.has(refKey(r)));
      kept = layout.slices.length;
      if ((nz - kept) * 2 > nz) throw tooMany(nz - kept);
      const missing = compactInPlace(layout.slices, have, new Uint8Array(buffer), sliceVoxels * bytesPerVoxel);
      if (!missing) throw new CtscopeError('E_INTERNAL', `series ${series.id}: the slices left after leaving out broken ones do not fit the volume`);
      const refs = missing.map((k) => layout.slices[k]!);
      const more = missing.length > 0 ? await decode(refs, buffer, (k) => missing[k]!, false) : { saturatedVoxels: 0, broken: [] };
      saturatedVoxels += more.saturatedVoxels;
      have = new Map(layout.slices.map((r, k) => [refKey(r), k] as const));
      if (more.broken.length === 0) break;
      for (const b of more.broken) {
        const ref = layout.slices[b.sliceIndex]!;
        bad.add(refKey(ref));
        have.delete(refKey(ref));
        broken.push({ ...b, ref });
      }
      // A position whose images keep failing is given up with all its duplicates: 2000 broken frames at one
      // position (a 20 KB file) took 2000 rounds of layout and decoding, 27 s.
      byPosition ??= refsByPosition(series.instances);
      const tries = new Map<string, number>();
      for (const b of broken) tries.set(positionKey(b.ref), (tries.get(positionKey(b.ref)) ?? 0) + 1);
      for (const [key, n] of tries) if (n >= MAX_TRIES_PER_POSITION) for (const r of byPosition.get(key) ?? []) bad.add(refKey(r));
    }
  }

  const out = layout.problems.map((p) => `${p.kind}: ${p.message}`);
  if (broken.length > 0) out.push(`undecodable-slices: ${brokenSummary(broken, nz, kept)}`);
  if (saturatedVoxels > 0) out.push(`saturated: ${saturatedVoxels} voxel(s) outside the int16 range were clipped`);
  const firstInstance = layout.slices[0]!.instance;
  const volume: CtVolume = {
    // With slices left out, the first `kept` slices of the buffer (see compactInPlace).
    data: integral ? new Int16Array(buffer, 0, kept * sliceVoxels) : new Float32Array(buffer, 0, kept * sliceVoxels),
    geometry: {
      dims: [...layout.geometry.dims],
      spacing: [...layout.geometry.spacing],
      origin: [...layout.geometry.origin],
      direction: [...layout.geometry.direction],
    },
    seriesInstanceUid: firstInstance.seriesInstanceUid,
    studyInstanceUid: firstInstance.studyInstanceUid,
    sliceUids: layout.slices.map((s) => s.instance.sopInstanceUid),
    frameNumbers: layout.slices.map((s) => s.frameIndex + 1),
    instanceNumbers: layout.slices.map((s) => s.instance.instanceNumber ?? null),
    slices: {
      positions: layout.positions.map((p) => [...p]),
      offsets: [...layout.offsets],
      uneven: layout.uneven,
    },
    tiltDeg: layout.tiltDeg,
    problems: out,
  };
  return { volume, layout, broken };
}

/**
 * Moves each decoded slice of `slices` (found in `have`, slice index by key) down to its new index in the same
 * buffer, in increasing order: a slice never moves up, since the new layout only loses positions before it, so no
 * slice is overwritten before it moves. Returns the new indices still to decode (images that take a broken one's
 * place), or undefined where a slice would have to move up (never seen; the caller fails rather than guess).
 * In place, so leaving out a slice costs no second volume in memory.
 */
function compactInPlace(slices: readonly SliceRef[], have: ReadonlyMap<string, number>, bytes: Uint8Array, sliceBytes: number): number[] | undefined {
  const missing: number[] = [];
  for (let k = 0; k < slices.length; k++) {
    const from = have.get(refKey(slices[k]!));
    if (from === undefined) missing.push(k);
    else if (from < k) return undefined;
    else if (from > k) bytes.copyWithin(k * sliceBytes, from * sliceBytes, (from + 1) * sliceBytes);
  }
  return missing;
}

/** A slice's identity: its source and frame (buffers have unique names). */
function refKey(r: SliceRef): string {
  return `${r.instance.source}#${r.frameIndex}`;
}

/** Images that fail at one slice position before the position is given up, its remaining duplicates with it. */
const MAX_TRIES_PER_POSITION = 3;

/** An image's position to 0.01 mm (the duplicate tolerance), or the image itself where it has none. */
function positionKey(r: SliceRef): string {
  const p = (r.instance.frames[r.frameIndex] ?? r.instance.frames[0])?.imagePositionPatient;
  return p ? p.map((v) => v.toFixed(2)).join(',') : refKey(r);
}

function refsByPosition(instances: readonly DicomInstance[]): Map<string, SliceRef[]> {
  const out = new Map<string, SliceRef[]>();
  for (const instance of instances)
    for (let frameIndex = 0; frameIndex < Math.max(1, instance.frames.length); frameIndex++) {
      const r = { instance, frameIndex };
      const key = positionKey(r);
      const list = out.get(key);
      if (list) list.push(r);
      else out.set(key, [r]);
    }
  return out;
}

/**
 * "1 of 40 slices could not be decoded and is left out (a.dcm: E_CODEC, ...)": slice positions lost, and the images
 * that failed where that differs (a broken duplicate costs no position), at most three named.
 */
function brokenSummary(broken: readonly BrokenSlice[], positions: number, kept: number): string {
  // File names only, as the skipped-file lists give them; the message without the full path in it.
  const named = broken.slice(0, 3).map((b) => {
    const name = basename(b.where);
    const message = b.message.split(b.where).join(name).replace(/;+$/, '');
    return `${name}: ${b.code}, ${message.startsWith(`${name}: `) ? message.slice(name.length + 2) : message}`;
  });
  const lost = positions - kept;
  const files = `${named.join('; ')}${broken.length > 3 ? '; ...' : ''}`;
  if (broken.length === lost) return `${lost} of ${positions} slices could not be decoded and ${lost === 1 ? 'is' : 'are'} left out: ${files}`;
  return `${broken.length} image(s) could not be decoded, duplicates of one position included; ${lost} of ${positions} slice positions lost: ${files}`;
}
