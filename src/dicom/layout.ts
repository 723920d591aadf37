import { CtscopeError } from '../errors.js';
import { EXPLICIT_VR_BE, EXPLICIT_VR_LE, IMPLICIT_VR_LE } from './transfer-syntax.js';

/** Where the data set starts and how its first elements are encoded, before any meta is read. */
export interface Layout {
  hasPreamble: boolean;
  /** Offset of the first element (group 0002 if present, else the data set). */
  start: number;
  /** Group 0002 begins at `start`. */
  hasFileMeta: boolean;
  /** Encoding guessed from the first data set elements (used when there is no File Meta). */
  guessedSyntax: string;
  /** Bytes skipped before a plausible first element (0 for well-formed files). */
  skipped: number;
}

const VRS = new Set(
  'AE AS AT CS DA DS DT FL FD IS LO LT OB OD OF OL OV OW PN SH SL SQ SS ST SV TM UC UI UL UN UR US UT UV'.split(' '),
);
const LONG_VRS = new Set('OB OD OF OL OV OW SQ UC UN UR UT UV'.split(' '));
const UNDEFINED = 0xffffffff;
/** Elements that must chain cleanly for a guess to count (fewer if the data ends first). */
const CHAIN = 4;
/** How far into a file without preamble we look for a first element. */
const SCAN_LIMIT = 1024;

function isDicm(b: Uint8Array, at: number): boolean {
  return b.length >= at + 4 && b[at] === 0x44 && b[at + 1] === 0x49 && b[at + 2] === 0x43 && b[at + 3] === 0x4d;
}

interface Guess {
  syntax: string;
}

/**
 * Walks up to CHAIN elements from `p` under one encoding; true when tags rise, groups are sane,
 * VRs are real and every declared length fits in the bytes.
 */
function chains(b: Uint8Array, p: number, syntax: string, firstGroups: ReadonlySet<number>): boolean {
  const le = syntax !== EXPLICIT_VR_BE;
  const explicit = syntax !== IMPLICIT_VR_LE;
  const u16 = (o: number) => (le ? b[o]! | (b[o + 1]! << 8) : (b[o]! << 8) | b[o + 1]!);
  const u32 = (o: number) => (le ? (u16(o) + u16(o + 2) * 65536) : (u16(o) * 65536 + u16(o + 2)));
  let last = -1;
  let count = 0;
  while (count < CHAIN) {
    if (p === b.length && count > 0) return true;
    if (p + 8 > b.length) return false;
    const group = u16(p);
    const tag = group * 65536 + u16(p + 2);
    if (tag <= last || group === 0xfffe || (count === 0 && !firstGroups.has(group))) return false;
    last = tag;
    let length: number;
    let header: number;
    if (explicit) {
      const vr = String.fromCharCode(b[p + 4]!, b[p + 5]!);
      if (!VRS.has(vr)) return false;
      if (LONG_VRS.has(vr)) {
        if (p + 12 > b.length) return false;
        length = u32(p + 8);
        header = 12;
      } else {
        length = u16(p + 6);
        header = 8;
      }
    } else {
      length = u32(p + 4);
      header = 8;
    }
    count++;
    if (length === UNDEFINED) return true;
    if (p + header + length > b.length) return false;
    p += header + length;
  }
  return true;
}

/** The encoding under which the elements at `p` chain cleanly, if any. */
export function guessEncoding(b: Uint8Array, p: number): string | undefined {
  return guessAt(b, p)?.syntax;
}

/** Groups a data set may start with: anywhere a file is expected to start... */
const FIRST_GROUPS = new Set([0x0000, 0x0002, 0x0004, 0x0008, 0x0010, 0x0018, 0x0020, 0x0028]);
/** ...and the stricter set accepted after skipping stray bytes, where a false match is likelier. */
const FIRST_GROUPS_SKIPPED = new Set([0x0002, 0x0008]);

function guessAt(b: Uint8Array, p: number, firstGroups: ReadonlySet<number> = FIRST_GROUPS): Guess | undefined {
  for (const syntax of [EXPLICIT_VR_LE, EXPLICIT_VR_BE, IMPLICIT_VR_LE]) {
    if (chains(b, p, syntax, firstGroups)) return { syntax };
  }
  return undefined;
}

/**
 * Finds where the elements begin: after "DICM" for Part 10 files, else at 0. Files without preamble
 * that do not start with a plausible element are scanned a little way for one (stray leading bytes).
 */
export function detectLayout(b: Uint8Array, where: string): Layout {
  if (b.length === 0) throw new CtscopeError('E_NOT_DICOM', 'empty file', { where });
  if (isDicm(b, 128)) {
    const start = 132;
    const metaHere = b.length >= start + 2 && b[start] === 0x02 && b[start + 1] === 0x00;
    const g = guessAt(b, start);
    if (!metaHere && !g) {
      throw new CtscopeError('E_BAD_DICOM', 'no readable element after the DICM prefix', { where });
    }
    return { hasPreamble: true, start, hasFileMeta: metaHere, guessedSyntax: g?.syntax ?? EXPLICIT_VR_LE, skipped: 0 };
  }
  const limit = Math.min(SCAN_LIMIT, b.length - 8);
  for (let p = 0; p <= limit; p++) {
    const g = guessAt(b, p, p === 0 ? FIRST_GROUPS : FIRST_GROUPS_SKIPPED);
    if (g) {
      const hasFileMeta = b[p] === 0x02 && b[p + 1] === 0x00 && g.syntax === EXPLICIT_VR_LE;
      return { hasPreamble: false, start: p, hasFileMeta, guessedSyntax: g.syntax, skipped: p };
    }
  }
  throw new CtscopeError('E_NOT_DICOM', 'no DICM prefix and no recognisable DICOM elements', { where });
}
