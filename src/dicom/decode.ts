import { CtscopeError, isCtscopeError } from '../errors.js';
import type { DicomInstance, StoredPixels } from './types.js';
import { findTransferSyntax, getTransferSyntax } from './transfer-syntax.js';
import { inflateDataSet } from './deflate.js';
import { frameData } from './frames.js';
import { CODECS, type DecodedFrame, type FrameLayout } from './codecs/index.js';
import { extractionFor, extractStored, storedToHu, type Extraction, type HuMapping } from './pixel.js';
import { definedOnly } from '../io/fill.js';
import { AIR_HU } from '../volume/types.js';

export interface HuOptions {
  /** HU written for PixelPaddingValue (and the range up to PixelPaddingRangeLimit). Default -1024 (air). */
  paddingHu?: number;
}

export interface FilledHuOptions {
  paddingHu: number;
}

export const DEFAULT_HU_OPTIONS: Readonly<FilledHuOptions> = Object.freeze({ paddingHu: AIR_HU });

/** Largest frame decoded (16384 x 16384); codecs allocate from Rows x Columns before any data backs it. */
export const MAX_FRAME_PIXELS = 16384 * 16384;

/** Stored samples of one frame before extraction: a view of the file when possible. */
interface RawFrame {
  samples: Int16Array | Uint16Array;
  extraction: Extraction;
}

/** The buffer pixel data offsets refer to: the file bytes, or for Deflated syntax the inflated data set. */
export function pixelBytes(bytes: Uint8Array, inst: DicomInstance): Uint8Array {
  const ts = getTransferSyntax(inst.transferSyntaxUid, inst.source);
  if (!ts.deflated) return bytes;
  if (inst.dataSetOffset === undefined) throw new CtscopeError('E_BAD_DICOM', 'deflated instance without a data set offset', { where: inst.source });
  return inflateDataSet(bytes, inst.dataSetOffset, inst.source);
}

function checkDecodable(inst: DicomInstance): void {
  const where = inst.source;
  if (!inst.pixelData) throw new CtscopeError('E_BAD_DICOM', 'instance has no pixel data', { where });
  if (inst.samplesPerPixel !== 1) {
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `${inst.samplesPerPixel} samples per pixel (${inst.photometricInterpretation}); only grayscale is decoded`, { where });
  }
  if (inst.photometricInterpretation !== 'MONOCHROME1' && inst.photometricInterpretation !== 'MONOCHROME2') {
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `photometric interpretation ${inst.photometricInterpretation} is not grayscale`, { where });
  }
  if (inst.rows * inst.columns > MAX_FRAME_PIXELS) {
    throw new CtscopeError('E_TOO_LARGE', `frame of ${inst.rows}x${inst.columns} pixels is over the ${MAX_FRAME_PIXELS}-pixel limit`, { where });
  }
  if (inst.bitsAllocated !== 8 && inst.bitsAllocated !== 16) {
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `BitsAllocated ${inst.bitsAllocated} is not supported (8 or 16)`, { where });
  }
}

/** Reused for unaligned or byte-swapped native frames; used synchronously only, so one per thread is enough. */
let scratch = new Uint16Array(0);

function scratchOf(n: number): Uint16Array {
  if (scratch.length < n) scratch = new Uint16Array(n);
  return scratch.subarray(0, n);
}

function widen(src: Uint8Array, n: number): Uint16Array {
  const out = scratchOf(n);
  for (let i = 0; i < n; i++) out[i] = src[i]!;
  return out;
}

function nativeFrame(data: Uint8Array, inst: DicomInstance, littleEndian: boolean): RawFrame {
  const n = inst.rows * inst.columns;
  const x = extractionFor(inst.bitsStored, inst.highBit, inst.pixelRepresentation, true);
  if (inst.bitsAllocated === 8) return { samples: widen(data, n), extraction: x };
  const plainInt16 = x.signed && inst.bitsStored === 16;
  if (!littleEndian) {
    const out = scratchOf(n);
    for (let i = 0, j = 0; i < n; i++, j += 2) out[i] = (data[j]! << 8) | data[j + 1]!;
    return { samples: plainInt16 ? new Int16Array(out.buffer, out.byteOffset, n) : out, extraction: x };
  }
  const at = data.byteOffset;
  let view: Uint16Array | Int16Array;
  if (at % 2 === 0) {
    view = plainInt16 ? new Int16Array(data.buffer, at, n) : new Uint16Array(data.buffer, at, n);
  } else {
    const out = scratchOf(n);
    new Uint8Array(out.buffer, out.byteOffset, n * 2).set(data.subarray(0, n * 2));
    view = plainInt16 ? new Int16Array(out.buffer, out.byteOffset, n) : out;
  }
  return { samples: view, extraction: x };
}

function codecFrame(decoded: DecodedFrame, inst: DicomInstance): RawFrame {
  const n = inst.rows * inst.columns;
  const x = extractionFor(inst.bitsStored, inst.highBit, inst.pixelRepresentation, decoded.raw);
  const p = decoded.pixels;
  if (p instanceof Uint8Array) return { samples: widen(p, n), extraction: x };
  if (p instanceof Uint16Array && x.signed && inst.bitsStored === 16) {
    return { samples: new Int16Array(p.buffer, p.byteOffset, n), extraction: x };
  }
  return { samples: p, extraction: x };
}

