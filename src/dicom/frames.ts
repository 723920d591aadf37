import { CtscopeError } from '../errors.js';
import type { DicomInstance, FrameBytes } from './types.js';

/** One item of encapsulated pixel data (PS3.5 A.4). */
export interface Fragment {
  /** Offset of the item tag from the first item after the Basic Offset Table (what BOT entries count). */
  itemOffset: number;
  /** Absolute offset of the fragment's bytes. */
  offset: number;
  length: number;
}

export interface Fragments {
  basicOffsetTable: number[];
  fragments: Fragment[];
  /** Absolute offset just past the sequence delimiter (or the last fragment when it is missing). */
  end: number;
  delimited: boolean;
}

const ITEM = 0xe000;
const SEQ_DELIM = 0xe0dd;
const UNDEFINED = 0xffffffff;

function u32(b: Uint8Array, o: number): number {
  return (b[o]! | (b[o + 1]! << 8) | (b[o + 2]! << 16)) + b[o + 3]! * 0x1000000;
}

/** Reads the item sequence of encapsulated pixel data starting at `start` (the value of 7FE0,0010). */
export function scanFragments(b: Uint8Array, start: number, where: string): Fragments {
  const truncated = (what: string) => new CtscopeError('E_TRUNCATED', `encapsulated pixel data: ${what}`, { where });
  if (start + 8 > b.length) throw truncated('no Basic Offset Table item');
  if (b[start] !== 0xfe || b[start + 1] !== 0xff || (b[start + 2]! | (b[start + 3]! << 8)) !== ITEM) {
    throw new CtscopeError('E_BAD_DICOM', 'encapsulated pixel data does not start with an item', { where });
  }
  const botLength = u32(b, start + 4);
  if (botLength === UNDEFINED || botLength % 4 !== 0) {
    throw new CtscopeError('E_BAD_DICOM', `Basic Offset Table has an invalid length ${botLength}`, { where });
  }
  if (start + 8 + botLength > b.length) throw truncated('Basic Offset Table runs past the end');
  const basicOffsetTable: number[] = [];
  for (let o = start + 8; o < start + 8 + botLength; o += 4) basicOffsetTable.push(u32(b, o));
  const first = start + 8 + botLength;
  const fragments: Fragment[] = [];
  let p = first;
  while (p + 8 <= b.length) {
    const group = b[p]! | (b[p + 1]! << 8);
    const element = b[p + 2]! | (b[p + 3]! << 8);
    const length = u32(b, p + 4);
    if (group === 0xfffe && element === SEQ_DELIM) return { basicOffsetTable, fragments, end: p + 8, delimited: true };
    if (group !== 0xfffe || element !== ITEM) {
      throw new CtscopeError('E_BAD_DICOM', `unexpected tag inside encapsulated pixel data at byte ${p}`, { where });
    }
    if (length === UNDEFINED) throw new CtscopeError('E_BAD_DICOM', 'fragment with undefined length', { where });
    if (p + 8 + length > b.length) throw truncated(`fragment ${fragments.length} declares ${length} bytes, ${b.length - p - 8} present`);
    fragments.push({ itemOffset: p - first, offset: p + 8, length });
    p += 8 + length;
  }
  if (p !== b.length) throw truncated('cut inside an item header');
  return { basicOffsetTable, fragments, end: p, delimited: false };
}

/** Bytes per native frame; E_UNSUPPORTED_PIXELS for layouts the decoder does not handle. */
export function nativeFrameBytes(inst: DicomInstance): number {
  const ba = inst.bitsAllocated;
  if (ba !== 8 && ba !== 16 && ba !== 32) {
    throw new CtscopeError('E_UNSUPPORTED_PIXELS', `BitsAllocated ${ba} is not supported`, { where: inst.source });
  }
  return inst.rows * inst.columns * inst.samplesPerPixel * (ba / 8);
}

function startsFrame(b: Uint8Array, f: Fragment): boolean {
  const o = f.offset;
  if (f.length < 4) return false;
  // JPEG SOI, J2K/HTJ2K SOC + SIZ, or a JP2 signature box.
  if (b[o] === 0xff && b[o + 1] === 0xd8 && b[o + 2] === 0xff) return true;
  if (b[o] === 0xff && b[o + 1] === 0x4f && b[o + 2] === 0xff && b[o + 3] === 0x51) return true;
  return f.length >= 8 && b[o] === 0 && b[o + 1] === 0 && b[o + 2] === 0 && b[o + 3] === 0x0c && b[o + 4] === 0x6a && b[o + 5] === 0x50;
}

function group(fragments: Fragment[], firsts: number[]): FrameBytes[] {
  return firsts.map((s, i) => ({
    ranges: fragments.slice(s, firsts[i + 1] ?? fragments.length).map((f): [number, number] => [f.offset, f.length]),
  }));
}

