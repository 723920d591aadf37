import { open, readFile } from 'node:fs/promises';
import { CtscopeError, isCtscopeError } from '../errors.js';
import type { DicomInstance } from './types.js';
import { dicomParser as dp, isOverrunMessage, thrownText, type ByteArrayParser, type DataSet, type Element } from './dicom-parser.js';
import { detectLayout, guessEncoding } from './layout.js';
import { EXPLICIT_VR_BE, getTransferSyntax, IMPLICIT_VR_LE, type TransferSyntax } from './transfer-syntax.js';
import { inflateDataSet } from './deflate.js';
import { scanFragments } from './frames.js';
import { buildFrames, hasFunctionalGroups } from './functional-groups.js';
import { int, str, strs, num, text, us } from './values.js';

export interface ParseOptions {
  /**
   * `bytes` may hold only the header (the pixel data value may be cut or absent); pixel data
   * lengths are then not checked against the bytes.
   */
  untilPixelData?: boolean;
}

const PIXEL_DATA = 'x7fe00010';
const TRANSFER_SYNTAX_UID = 'x00020010';
const UNDEFINED = 0xffffffff;

/** Thrown inside header reads when the bytes read so far end before the header does. */
class NeedMoreBytes extends Error {
  constructor(readonly wholeFile: boolean) {
    super('header continues past the bytes read');
  }
}

interface Context {
  where: string;
  /** Size of the whole instance; larger than bytes.length for partial header reads. */
  totalLength: number;
  partial: boolean;
  /** Only the header matters: the pixel data value may be cut or missing from the bytes. */
  headerOnly: boolean;
}

type DataSetCtor = new (parser: ByteArrayParser, byteArray: Uint8Array, elements: Record<string, Element>) => DataSet;
type StreamCtor = new (parser: ByteArrayParser, byteArray: Uint8Array, position: number) => Stream;

function newDataSet(parser: ByteArrayParser, arr: Uint8Array): DataSet {
  const ds = new (dp as unknown as { DataSet: DataSetCtor }).DataSet(parser, arr, {});
  ds.warnings = [];
  return ds;
}

function fail(ctx: Context, code: 'E_TRUNCATED' | 'E_BAD_DICOM', message: string, cause?: unknown): never {
  if (ctx.partial && code === 'E_TRUNCATED') throw new NeedMoreBytes(false);
  throw new CtscopeError(code, message, { where: ctx.where, ...(cause !== undefined ? { cause } : {}) });
}

function runParser(ctx: Context, what: string, fn: () => void): void {
  try {
    fn();
  } catch (e) {
    const text = thrownText(e);
    fail(ctx, isOverrunMessage(text) ? 'E_TRUNCATED' : 'E_BAD_DICOM', `${what} does not parse: ${text}`, e);
  }
}

function tagName(tag: string): string {
  return `(${tag.slice(1, 5)},${tag.slice(5, 9)})`.toUpperCase();
}

/** Group 0002, always explicit VR little endian; returns it and where the data set begins. */
function readMeta(bytes: Uint8Array, start: number, ctx: Context): { meta: DataSet; end: number } {
  const parser = dp.littleEndianByteArrayParser;
  const meta = newDataSet(parser, bytes);
  const stream = new (dp.ByteStream as unknown as StreamCtor)(parser, bytes, start);
  runParser(ctx, 'File Meta', () => {
    while (stream.position + 2 <= bytes.length && bytes[stream.position] === 0x02 && bytes[stream.position + 1] === 0x00) {
      const el = dp.readDicomElementExplicit(stream, meta.warnings);
      el.parser = parser;
      meta.elements[el.tag] = el;
    }
  });
  return { meta, end: stream.position };
}

/**
 * Sequences nested deeper than this are damage or an attack, not an image header (enhanced CT's functional groups
 * nest 3 deep, SR content trees a few tens): at 1500 levels dcmjs took 5 s on the host's thread to copy the header
 * into the SR.
 */
export const MAX_SEQUENCE_DEPTH = 64;

