/**
 * Explicit VR Little Endian element encoding and the Part 10 File Meta header: what ctscope writes itself
 * (the synthetic CT slices; a File Meta put in front of a data set read without one). Only the VRs these need.
 */

export type VR = 'CS' | 'DA' | 'DS' | 'IS' | 'LO' | 'PN' | 'SH' | 'TM' | 'UI' | 'US' | 'UL' | 'OB' | 'OW';

export interface Element {
  /** (group << 16) | element */
  tag: number;
  vr: VR;
  value: string | readonly string[] | number | readonly number[] | Uint8Array;
}

const LONG_LENGTH = new Set<VR>(['OB', 'OW']);
const PAD_ZERO = new Set<VR>(['UI', 'OB']);

/** Binary encoders of the numeric VRs; every other VR is text. */
const NUMERIC: Partial<Record<VR, { size: number; put: (b: Buffer, v: number, o: number) => void }>> = {
  US: { size: 2, put: (b, v, o) => b.writeUInt16LE(v, o) },
  UL: { size: 4, put: (b, v, o) => b.writeUInt32LE(v, o) },
};

function valueBytes(e: Element): Buffer {
  if (e.value instanceof Uint8Array) {
    const b = Buffer.from(e.value.buffer, e.value.byteOffset, e.value.byteLength);
    return b.length % 2 ? Buffer.concat([b, Buffer.alloc(1)]) : b;
  }
  const num = NUMERIC[e.vr];
  if (num) {
    const vals = (Array.isArray(e.value) ? e.value : [e.value]) as number[];
    const b = Buffer.alloc(vals.length * num.size);
    vals.forEach((v, i) => num.put(b, v, i * num.size));
    return b;
  }
  const text = Array.isArray(e.value) ? e.value.join('\\') : String(e.value);
  const b = Buffer.from(text, 'latin1');
  return b.length % 2 ? Buffer.concat([b, Buffer.from(PAD_ZERO.has(e.vr) ? '\0' : ' ', 'latin1')]) : b;
}

/** Encodes elements (sorted by tag) in Explicit VR Little Endian. */
export function encodeElements(elements: readonly Element[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of [...elements].sort((a, b) => a.tag - b.tag)) {
    const v = valueBytes(e);
    const long = LONG_LENGTH.has(e.vr);
    const h = Buffer.alloc(long ? 12 : 8);
    h.writeUInt16LE(e.tag >>> 16, 0);
    h.writeUInt16LE(e.tag & 0xffff, 2);
    h.write(e.vr, 4, 'latin1');
    if (long) h.writeUInt32LE(v.length, 8);
    else {
      if (v.length > 0xffff) throw new RangeError(`value too long for ${e.vr}`);
      h.writeUInt16LE(v.length, 6);
    }
    parts.push(h, v);
  }
  return Buffer.concat(parts);
}

/** Who wrote a file: File Meta (0002,0012) and (0002,0013). */
export interface Implementation {
  classUid: string;
  version: string;
}

/** The 128-byte preamble, "DICM" and the File Meta group (with its group length). */
export function fileMeta(sopClassUid: string, sopInstanceUid: string, transferSyntaxUid: string, implementation: Implementation): Buffer {
  const rest = encodeElements([
    { tag: 0x00020001, vr: 'OB', value: Uint8Array.of(0, 1) },
    { tag: 0x00020002, vr: 'UI', value: sopClassUid },
    { tag: 0x00020003, vr: 'UI', value: sopInstanceUid },
    { tag: 0x00020010, vr: 'UI', value: transferSyntaxUid },
    { tag: 0x00020012, vr: 'UI', value: implementation.classUid },
    { tag: 0x00020013, vr: 'SH', value: implementation.version },
  ]);
  const len = encodeElements([{ tag: 0x00020000, vr: 'UL', value: rest.length }]);
  return Buffer.concat([Buffer.alloc(128), Buffer.from('DICM', 'latin1'), len, rest]);
}
