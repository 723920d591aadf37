/**
 * Seeded DICOM mutator: (bytes, seed) -> damaged copy and the name of the damage. Pure and
 * deterministic, so a case reproduces from its seed alone. Mutations aim at structure (tags, lengths,
 * VRs, image attributes, codec streams) found by a forgiving walk, falling back to blind damage.
 */
import { Rng } from '../synth/rng.js';
import { ALL_VRS, findElement, walkElements, type ElementSpot } from './elements.js';

export interface Mutation {
  bytes: Uint8Array;
  kind: MutationKind;
}

export const MUTATION_KINDS = [
  'bit-flip',
  'byte-run',
  'truncate-random',
  'truncate-element',
  'length-huge',
  'length-odd',
  'vr-change',
  'transfer-syntax',
  'image-attributes',
  'codec-stream',
  'deep-sequence',
  'endless-sequence',
] as const;
export type MutationKind = (typeof MUTATION_KINDS)[number];

type Mutator = (b: Uint8Array, r: Rng, spots: readonly ElementSpot[]) => Uint8Array;

const pick = <T>(r: Rng, xs: readonly T[]): T => xs[r.int(0, xs.length - 1)]!;

function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >>> 8) & 0xff;
}

function put32(b: Uint8Array, at: number, v: number): void {
  put16(b, at, v & 0xffff);
  put16(b, at + 2, (v >>> 16) & 0xffff);
}

function splice(b: Uint8Array, at: number, remove: number, insert: Uint8Array): Uint8Array {
  at = Math.min(at, b.length);
  remove = Math.min(remove, b.length - at); // the walk may report a value running past the end
  const out = new Uint8Array(b.length - remove + insert.length);
  out.set(b.subarray(0, at), 0);
  out.set(insert, at);
  out.set(b.subarray(at + remove), at + insert.length);
  return out;
}

function bitFlip(b: Uint8Array, r: Rng): Uint8Array {
  const out = new Uint8Array(b);
  const n = r.int(1, 8);
  for (let i = 0; i < n && out.length > 0; i++) out[r.int(0, out.length - 1)]! ^= 1 << r.int(0, 7);
  return out;
}

function byteRun(b: Uint8Array, r: Rng): Uint8Array {
  const out = new Uint8Array(b);
  if (out.length === 0) return out;
  const at = r.int(0, out.length - 1);
  const len = Math.min(out.length - at, r.int(1, 64));
  const fill = pick(r, ['zero', 'ff', 'random'] as const);
  for (let i = at; i < at + len; i++) out[i] = fill === 'zero' ? 0 : fill === 'ff' ? 0xff : r.int(0, 255);
  return out;
}

function truncateRandom(b: Uint8Array, r: Rng): Uint8Array {
  return b.slice(0, r.int(0, Math.max(0, b.length - 1)));
}

function truncateElement(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  if (spots.length === 0) return truncateRandom(b, r);
  const s = pick(r, spots);
  const at = pick(r, [s.tagAt, s.tagAt + 2, s.lengthAt, s.valueAt, s.valueAt + 1]);
  return b.slice(0, Math.min(at, b.length));
}

function setLength(b: Uint8Array, r: Rng, spots: readonly ElementSpot[], values: (s: ElementSpot) => number[]): Uint8Array {
  if (spots.length === 0) return bitFlip(b, r);
  const out = new Uint8Array(b);
  const s = pick(r, spots);
  const v = pick(r, values(s));
  if (s.lengthSize === 2) put16(out, s.lengthAt, v & 0xffff);
  else put32(out, s.lengthAt, v >>> 0);
  return out;
}

function lengthHuge(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  return setLength(b, r, spots, (s) =>
    s.lengthSize === 2 ? [0xffff, 0xfffe, 0x8000] : [0xffffffff, 0xfffffffe, 0x7fffffff, 0x80000000, b.length * 2 + 1, 0x40000000],
  );
}

function lengthOdd(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  return setLength(b, r, spots, (s) => {
    const l = s.length === 0xffffffff ? 0 : s.length;
    return [l + 1, Math.max(0, l - 1), l + 3, l + 8, 0, 1, 3, l ^ 1];
  });
}

function vrChange(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  const explicit = spots.filter((s) => s.vrAt >= 0);
  if (explicit.length === 0) return byteRun(b, r);
  const out = new Uint8Array(b);
  const s = pick(r, explicit);
  const vr = pick(r, [...ALL_VRS, 'ZZ', '\0\0', 'sq', '  ']);
  out[s.vrAt] = vr.charCodeAt(0);
  out[s.vrAt + 1] = vr.charCodeAt(1);
  return out;
}