/** Every declared length (nested items included) must end inside the bytes; the pixel data is checked apart. */
function checkLengths(ds: DataSet, limit: number, ctx: Context, top: boolean, depth = 0): void {
  const elements = ds.elements;
  for (const tag in elements) {
    const el = elements[tag]!;
    if (top && tag === PIXEL_DATA) continue;
    if (el.length !== UNDEFINED && el.dataOffset + el.length > limit) {
      fail(ctx, 'E_TRUNCATED', `element ${tagName(tag)} declares ${el.length} bytes, ${Math.max(0, limit - el.dataOffset)} present`);
    }
    const items = el.items;
    if (!items) continue;
    if (depth >= MAX_SEQUENCE_DEPTH) fail(ctx, 'E_BAD_DICOM', `sequences nested more than ${MAX_SEQUENCE_DEPTH} deep (at ${tagName(tag)})`);
    for (let i = 0; i < items.length; i++) if (items[i]!.dataSet) checkLengths(items[i]!.dataSet!, limit, ctx, false, depth + 1);
  }
}

/** VRs added after dicom-parser 1.8 was written; they have 4-byte lengths it does not know about. */
const NEWER_LONG_VRS = new Set(['OV', 'SV', 'UV']);

type Stream = InstanceType<typeof dp.ByteStream>;

/**
 * dicom-parser's explicit loop, plus OV/SV/UV (e.g. the Extended Offset Table) at the top level,
 * which it would misread with a 2-byte length and lose its place.
 */
function parseExplicitTopLevel(ds: DataSet, stream: Stream, untilTag: string): void {
  const b = stream.byteArray;
  while (stream.position < b.length) {
    const p = stream.position;
    let el: Element;
    if (p + 12 <= b.length && NEWER_LONG_VRS.has(String.fromCharCode(b[p + 4]!, b[p + 5]!))) {
      const tag = dp.readTag(stream);
      const vr = stream.readFixedString(2);
      stream.seek(2);
      const length = stream.readUint32();
      el = { tag, vr, length, dataOffset: stream.position };
      if (length === UNDEFINED) throw new Error(`element ${tag} of VR ${vr} has undefined length`);
      stream.seek(length);
    } else {
      el = dp.readDicomElementExplicit(stream, ds.warnings, untilTag);
    }
    ds.elements[el.tag] = el;
    if (el.tag === untilTag) return;
  }
  if (stream.position > b.length) throw new Error('buffer overrun: the last element runs past the end');
}

interface Encoding {
  explicitVR: boolean;
  littleEndian: boolean;
}

/** The declared encoding, unless the elements clearly follow another little-endian one (a common writer error). */
function dataSetEncoding(bytes: Uint8Array, pos: number, ts: TransferSyntax, warnings: string[]): Encoding {
  const declared: Encoding = { explicitVR: ts.explicitVR, littleEndian: ts.littleEndian };
  if (ts.deflated || pos + 8 > bytes.length) return declared;
  const seen = guessEncoding(bytes, pos);
  const seenEnc: Encoding | undefined =
    seen === undefined ? undefined : { explicitVR: seen !== IMPLICIT_VR_LE, littleEndian: seen !== EXPLICIT_VR_BE };
  if (!seenEnc || (seenEnc.explicitVR === declared.explicitVR && seenEnc.littleEndian === declared.littleEndian)) return declared;
  if (seenEnc.littleEndian && declared.littleEndian) {
    warnings.push(`data set is ${seenEnc.explicitVR ? 'explicit' : 'implicit'} VR although the transfer syntax says otherwise`);
    return seenEnc;
  }
  return declared;
}

function pixelDataLocation(
  ds: DataSet,
  arr: Uint8Array,
  total: number,
  ts: TransferSyntax,
  ctx: Context,
  warnings: string[],
): DicomInstance['pixelData'] {
  const pd = ds.elements[PIXEL_DATA];
  if (!pd) return undefined;
  const undefinedLength = pd.length === UNDEFINED || pd.hadUndefinedLength === true;
  if (ts.encapsulated !== undefinedLength) {
    fail(ctx, 'E_BAD_DICOM', ts.encapsulated ? 'compressed transfer syntax but pixel data is not encapsulated' : 'native transfer syntax but pixel data has undefined length');
  }
  if (!undefinedLength) {
    if (pd.dataOffset + pd.length > total && !(ctx.headerOnly && !ctx.partial)) {
      // Measured against the file size, so definitive even for a partial header read.
      throw new CtscopeError('E_TRUNCATED', `pixel data declares ${pd.length} bytes, ${Math.max(0, total - pd.dataOffset)} present`, { where: ctx.where });
    }
    return { encapsulated: false, offset: pd.dataOffset, length: pd.length };
  }
  if (arr.length < total || ctx.headerOnly) return { encapsulated: true, offset: pd.dataOffset, length: Math.max(0, total - pd.dataOffset) };
  const fr = scanFragments(arr, pd.dataOffset, ctx.where);
  if (!fr.delimited) warnings.push('encapsulated pixel data has no sequence delimiter');
  return { encapsulated: true, offset: pd.dataOffset, length: fr.end - pd.dataOffset };
}