function encapsulatedFrames(b: Uint8Array, inst: DicomInstance): FrameBytes[] {
  const where = inst.source;
  const { basicOffsetTable: bot, fragments } = scanFragments(b, inst.pixelData!.offset, where);
  const n = inst.numberOfFrames;
  if (fragments.length === 0) throw new CtscopeError('E_TRUNCATED', 'encapsulated pixel data has no fragments', { where });
  if (n === 1) return group(fragments, [0]);
  const table = bot.length > 0 ? bot : inst.extendedOffsets;
  if (table && table.length > 0) {
    const name = bot.length > 0 ? 'Basic Offset Table' : 'Extended Offset Table';
    if (table.length !== n) throw new CtscopeError('E_BAD_DICOM', `${name} has ${table.length} entries for ${n} frames`, { where });
    const byOffset = new Map(fragments.map((f, i) => [f.itemOffset, i]));
    const firsts = table.map((off) => byOffset.get(off) ?? -1);
    if (firsts.some((f, i) => f < 0 || (i > 0 && f <= firsts[i - 1]!))) {
      throw new CtscopeError('E_BAD_DICOM', `${name} entries do not point at fragments`, { where });
    }
    return group(fragments, firsts);
  }
  if (fragments.length === n) return group(fragments, fragments.map((_, i) => i));
  // Empty table, several fragments per frame: a new frame begins where a codestream begins.
  const firsts: number[] = [];
  fragments.forEach((f, i) => {
    if (startsFrame(b, f)) firsts.push(i);
  });
  if (firsts[0] !== 0 || firsts.length !== n) {
    throw new CtscopeError('E_BAD_DICOM', `cannot split ${fragments.length} fragments into ${n} frames (found ${firsts.length} codestream starts)`, { where });
  }
  return group(fragments, firsts);
}

function nativeFrames(b: Uint8Array, inst: DicomInstance): FrameBytes[] {
  const size = nativeFrameBytes(inst);
  const { offset, length } = inst.pixelData!;
  // Bytes shorter than where their header put the pixel data were changed or released after they were read.
  if (b.length < offset) throw new CtscopeError('E_TRUNCATED', `the instance's bytes end (${b.length}) before its pixel data (at ${offset}): changed or released after its header was read`, { where: inst.source });
  const available = Math.min(length, b.length - offset);
  const frames: FrameBytes[] = [];
  for (let i = 0; i < inst.numberOfFrames; i++) frames.push({ ranges: [[offset + i * size, size]] });
  if (inst.numberOfFrames * size > available) {
    throw new CtscopeError('E_TRUNCATED', `pixel data holds ${available} bytes, ${inst.numberOfFrames} frames need ${inst.numberOfFrames * size}`, { where: inst.source });
  }
  return frames;
}

const cache = new WeakMap<DicomInstance, WeakMap<Uint8Array, FrameBytes[]>>();

/**
 * Byte ranges of every frame of `inst` inside `bytes` (the instance's data set bytes; inflated for Deflated).
 * Computed once per (instance, bytes) pair.
 */
export function frameRanges(bytes: Uint8Array, inst: DicomInstance): FrameBytes[] {
  if (!inst.pixelData) throw new CtscopeError('E_BAD_DICOM', 'instance has no pixel data', { where: inst.source });
  let byBytes = cache.get(inst);
  let frames = byBytes?.get(bytes);
  if (frames) return frames;
  frames = inst.pixelData.encapsulated ? encapsulatedFrames(bytes, inst) : nativeFrames(bytes, inst);
  if (!byBytes) cache.set(inst, (byBytes = new WeakMap()));
  byBytes.set(bytes, frames);
  return frames;
}

/** The encoded bytes of one frame: a view when it is one range, else the fragments concatenated. */
export function frameData(bytes: Uint8Array, inst: DicomInstance, frameIndex: number): Uint8Array {
  if (!Number.isInteger(frameIndex) || frameIndex < 0 || frameIndex >= inst.numberOfFrames) {
    throw new CtscopeError('E_USAGE', `frame ${frameIndex} out of range 0..${inst.numberOfFrames - 1}`, { where: inst.source });
  }
  const { ranges } = frameRanges(bytes, inst)[frameIndex]!;
  if (ranges.length === 1) return bytes.subarray(ranges[0]![0], ranges[0]![0] + ranges[0]![1]);
  let total = 0;
  for (const [, len] of ranges) total += len;
  const out = new Uint8Array(total);
  let at = 0;
  for (const [off, len] of ranges) {
    out.set(bytes.subarray(off, off + len), at);
    at += len;
  }
  return out;
}
