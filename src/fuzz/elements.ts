/**
 * A forgiving element walker for the fuzzer: finds where tags, VRs, length fields and values sit so
 * mutations can aim at structure. Little endian only (explicit or implicit, guessed per element); it
 * stops quietly at the first element that does not look plausible. Never used to read real data.
 */

export interface ElementSpot {
  /** Offset of the 4 tag bytes. */
  tagAt: number;
  group: number;
  element: number;
  /** Offset of the 2 VR bytes, -1 for implicit VR and item tags. */
  vrAt: number;
  vr: string;
  lengthAt: number;
  /** 2 or 4. */
  lengthSize: number;
  valueAt: number;
  /** 0xffffffff when undefined. */
  length: number;
  /** Inside encapsulated pixel data (a fragment item or its delimiter). */
  inPixelData: boolean;
}

const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV']);
const SHORT_VRS = new Set(['AE', 'AS', 'AT', 'CS', 'DA', 'DS', 'DT', 'FL', 'FD', 'IS', 'LO', 'LT', 'PN', 'SH', 'SL', 'SS', 'ST', 'TM', 'UI', 'UL', 'US']);
export const ALL_VRS: readonly string[] = [...LONG_VRS, ...SHORT_VRS];
const UNDEFINED = 0xffffffff;

function u16(b: Uint8Array, at: number): number {
  return b[at]! | (b[at + 1]! << 8);
}

function u32(b: Uint8Array, at: number): number {
  return (b[at]! | (b[at + 1]! << 8) | (b[at + 2]! << 16) | (b[at + 3]! << 24)) >>> 0;
}

/** Offset of the first data element: after "DICM" when there is a preamble, else 0. */
export function dataStart(b: Uint8Array): number {
  return b.length >= 132 && b[128] === 0x44 && b[129] === 0x49 && b[130] === 0x43 && b[131] === 0x4d ? 132 : 0;
}

/** Elements in file order, descending into sequences, items and encapsulated pixel data. */
export function walkElements(b: Uint8Array, limit = 4096): ElementSpot[] {
  const out: ElementSpot[] = [];
  let at = dataStart(b);
  let inPixelData = false;
  while (at + 8 <= b.length && out.length < limit) {
    const group = u16(b, at);
    const element = u16(b, at + 2);
    const vr = String.fromCharCode(b[at + 4]!, b[at + 5]!);
    let spot: ElementSpot;
    if (group === 0xfffe) {
      spot = { tagAt: at, group, element, vrAt: -1, vr: '', lengthAt: at + 4, lengthSize: 4, valueAt: at + 8, length: u32(b, at + 4), inPixelData };
      if (element === 0xe0dd && inPixelData) inPixelData = false;
    } else if (LONG_VRS.has(vr) && at + 12 <= b.length) {
      spot = { tagAt: at, group, element, vrAt: at + 4, vr, lengthAt: at + 8, lengthSize: 4, valueAt: at + 12, length: u32(b, at + 8), inPixelData: false };
    } else if (SHORT_VRS.has(vr)) {
      spot = { tagAt: at, group, element, vrAt: at + 4, vr, lengthAt: at + 6, lengthSize: 2, valueAt: at + 8, length: u16(b, at + 6), inPixelData: false };
    } else {
      spot = { tagAt: at, group, element, vrAt: -1, vr: '', lengthAt: at + 4, lengthSize: 4, valueAt: at + 8, length: u32(b, at + 4), inPixelData: false };
    }
    if (group === 0 && element === 0 && spot.length === 0) break; // zero padding, not data
    out.push(spot);
    const isPixel = group === 0x7fe0 && element === 0x0010;
    if (isPixel && spot.length === UNDEFINED) inPixelData = true;
    // Sequences, items with content and undefined lengths: step inside, their content is elements too.
    const stepIn = spot.length === UNDEFINED || spot.vr === 'SQ' || (group === 0xfffe && element === 0xe000 && !inPixelData);
    if (stepIn) at = spot.valueAt;
    else if (spot.valueAt + spot.length > b.length) break;
    else at = spot.valueAt + spot.length;
  }
  return out;
}

export function findElement(spots: readonly ElementSpot[], group: number, element: number): ElementSpot | undefined {
  return spots.find((s) => s.group === group && s.element === element);
}

/** Explicit VR when the element at the data set start (after the meta group) carries a VR. */
export function isExplicitAfterMeta(spots: readonly ElementSpot[]): boolean {
  const first = spots.find((s) => s.group !== 0x0002 && s.group !== 0xfffe);
  return first === undefined || first.vrAt >= 0;
}