/** (7FE0,0001) as numbers when it holds one 64-bit offset per frame; encapsulated data is always little endian. */
function extendedOffsets(ds: DataSet, frames: number, warnings: string[]): number[] | undefined {
  const el = ds.elements['x7fe00001'];
  if (!el || el.length === 0 || el.length === UNDEFINED) return undefined;
  if (el.length !== frames * 8) {
    warnings.push(`Extended Offset Table has ${el.length / 8} entries for ${frames} frames; ignored`);
    return undefined;
  }
  const b = ds.byteArray;
  const out: number[] = [];
  for (let i = 0; i < frames; i++) {
    const o = el.dataOffset + 8 * i;
    const lo = (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
    const hi = (b[o + 4]! | (b[o + 5]! << 8) | (b[o + 6]! << 16)) + b[o + 7]! * 0x1000000;
    out.push(hi * 0x100000000 + lo);
  }
  return out;
}

function positiveInt(n: number | undefined): number | undefined {
  return n !== undefined && Number.isInteger(n) && n > 0 ? n : undefined;
}

function required(ds: DataSet, tag: string, name: string, warnings: string[]): string {
  const v = str(ds, tag);
  if (v === undefined) warnings.push(`missing ${name}`);
  return v ?? '';
}

/** What the parse knows before reading the image attributes. */
type InstanceBase = Pick<DicomInstance, 'source' | 'byteLength' | 'transferSyntaxUid' | 'hasPreamble' | 'hasFileMeta' | 'warnings' | 'dataSetOffset' | 'pixelData'>;

function buildInstance(ds: DataSet, base: InstanceBase, ctx: Context): DicomInstance {
  const warnings = base.warnings;
  const rows = us(ds, 'x00280010') ?? 0;
  const columns = us(ds, 'x00280011') ?? 0;
  const bitsAllocated = us(ds, 'x00280100') ?? 0;
  if (base.pixelData && (rows === 0 || columns === 0 || bitsAllocated === 0)) {
    fail(ctx, 'E_BAD_DICOM', 'pixel data without Rows, Columns or BitsAllocated');
  }
  let bitsStored = us(ds, 'x00280101') ?? bitsAllocated;
  if (bitsAllocated > 0 && (bitsStored === 0 || bitsStored > bitsAllocated)) {
    warnings.push(`BitsStored ${bitsStored} does not fit BitsAllocated ${bitsAllocated}; using ${bitsAllocated}`);
    bitsStored = bitsAllocated;
  }
  let highBit = us(ds, 'x00280102') ?? bitsStored - 1;
  if (bitsAllocated > 0 && (highBit < bitsStored - 1 || highBit >= bitsAllocated)) {
    warnings.push(`HighBit ${highBit} is inconsistent with BitsStored ${bitsStored}; using ${bitsStored - 1}`);
    highBit = bitsStored - 1;
  }
  const pr = us(ds, 'x00280103') ?? 0;
  const pixelRepresentation: 0 | 1 = pr === 1 ? 1 : 0;
  if (pr > 1) warnings.push(`PixelRepresentation ${pr} read as 0`);
  const declaredFrames = positiveInt(int(ds, 'x00280008'));
  const numberOfFrames = declaredFrames ?? 1;
  if (str(ds, 'x00280008') !== undefined && declaredFrames === undefined) warnings.push('NumberOfFrames is not a positive integer; using 1');
  const photometricInterpretation = (str(ds, 'x00280004') ?? 'MONOCHROME2').toUpperCase();
  if (photometricInterpretation === 'MONOCHROME1') warnings.push('MONOCHROME1: values are kept as stored; only display is inverted');
  const signed = pixelRepresentation === 1;
  const inst: DicomInstance = {
    ...base,
    sopClassUid: required(ds, 'x00080016', 'SOPClassUID', warnings),
    sopInstanceUid: required(ds, 'x00080018', 'SOPInstanceUID', warnings),
    studyInstanceUid: required(ds, 'x0020000d', 'StudyInstanceUID', warnings),
    seriesInstanceUid: required(ds, 'x0020000e', 'SeriesInstanceUID', warnings),
    modality: (str(ds, 'x00080060') ?? '').toUpperCase(),
    imageType: strs(ds, 'x00080008').map((s) => s.toUpperCase()),
    rows,
    columns,
    numberOfFrames,
    samplesPerPixel: us(ds, 'x00280002') ?? 1,
    photometricInterpretation,
    planarConfiguration: us(ds, 'x00280006') ?? 0,
    bitsAllocated,
    bitsStored,
    highBit,
    pixelRepresentation,
    frames: [],
  };
  const optional: Array<[keyof DicomInstance, unknown]> = [
    ['seriesNumber', int(ds, 'x00200011')],
    ['instanceNumber', int(ds, 'x00200013')],
    ['acquisitionNumber', int(ds, 'x00200012')],
    ['seriesDescription', text(ds, 'x0008103e')],
    ['manufacturer', text(ds, 'x00080070')],
    ['gantryDetectorTilt', num(ds, 'x00181120')],
    ['convolutionKernel', text(ds, 'x00181210')],
    ['pixelPaddingValue', us(ds, 'x00280120', signed)],
    ['pixelPaddingRangeLimit', us(ds, 'x00280121', signed)],
  ];
  for (const [k, v] of optional) if (v !== undefined) (inst as unknown as Record<string, unknown>)[k] = v;
  if (base.pixelData && !base.pixelData.encapsulated) {
    const need = rows * columns * inst.samplesPerPixel * Math.ceil(bitsAllocated / 8) * numberOfFrames;
    if (base.pixelData.length < need) {
      // A header that promises more frames than the data holds is as broken as cut data.
      throw new CtscopeError('E_TRUNCATED', `pixel data holds ${base.pixelData.length} bytes, ${numberOfFrames} frame(s) of ${rows}x${columns}x${bitsAllocated} bits need ${need}`, { where: ctx.where });
    }
  }
  if (ds.elements['x00283000']) warnings.push('Modality LUT Sequence present and ignored; HU use RescaleSlope/Intercept');
  if (inst.modality === 'CT' && base.pixelData && !ds.elements['x00281052'] && !hasFunctionalGroups(ds)) {
    warnings.push('CT image without RescaleIntercept; assuming slope 1, intercept 0');
  }
  const eot = extendedOffsets(ds, numberOfFrames, warnings);
  if (eot) inst.extendedOffsets = eot;
  inst.frames = buildFrames(ds, numberOfFrames, warnings);
  return inst;
}

function parseBytes(bytes: Uint8Array, ctx: Context): DicomInstance {
  const { where } = ctx;
  const warnings: string[] = [];
  const layout = detectLayout(bytes, where);
  if (layout.skipped > 0) warnings.push(`skipped ${layout.skipped} stray byte(s) before the first element`);
  let pos = layout.start;
  let tsUid: string | undefined;
  if (layout.hasFileMeta) {
    const { meta, end } = readMeta(bytes, pos, ctx);
    checkLengths(meta, bytes.length, ctx, false);
    if (end >= bytes.length) fail(ctx, 'E_TRUNCATED', 'file ends inside or right after the File Meta');
    pos = end;
    tsUid = str(meta, TRANSFER_SYNTAX_UID);
    if (tsUid === undefined) warnings.push('File Meta has no TransferSyntaxUID; encoding guessed from the data set');
  } else {
    warnings.push('no File Meta; encoding guessed from the data set');
  }
  tsUid ??= (pos + 8 <= bytes.length ? guessEncoding(bytes, pos) : undefined) ?? layout.guessedSyntax;
  const ts = getTransferSyntax(tsUid, where);

  let arr = bytes;
  let total = ctx.totalLength;
  if (ts.deflated) {
    if (ctx.partial) throw new NeedMoreBytes(true);
    arr = inflateDataSet(bytes, pos, where);
    total = arr.length;
  }
  const enc = dataSetEncoding(arr, pos, ts, warnings);
  const parser = enc.littleEndian ? dp.littleEndianByteArrayParser : dp.bigEndianByteArrayParser;
  const ds = newDataSet(parser, arr);
  let parsedTo = pos;
  if (pos < arr.length) {
    const stream = new (dp.ByteStream as unknown as StreamCtor)(parser, arr, pos);
    const options = { untilTag: PIXEL_DATA };
    runParser(ctx, 'data set', () => {
      if (enc.explicitVR) parseExplicitTopLevel(ds, stream, options.untilTag);
      else dp.parseDicomDataSetImplicit(ds, stream, arr.length, options);
    });
    parsedTo = stream.position;
  }
  if (parsedTo === pos) fail(ctx, 'E_BAD_DICOM', 'data set is empty');
  checkLengths(ds, arr.length, ctx, true);
  for (const w of ds.warnings) if (!/unexpected tag/i.test(w)) warnings.push(w);
  const pixelData = pixelDataLocation(ds, arr, total, ts, ctx, warnings);
  if (ctx.partial && !pixelData) throw new NeedMoreBytes(false);

  const base = {
    source: where,
    byteLength: ctx.totalLength,
    transferSyntaxUid: ts.uid,
    hasPreamble: layout.hasPreamble,
    hasFileMeta: layout.hasFileMeta,
    warnings,
    dataSetOffset: pos,
    ...(pixelData ? { pixelData } : {}),
  };
  return buildInstance(ds, base, ctx);
}

/**
 * Parses one DICOM instance (Part 10, or a bare data set) from its bytes. `source` names it in errors
 * and in the result (a path, or a label for buffers). Throws E_NOT_DICOM, E_TRUNCATED, E_BAD_DICOM or
 * E_UNSUPPORTED_SYNTAX.
 */
export function parseInstance(bytes: Uint8Array, source: string, options: ParseOptions = {}): DicomInstance {
  const headerOnly = options.untilPixelData ?? false;
  return parseBytes(bytes, { where: source, totalLength: bytes.length, partial: false, headerOnly });
}

function ioError(e: unknown, path: string): CtscopeError {
  const code = (e as { code?: string }).code;
  if (code === 'ENOENT') return new CtscopeError('E_NOT_FOUND', `no such file: ${path}`, { cause: e, where: path });
  if (code === 'EISDIR') return new CtscopeError('E_NOT_DICOM', `is a directory: ${path}`, { cause: e, where: path });
  return new CtscopeError('E_IO', `cannot read ${path}: ${(e as Error).message}`, { cause: e, where: path });
}

const FIRST_READ = 16 * 1024;

/**
 * Parses the header of a file without reading its pixel data: reads 16 KiB (a CT header is a few KiB) and grows (x4) until the
 * pixel data element is reached. Pixel data offset and length are taken from the file size.
 */
export async function readHeader(path: string): Promise<DicomInstance> {
  let fh;
  try {
    fh = await open(path, 'r');
  } catch (e) {
    throw ioError(e, path);
  }
  try {
    const size = (await fh.stat()).size;
    let buf = new Uint8Array(0);
    let want = Math.min(size, FIRST_READ);
    for (;;) {
      const next = new Uint8Array(want);
      next.set(buf, 0);
      let at = buf.length;
      while (at < want) {
        const { bytesRead } = await fh.read(next, at, want - at, at);
        if (bytesRead === 0) break;
        at += bytesRead;
      }
      buf = at === want ? next : next.subarray(0, at);
      const whole = buf.length >= size;
      try {
        return parseBytes(buf, { where: path, totalLength: size, partial: !whole, headerOnly: !whole });
      } catch (e) {
        if (!(e instanceof NeedMoreBytes) || whole) throw e;
        want = e.wholeFile ? size : Math.min(size, want * 4);
      }
    }
  } catch (e) {
    if (isCtscopeError(e)) throw e;
    throw ioError(e, path);
  } finally {
    await fh.close();
  }
}

/** Reads and parses a whole file. */
export async function readInstance(path: string): Promise<{ bytes: Uint8Array; instance: DicomInstance }> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (e) {
    throw ioError(e, path);
  }
  return { bytes, instance: parseInstance(bytes, path) };
}