function layoutOf(inst: DicomInstance): FrameLayout {
  return {
    rows: inst.rows,
    columns: inst.columns,
    samplesPerPixel: inst.samplesPerPixel,
    bitsAllocated: inst.bitsAllocated,
    bitsStored: inst.bitsStored,
    pixelRepresentation: inst.pixelRepresentation,
  };
}

/** A frame as found: native bytes, or a codec's fresh output. Holds no scratch memory, so it may cross an await. */
type FrameSource = { kind: 'native'; data: Uint8Array; littleEndian: boolean } | { kind: 'codec'; decoded: DecodedFrame };

async function frameSource(bytes: Uint8Array, inst: DicomInstance, frameIndex: number): Promise<FrameSource> {
  checkDecodable(inst);
  const ts = getTransferSyntax(inst.transferSyntaxUid, inst.source);
  const data = frameData(pixelBytes(bytes, inst), inst, frameIndex);
  if (ts.codec === 'native') return { kind: 'native', data, littleEndian: ts.littleEndian };
  const codec = CODECS[ts.codec];
  let decoded: DecodedFrame;
  try {
    decoded = await codec.decode(data, layoutOf(inst));
  } catch (e) {
    if (isCtscopeError(e) && e.code !== 'E_CODEC') throw e;
    // Out of memory is this machine's state, not the frame's damage: it must not read as a broken slice.
    if (e instanceof RangeError && /alloc/i.test(e.message)) throw e;
    const text = e instanceof Error ? e.message : String(e);
    throw new CtscopeError('E_CODEC', `${ts.name} frame ${frameIndex + 1} of ${inst.source} does not decode (${codec.package}): ${text}`, { cause: e, where: inst.source });
  }
  const n = inst.rows * inst.columns;
  if (decoded.pixels.length < n) {
    throw new CtscopeError('E_CODEC', `${ts.name} frame ${frameIndex + 1} of ${inst.source} decoded to ${decoded.pixels.length} of ${n} samples`, { where: inst.source });
  }
  return { kind: 'codec', decoded };
}

/** Samples ready for extraction. May alias the scratch buffer: use before any await. */
function samplesOf(src: FrameSource, inst: DicomInstance): RawFrame {
  return src.kind === 'native' ? nativeFrame(src.data, inst, src.littleEndian) : codecFrame(src.decoded, inst);
}

/** Stored pixel values of one frame (masked to BitsStored, sign-extended for PixelRepresentation 1), before rescale. */
export async function decodeFrame(bytes: Uint8Array, instance: DicomInstance, frameIndex: number): Promise<StoredPixels> {
  const raw = samplesOf(await frameSource(bytes, instance, frameIndex), instance);
  const stored = extractStored(raw.samples, instance.rows * instance.columns, raw.extraction);
  if (instance.bitsAllocated === 8 && !raw.extraction.signed) return Uint8Array.from(stored);
  return stored;
}

export function huMappingFor(inst: DicomInstance, frameIndex: number, options: FilledHuOptions): HuMapping {
  const f = inst.frames[frameIndex] ?? inst.frames[0];
  const slope = f?.rescaleSlope ?? 1;
  const intercept = f?.rescaleIntercept ?? 0;
  const pad = inst.pixelPaddingValue;
  const limit = inst.pixelPaddingRangeLimit ?? pad;
  let padLo = pad === undefined ? Infinity : Math.min(pad, limit!);
  let padHi = pad === undefined ? -Infinity : Math.max(pad, limit!);
  // A lossy codec moves padding off its exact stored value (a speckle from -3020 to -3028 HU around -3024). Where
  // padding lies below air, every stored value nearer to it than to air (-1024 HU) is padding: no tissue is there.
  const lossy = findTransferSyntax(inst.transferSyntaxUid)?.lossy ?? false;
  const padTopHu = padHi * slope + intercept;
  if (lossy && slope > 0 && padLo <= padHi && padTopHu < AIR_HU) {
    padLo = -Infinity;
    padHi = Math.floor(((padTopHu + AIR_HU) / 2 - intercept) / slope);
  }
  return { slope, intercept, padLo, padHi, paddingHu: options.paddingHu };
}

/**
 * Decodes frame `frameIndex` straight into `out[outOffset ...]` as HU (stored * slope + intercept with
 * that frame's rescale). Padding becomes `paddingHu`. Int16 output is rounded and saturated; the count
 * of saturated voxels is returned.
 */
export async function decodeFrameToHu(
  bytes: Uint8Array,
  instance: DicomInstance,
  frameIndex: number,
  out: Int16Array | Float32Array,
  outOffset: number,
  options: HuOptions = {},
): Promise<{ saturated: number }> {
  const n = instance.rows * instance.columns;
  if (!Number.isInteger(outOffset) || outOffset < 0 || outOffset + n > out.length) {
    throw new CtscopeError('E_USAGE', `output holds ${out.length} voxels; frame needs ${n} at offset ${outOffset}`, { where: instance.source });
  }
  const filled: FilledHuOptions = { ...DEFAULT_HU_OPTIONS, ...definedOnly(options) };
  const src = await frameSource(bytes, instance, frameIndex);
  const raw = samplesOf(src, instance);
  const saturated = storedToHu(raw.samples, n, raw.extraction, huMappingFor(instance, frameIndex, filled), out, outOffset);
  return { saturated };
}