const SYNTAXES = [
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.1.99',
  '1.2.840.10008.1.2.5',
  '1.2.840.10008.1.2.4.50',
  '1.2.840.10008.1.2.4.51',
  '1.2.840.10008.1.2.4.57',
  '1.2.840.10008.1.2.4.70',
  '1.2.840.10008.1.2.4.80',
  '1.2.840.10008.1.2.4.81',
  '1.2.840.10008.1.2.4.90',
  '1.2.840.10008.1.2.4.91',
  '1.2.840.10008.1.2.4.201',
  '1.2.840.10008.1.2.4.100',
  '1.2.3.4.5.6.7',
  '',
  'garbage\u0001\u00ff',
];

/** Replaces the TransferSyntaxUID value (resizing it and its length field) with another syntax or junk. */
function transferSyntax(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  const s = findElement(spots, 0x0002, 0x0010);
  if (!s || s.lengthSize !== 2) return vrChange(b, r, spots);
  let uid = pick(r, SYNTAXES);
  if (uid.length % 2 === 1) uid += '\0';
  const value = new Uint8Array([...uid].map((c) => c.charCodeAt(0) & 0xff));
  const out = splice(b, s.valueAt, s.length, value);
  put16(out, s.lengthAt, value.length);
  return out;
}

/** Image attributes that size the pixel data: Rows, Columns, BitsAllocated, BitsStored, HighBit, ... */
const IMAGE_TAGS: readonly (readonly [number, number])[] = [
  [0x0028, 0x0010], // Rows
  [0x0028, 0x0011], // Columns
  [0x0028, 0x0100], // BitsAllocated
  [0x0028, 0x0101], // BitsStored
  [0x0028, 0x0102], // HighBit
  [0x0028, 0x0002], // SamplesPerPixel
  [0x0028, 0x0103], // PixelRepresentation
  [0x0028, 0x0006], // PlanarConfiguration
];

function imageAttributes(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  const present = IMAGE_TAGS.map(([g, e]) => findElement(spots, g, e)).filter((s): s is ElementSpot => s !== undefined && s.length === 2);
  const frames = findElement(spots, 0x0028, 0x0008);
  if (present.length === 0 && !frames) return bitFlip(b, r);
  const out = new Uint8Array(b);
  const n = r.int(1, 2);
  for (let i = 0; i < n; i++) {
    if (frames && frames.length > 0 && frames.length < 16 && r.uniform() < 0.15) {
      // NumberOfFrames is IS text: rewrite its digits in place.
      const text = pick(r, ['0', '9', '99', '-1', 'x', '65535', '2147483647']).padEnd(frames.length, ' ').slice(0, frames.length);
      for (let k = 0; k < frames.length; k++) out[frames.valueAt + k] = text.charCodeAt(k);
      continue;
    }
    if (present.length === 0) continue;
    const s = pick(r, present);
    const old = out[s.valueAt]! | (out[s.valueAt + 1]! << 8);
    put16(out, s.valueAt, pick(r, [0, 1, 2, 3, 7, 8, 12, 16, 17, 24, 32, 64, 255, 0x7fff, 0xffff, old * 2, old + 1, old >>> 1]));
  }
  return out;
}

/** Damages the pixel data value, preferring the inside of compressed fragments (the codec stream). */
function codecStream(b: Uint8Array, r: Rng, spots: readonly ElementSpot[]): Uint8Array {
  const fragments = spots.filter((s) => s.inPixelData && s.element === 0xe000 && s.length > 0 && s.length !== 0xffffffff);
  const pixel = findElement(spots, 0x7fe0, 0x0010);
  let from: number, len: number;
  if (fragments.length > 1) {
    const f = pick(r, fragments.slice(1)); // the first item is the offset table
    from = f.valueAt;
    len = Math.min(f.length, b.length - f.valueAt);
  } else if (pixel && pixel.length !== 0xffffffff) {
    from = pixel.valueAt;
    len = Math.min(pixel.length, b.length - pixel.valueAt);
  } else return byteRun(b, r);
  if (len <= 0) return byteRun(b, r);
  const out = new Uint8Array(b);
  const how = pick(r, ['scatter', 'header', 'markers', 'cut-fill', 'dimensions'] as const);
  if (how === 'scatter') {
    const n = r.int(1, 32);
    for (let i = 0; i < n; i++) out[from + r.int(0, len - 1)] = r.int(0, 255);
  } else if (how === 'header') {
    // Codec headers (SOF, SIZ, RLE segment table) sit in the first bytes of a fragment.
    const span = Math.min(len, 64);
    const n = r.int(1, 6);
    for (let i = 0; i < n; i++) out[from + r.int(0, span - 1)] = pick(r, [0, 0xff, r.int(0, 255)]);
  } else if (how === 'markers') {
    const n = r.int(1, 4);
    for (let i = 0; i < n && len >= 2; i++) {
      const at = from + r.int(0, len - 2);
      out[at] = 0xff;
      out[at + 1] = pick(r, [0xd8, 0xd9, 0xc0, 0xc3, 0xda, 0xdd, 0x4f, 0x51, 0x90, 0x93, 0xf7]);
    }
  } else if (how === 'dimensions') {
    codecDimensions(out, from, len, r);
  } else {
    const at = from + r.int(0, len - 1);
    out.fill(pick(r, [0, 0xff]), at, from + len);
  }
  return out;
}

