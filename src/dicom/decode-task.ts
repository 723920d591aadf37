import { open } from 'node:fs/promises';
import { CtscopeError, isCtscopeError, toCtscopeError, type ErrorCode } from '../errors.js';
import type { DicomInstance } from './types.js';
import { decodeFrameToHu } from './decode.js';

/** Frames of one file to decode, and where each goes. */
export interface DecodeFileJob {
  /** The file, or the name of in-memory bytes (for messages). */
  path: string;
  /** In-memory bytes of the instance (copied to the worker with the task); else the worker reads `path`. */
  bytes?: Uint8Array;
  instance: DicomInstance;
  frames: Array<{ frameIndex: number; sliceIndex: number }>;
}

export interface DecodeSlicesTaskInput {
  buffer: SharedArrayBuffer;
  dtype: 'int16' | 'float32';
  sliceVoxels: number;
  paddingHu: number;
  files: DecodeFileJob[];
  /** Record a damaged or unreadable slice in `broken` and go on, instead of failing the task. */
  skipBroken?: boolean;
}

/** A slice that could not be read or decoded (with `skipBroken`): left out instead of failing the series. */
export interface BrokenSlice {
  sliceIndex: number;
  code: ErrorCode;
  message: string;
  /** The file, or the name of in-memory bytes. */
  where: string;
}

/**
 * Codes that mean one slice's file or pixel data is bad: that slice can be left out. Anything else (a worker that
 * died, an abort, an internal error) concerns the whole run.
 */
const SLICE_FAULTS: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['E_NOT_FOUND', 'E_IO', 'E_NOT_DICOM', 'E_TRUNCATED', 'E_BAD_DICOM', 'E_UNSUPPORTED_SYNTAX', 'E_UNSUPPORTED_PIXELS', 'E_CODEC']);

/** Records the slices of `frames` as broken by `e` when `broken` is given and `e` is a slice fault; else throws. */
export function brokenOrThrow(e: unknown, path: string, frames: ReadonlyArray<{ sliceIndex: number }>, broken: BrokenSlice[] | undefined): void {
  const c = naming(e, path);
  // Only what the readers and decoders coded as the file's fault: an uncoded exception (a bug, memory) fails the run.
  if (!broken || !isCtscopeError(e) || !SLICE_FAULTS.has(c.code)) throw c;
  for (const f of frames) broken.push({ sliceIndex: f.sliceIndex, code: c.code, message: c.message, where: c.where ?? path });
}

/** Coded errors travel as plain data: structured clone keeps only message and stack of an Error. */
export interface TaskError {
  name: 'CtscopeError';
  code: CtscopeError['code'];
  message: string;
  where?: string;
}

export interface DecodeSlicesTaskResult {
  saturatedVoxels: number;
  slices: number;
  error?: TaskError;
  broken: BrokenSlice[];
}

export function volumeView(buffer: SharedArrayBuffer, dtype: 'int16' | 'float32'): Int16Array | Float32Array {
  return dtype === 'int16' ? new Int16Array(buffer) : new Float32Array(buffer);
}

/**
 * A reusable read buffer. Series files are read one after another and decoded at once, so one buffer per
 * reader serves them all: a fresh 0.5 MB buffer per slice costs its page faults and garbage collection,
 * which for an uncompressed series is a good part of the whole load.
 */
export interface ReadScratch {
  bytes: Uint8Array;
}

export function newScratch(): ReadScratch {
  return { bytes: new Uint8Array(0) };
}

/**
 * The whole file. With `scratch`, the bytes land in (and alias) its buffer, grown as needed: valid until the
 * next read with the same scratch.
 */
export async function readSource(path: string, scratch?: ReadScratch): Promise<Uint8Array> {
  let fh;
  try {
    fh = await open(path, 'r');
    const size = (await fh.stat()).size;
    let buf: Uint8Array;
    if (scratch) {
      if (scratch.bytes.length < size) scratch.bytes = new Uint8Array(Math.ceil(size * 1.25));
      buf = scratch.bytes.subarray(0, size);
    } else buf = new Uint8Array(size);
    let at = 0;
    while (at < size) {
      const { bytesRead } = await fh.read(buf, at, size - at, at);
      if (bytesRead === 0) break;
      at += bytesRead;
    }
    return at === size ? buf : buf.subarray(0, at);
  } catch (e) {
    const code = (e as { code?: string }).code;
    // Only the file system's own errors (ENOENT, EACCES, EIO...) are about the file; anything else (an allocation
    // failure) is passed on as it is.
    if (typeof code !== 'string') throw e;
    throw new CtscopeError(code === 'ENOENT' ? 'E_NOT_FOUND' : 'E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e, where: path });
  } finally {
    await fh?.close();
  }
}

/** A coded error that names the file it came from (message and `where`), whatever the instance says. */
function naming(e: unknown, path: string): CtscopeError {
  const c = toCtscopeError(e, 'E_CODEC');
  if (c.message.includes(path) && c.where === path) return c;
  const message = c.message.includes(path) ? c.message : `${path}: ${c.message}`;
  return new CtscopeError(c.code, message, { cause: c, where: path });
}

/**
 * Decodes every frame of one file into the volume; returns saturated voxels. With `broken`, a frame that does not
 * decode is recorded there and the others still are (one damaged frame of a multi-frame object costs that frame).
 */
export async function decodeFileInto(bytes: Uint8Array, job: DecodeFileJob, out: Int16Array | Float32Array, sliceVoxels: number, paddingHu: number, broken?: BrokenSlice[]): Promise<number> {
  let saturated = 0;
  for (const frame of job.frames) {
    try {
      saturated += (await decodeFrameToHu(bytes, job.instance, frame.frameIndex, out, frame.sliceIndex * sliceVoxels, { paddingHu })).saturated;
    } catch (e) {
      brokenOrThrow(e, job.path, [frame], broken);
    }
  }
  return saturated;
}

/** This worker thread's read buffer (a worker runs one task at a time). */
const workerScratch = newScratch();

/**
 * Worker task: reads each file itself (no bytes cross the thread boundary) and writes HU straight into
 * the shared volume at sliceIndex * sliceVoxels. Never throws; a failure comes back as `error`.
 */
export async function decodeSlicesTask(input: DecodeSlicesTaskInput): Promise<DecodeSlicesTaskResult> {
  const out = volumeView(input.buffer, input.dtype);
  const broken: BrokenSlice[] | undefined = input.skipBroken ? [] : undefined;
  let saturatedVoxels = 0;
  let slices = 0;
  try {
    for (const job of input.files) {
      let bytes: Uint8Array | undefined;
      try {
        bytes = job.bytes ?? (await readSource(job.path, workerScratch));
      } catch (e) {
        brokenOrThrow(e, job.path, job.frames, broken);
      }
      if (bytes) saturatedVoxels += await decodeFileInto(bytes, job, out, input.sliceVoxels, input.paddingHu, broken);
      slices += job.frames.length;
    }
    return { saturatedVoxels, slices, broken: broken ?? [] };
  } catch (e) {
    const c = isCtscopeError(e) ? toCtscopeError(e, 'E_WORKER') : toCtscopeError(e, 'E_WORKER', 'decode worker failed');
    const error: TaskError = { name: 'CtscopeError', code: c.code, message: c.message, ...(c.where !== undefined ? { where: c.where } : {}) };
    return { saturatedVoxels, slices, error, broken: broken ?? [] };
  }
}