function put32be(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 24) & 0xff;
  b[at + 1] = (v >>> 16) & 0xff;
  b[at + 2] = (v >>> 8) & 0xff;
  b[at + 3] = v & 0xff;
}

/**
 * Rewrites the image size the codec stream itself declares (JPEG SOF, JPEG-LS SOF55, JPEG 2000 SIZ,
 * the RLE segment table), so the codec is asked for far more, or fewer, pixels than the header said.
 */
function codecDimensions(out: Uint8Array, from: number, len: number, r: Rng): void {
  const end = Math.min(from + len, from + 512) - 1;
  for (let at = from; at < end; at++) {
    if (out[at] !== 0xff) continue;
    const m = out[at + 1]!;
    if (m === 0x51 && at + 18 <= out.length) {
      put32be(out, at + 6, pick(r, [0, 1, 0x7fffffff, 0xffffffff, 65536, 1 << 20]));
      put32be(out, at + 10, pick(r, [0, 1, 0x7fffffff, 0xffffffff, 65536, 1 << 20]));
      return;
    }
    if ((m === 0xc0 || m === 0xc1 || m === 0xc3 || m === 0xf7) && at + 9 <= out.length) {
      const v = pick(r, [0, 1, 0xffff, 0x8000]);
      out[at + 5] = v >>> 8;
      out[at + 6] = v & 0xff;
      out[at + 7] = pick(r, [0, 0xff]);
      out[at + 8] = pick(r, [0, 0xff]);
      return;
    }
  }
  // No marker: an RLE header (segment count, then 15 offsets), or raw pixels.
  if (len >= 64) {
    put32(out, from, pick(r, [0, 1, 15, 16, 0xffffffff]));
    put32(out, from + 4 * r.int(1, 15), pick(r, [0, 64, len, len * 4, 0xffffffff]));
  }
}

const DEEP_TAG = [0x0040, 0x0275]; // RequestAttributesSequence: harmless where it lands

/** An SQ header of undefined length in the file's encoding, then one item of undefined length. */
function sequenceOpen(explicit: boolean): number[] {
  const [g, e] = DEEP_TAG as [number, number];
  const tag = [g & 0xff, g >> 8, e & 0xff, e >> 8];
  const sq = explicit ? [...tag, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff] : [...tag, 0xff, 0xff, 0xff, 0xff];
  return [...sq, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff];
}

const ITEM_END = [0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0];
const SEQ_END = [0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0];

/** Inserts nested sequences at a top-level element boundary: closed properly, or never closed. */
function nestedSequences(b: Uint8Array, r: Rng, spots: readonly ElementSpot[], closed: boolean): Uint8Array {
  const top = spots.filter((s) => s.group > 0x0002 && s.group < 0x7fe0 && s.group !== 0xfffe);
  if (top.length === 0) return byteRun(b, r);
  const s = pick(r, top);
  const depth = closed ? pick(r, [64, 1000, 10000, 50000]) : pick(r, [1, 100, 20000]);
  const open = sequenceOpen(s.vrAt >= 0);
  const unit = open.length;
  const size = depth * unit + (closed ? depth * (ITEM_END.length + SEQ_END.length) : 0);
  const ins = new Uint8Array(size);
  for (let d = 0; d < depth; d++) ins.set(open, d * unit);
  if (closed) {
    const end = [...ITEM_END, ...SEQ_END];
    for (let d = 0; d < depth; d++) ins.set(end, depth * unit + d * end.length);
  }
  // Endless: the rest of the file (pixel data included) becomes the innermost item's content.
  return splice(b, s.tagAt, 0, ins);
}

const MUTATORS: Record<MutationKind, Mutator> = {
  'bit-flip': bitFlip,
  'byte-run': byteRun,
  'truncate-random': truncateRandom,
  'truncate-element': truncateElement,
  'length-huge': lengthHuge,
  'length-odd': lengthOdd,
  'vr-change': vrChange,
  'transfer-syntax': transferSyntax,
  'image-attributes': imageAttributes,
  'codec-stream': codecStream,
  'deep-sequence': (b, r, s) => nestedSequences(b, r, s, true),
  'endless-sequence': (b, r, s) => nestedSequences(b, r, s, false),
};

/** One mutation of `bytes` chosen by `seed` (the input is never changed). `kind` forces the mutation. */
export function mutate(bytes: Uint8Array, seed: number, kind?: MutationKind): Mutation {
  const r = new Rng(seed);
  const k = kind ?? pick(r, MUTATION_KINDS);
  const spots = walkElements(bytes);
  return { bytes: MUTATORS[k](bytes, r, spots), kind: k };
}
