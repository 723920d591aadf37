import { readSource } from '../dicom/decode-task.js';
import type { DicomInstance } from '../dicom/types.js';
import { DEFLATED_LE } from '../dicom/transfer-syntax.js';
import { fileMeta } from '../dicom/write.js';
import { IMPLEMENTATION } from './uid.js';
import { inputBuffers, type LoadedSeries, type StudyInput } from '../ingest/load.js';
import { dcmjs, toArrayBuffer, type DcmjsDict, type DcmjsElement } from './dcmjs.js';
import { sourceHeaderOffThread, withoutValues } from './sr-task.js';
import { isCtscopeError } from '../errors.js';

/**
 * Patient and study attributes a derived SR must repeat (Patient and General Study modules). They are
 * copied element by element into the SR and never logged or put into findings.json.
 */
export const COPIED_TAGS: Readonly<Record<string, string>> = {
  '00080005': 'SpecificCharacterSet',
  '00100010': 'PatientName',
  '00100020': 'PatientID',
  '00100021': 'IssuerOfPatientID',
  '00100030': 'PatientBirthDate',
  '00100040': 'PatientSex',
  '00080020': 'StudyDate',
  '00080030': 'StudyTime',
  '00080090': 'ReferringPhysicianName',
  '00200010': 'StudyID',
  '00080050': 'AccessionNumber',
  '00080201': 'TimezoneOffsetFromUTC',
};

const FRAME_OF_REFERENCE = '00200052';

/** The VR the data dictionary gives each copied attribute: the SR writes that one, whatever the source used. */
const COPIED_VR: Readonly<Record<string, string>> = {
  '00080005': 'CS', '00100010': 'PN', '00100020': 'LO', '00100021': 'LO', '00100030': 'DA', '00100040': 'CS',
  '00080020': 'DA', '00080030': 'TM', '00080090': 'PN', '00200010': 'SH', '00080050': 'SH', '00080201': 'SH',
};
const DA = /^\d{8}$/;
const TM = /^([01]\d|2[0-3])([0-5]\d([0-5]\d(\.\d{1,6})?)?)?$/;
interface ByteDecoder {
  decode(bytes: Uint8Array): string;
}

/**
 * A decoder for an element's bytes (OB, UN) in the source's single character set, or undefined where ctscope has
 * none for it (the ISO 2022 sets): such bytes are not guessed at, since the SR must repeat the value exactly.
 */
function byteDecoder(terms: readonly string[]): ByteDecoder | undefined {
  const label: Record<string, string> = {
    '': 'latin1', 'ISO_IR 6': 'latin1', 'ISO_IR 100': 'latin1', 'ISO_IR 101': 'iso-8859-2', 'ISO_IR 109': 'iso-8859-3',
    'ISO_IR 110': 'iso-8859-4', 'ISO_IR 144': 'iso-8859-5', 'ISO_IR 127': 'iso-8859-6', 'ISO_IR 126': 'iso-8859-7',
    'ISO_IR 138': 'iso-8859-8', 'ISO_IR 148': 'iso-8859-9', 'ISO_IR 166': 'windows-874', 'ISO_IR 192': 'utf-8', GB18030: 'gb18030', GBK: 'gbk',
  };
  const name = label[terms.length <= 1 ? (terms[0] ?? '') : '\0'];
  return name ? new TextDecoder(name) : undefined;
}

const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });
/** A string of characters under U+0100 that are the bytes of valid UTF-8 with some multi-byte sequence: those read. */
function relatin1AsUtf8(s: string): string {
  if (!/[\u0080-\u00ff]/.test(s) || /[^\u0000-\u00ff]/.test(s)) return s;
  try {
    return STRICT_UTF8.decode(Buffer.from(s, 'latin1'));
  } catch {
    return s;
  }
}

/** Control characters no text VR allows (ESC stays: ISO 2022 character sets need it). */
const CONTROL = /[\x00-\x08\x0a-\x1a\x1c-\x1f\x7f]/;

/**
 * A source element's values in the form its dictionary VR takes: strings (person names as { Alphabetic, ... }),
 * from another text VR, or from bytes (OB, or a UN dcmjs keeps as bytes). Undefined
 * where they cannot be (a sequence, numbers): such an element is left out of the SR.
 */
function asDictionaryValues(el: DcmjsElement, vr: string, decoder: ByteDecoder | undefined): unknown[] | undefined {
  const values = el.Value ?? [];
  const text = (v: unknown): string | undefined => {
    if (typeof v === 'string') return v;
    if (decoder && (v instanceof ArrayBuffer || ArrayBuffer.isView(v))) {
      const bytes = v instanceof ArrayBuffer ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
      return decoder.decode(bytes).replace(/[\0 ]+$/, '');
    }
    return undefined;
  };
  const out: unknown[] = [];
  for (const v of values) {
    if (vr === 'PN' && v && typeof v === 'object' && !ArrayBuffer.isView(v) && !(v instanceof ArrayBuffer)) {
      if (!Object.values(v).every((x) => typeof x === 'string')) return undefined;
      out.push(v);
      continue;
    }
    const t = text(v);
    if (t === undefined) return undefined;
    // Bytes hold every value of a multi-valued element, backslash-separated.
    const parts = typeof v === 'string' ? [t] : t.split('\\');
    out.push(...parts.map((p) => (vr === 'PN' ? { Alphabetic: p } : p)));
  }
  return out;
}

/** What the outputs need from the source images beyond the volume. */
export interface SourceContext {
  /** Raw elements by tag, only those in COPIED_TAGS that the source had. */
  elements: DcmjsDict;
  frameOfReferenceUid: string | undefined;
  /** SOP Class UID by SOP Instance UID for every instance of the series. */
  sopClasses: Map<string, string>;
  warnings: string[];
}

/** Bytes of an instance by its source name: a path, or the name the loader gave a buffer. */
export async function bytesOf(input: StudyInput, source: string): Promise<Uint8Array> {
  const buffers = inputBuffers(input);
  if (!buffers) return readSource(source);
  const found = buffers.find((b) => b.name === source);
  if (!found) throw new Error('source buffer not found');
  return found.bytes;
}

/**
 * dcmjs reads Part 10 files only. An instance ctscope read without preamble or File Meta (ACR-NEMA style, or after
 * stray leading bytes) gets both put in front of its data set, with the transfer syntax ctscope found.
 */
export function asPart10(bytes: Uint8Array, inst: Pick<DicomInstance, 'hasPreamble' | 'hasFileMeta' | 'dataSetOffset' | 'transferSyntaxUid' | 'sopClassUid' | 'sopInstanceUid'>): Uint8Array {
  if (inst.hasPreamble && inst.hasFileMeta) return bytes;
  return Buffer.concat([fileMeta(inst.sopClassUid, inst.sopInstanceUid, inst.transferSyntaxUid, IMPLEMENTATION), bytes.subarray(inst.dataSetOffset ?? 0)]);
}

/** An ISO 2022 escape sequence: ESC, intermediate bytes 0x20-0x2F, a final byte 0x30-0x7E. */
const ESCAPE = /\x1b[\x20-\x2f]+[\x30-\x7e]/g;

/**
 * dcmjs turns single-byte character sets into Unicode but leaves ISO 2022 escape sequences in its strings
 * (Japanese, Korean, Chinese), which the SR (written as UTF-8) would then carry as garbage. This decodes them:
 * where a string still holds one character per byte, its bytes are read again with the matching decoder
 * (iso-2022-jp for IR 87 and IR 13; the escapes stripped, then euc-kr for IR 149, gb18030 for IR 58); where
 * dcmjs already decoded the characters, only the escapes go. Undefined when the source needs none. (JIS X 0212,
 * IR 159, has no decoder here and stays as it is.)
 */
export function iso2022Decoder(charsets: readonly string[]): ((s: string) => string) | undefined {
  const terms = charsets.map((c) => c.trim().toUpperCase());
  const latin1Bytes = (s: string): Buffer | undefined => ([...s].every((ch) => ch.charCodeAt(0) < 256) ? Buffer.from(s, 'latin1') : undefined);
  const has = (...t: string[]): boolean => terms.some((x) => t.includes(x));
  if (has('ISO 2022 IR 87', 'ISO 2022 IR 13')) {
    const jp = new TextDecoder('iso-2022-jp');
    return (s) => {
      if (!s.includes('\x1b')) return s;
      const b = latin1Bytes(s);
      return b ? jp.decode(b) : s.replace(ESCAPE, '');
    };
  }
  const multiByte = has('ISO 2022 IR 149') ? 'euc-kr' : has('ISO 2022 IR 58') ? 'gb18030' : undefined;
  if (multiByte) {
    const decoder = new TextDecoder(multiByte);
    return (s) => {
      if (!/[\x1b\x80-\xff]/.test(s)) return s;
      const stripped = s.replace(ESCAPE, '');
      const b = latin1Bytes(stripped);
      return b ? decoder.decode(b) : stripped;
    };
  }
  return undefined;
}

/** A value with every string in it (a PN's components too) passed through `f`. */
function mapStrings(v: unknown, f: (s: string) => string): unknown {
  if (typeof v === 'string') return f(v);
  if (v && typeof v === 'object' && !Array.isArray(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, mapStrings(x, f)]));
  return v;
}

/** Longest value (characters; a person name: per component group) each VR of the copied attributes allows. */
const MAX_CHARS: Readonly<Record<string, number>> = { PN: 64, LO: 64, SH: 16, CS: 16, DA: 8, TM: 16 };

/** Whether any value (or a person name's component group) of a copied element is longer than its VR allows. */
function overLength(vr: string, values: unknown[]): boolean {
  const max = MAX_CHARS[vr];
  if (max === undefined) return false;
  const strings = values.flatMap((v) => (typeof v === 'string' ? (vr === 'PN' ? v.split('=') : [v]) : v && typeof v === 'object' ? Object.values(v).filter((x): x is string => typeof x === 'string') : []));
  return strings.some((x) => x.length > max);
}

/** What a source header gives the outputs: the copied elements, its frame of reference and warnings about them. */
export type SourceHeader = Pick<SourceContext, 'elements' | 'frameOfReferenceUid' | 'warnings'>;

/**
 * The attributes the SR repeats, from a Part 10 instance's header. Synchronous dcmjs work (loading dcmjs alone
 * takes 40-100 ms), so detect runs it on the worker pool (`sourceHeaderOffThread`).
 */
export function parseSourceHeader(part10: Uint8Array): SourceHeader {
  const out: SourceHeader = { elements: {}, frameOfReferenceUid: undefined, warnings: [] };
  const dict = dcmjs().data.DicomMessage.readFile(toArrayBuffer(part10), { ignoreErrors: true, untilTag: '7FE00010', includeUntilTagValue: false, noCopy: false }).dict;
  // Plain {vr, Value} copies: dcmjs elements carry accessors that cannot cross between threads.
  const charsets = (dict['00080005'] as { _rawValue?: unknown } | undefined)?._rawValue ?? dict['00080005']?.Value;
  const redecode = iso2022Decoder(Array.isArray(charsets) ? charsets.map(String) : []);
  const terms = (Array.isArray(charsets) ? charsets.map(String) : []).map((c) => c.trim().toUpperCase()).filter(Boolean);
  const utf8 = terms.includes('ISO_IR 192');
  const bytesDecoder = byteDecoder(terms);
  for (const tag of Object.keys(COPIED_TAGS)) {
    const el = dict[tag];
    if (!el) continue;
    const name = COPIED_TAGS[tag]!, vr = COPIED_VR[tag]!;
    // Warnings name the attribute only, never its value.
    const values = el.vr === vr ? el.Value ?? [] : asDictionaryValues(el, vr, bytesDecoder);
    if (values === undefined) {
      out.warnings.push(`source ${name} has VR ${el.vr} where ${vr} belongs, with values that are no text in a character set read here; left out of the SR`);
      continue;
    }
    const copy = JSON.parse(JSON.stringify({ vr, Value: values })) as DcmjsDict[string] & { Value: unknown[] };
    if (redecode && tag !== '00080005') copy.Value = copy.Value.map((v) => mapStrings(v, redecode));
    // dcmjs reads an explicit UN element of a known tag as its dictionary VR, one character per byte whatever the
    // character set: under UTF-8 those bytes are read again as UTF-8.
    if (utf8 && tag !== '00080005') copy.Value = copy.Value.map((v) => mapStrings(v, relatin1AsUtf8));
    // Padding a writer left (NUL, space) is no part of a date or time.
    if (vr === 'DA' || vr === 'TM') copy.Value = copy.Value.map((v) => (typeof v === 'string' ? v.replace(/[\0 ]+$/, '').trim() : v));
    // A date or time that is none (a typing slip, garbage) would make the SR invalid and means nothing: left out.
    if ((vr === 'DA' || vr === 'TM') && copy.Value.some((v) => typeof v !== 'string' || (v !== '' && !(vr === 'DA' ? DA : TM).test(v)))) {
      out.warnings.push(`source ${name} is not a valid ${vr} value; left out of the SR`);
      continue;
    }
    // Names and IDs are copied as they are, so the PACS still matches the SR to its patient and study.
    if (overLength(vr, copy.Value)) out.warnings.push(`source ${name} is longer than its VR (${vr}) allows; copied into the SR as it is`);
    if (copy.Value.some((v) => CONTROL.test(typeof v === 'string' ? v : v && typeof v === 'object' ? Object.values(v).join('') : ''))) {
      out.warnings.push(`source ${name} holds control characters its VR (${vr}) does not allow; copied into the SR as it is`);
    }
    if (el.vr !== vr) out.warnings.push(`source ${name} has VR ${el.vr} where ${vr} belongs; written as ${vr}`);
    out.elements[tag] = copy;
  }
  const fr = dict[FRAME_OF_REFERENCE]?.Value?.[0];
  if (typeof fr === 'string' && fr) out.frameOfReferenceUid = fr;
  else out.warnings.push('source series has no FrameOfReferenceUID: SR coordinates reference a new one');
  return out;
}

/**
 * Reads the header of the series' first slice for the attributes the SR must repeat, on the worker pool so that
 * the host's event loop stays free. Failures become warnings; an abort is E_ABORTED.
 */
export async function readSourceContext(volume: LoadedSeries, input: StudyInput, signal?: AbortSignal): Promise<SourceContext> {
  const sopClasses = new Map<string, string>();
  for (const inst of volume.series.instances) sopClasses.set(inst.sopInstanceUid, inst.sopClassUid);
  const ctx: SourceContext = { elements: {}, frameOfReferenceUid: undefined, sopClasses, warnings: [] };
  const first = volume.series.layout?.slices[0]?.instance ?? volume.series.instances[0];
  if (!first) return ctx;
  try {
    const bytes = await bytesOf(input, first.source);
    // The header alone goes to the worker (dcmjs stops at the pixel data anyway): the first instance of an enhanced
    // multi-frame series is the whole series. A deflated data set has no such cut in its stored bytes.
    const pixels = first.transferSyntaxUid === DEFLATED_LE ? undefined : first.pixelData;
    const header = await sourceHeaderOffThread(asPart10(pixels ? bytes.subarray(0, Math.min(pixels.offset, bytes.length)) : bytes, first), signal);
    return { ...ctx, ...header };
  } catch (e) {
    if (isCtscopeError(e) && e.code === 'E_ABORTED') throw e;
    // dcmjs may quote a value of the header in its message: it is withheld.
    const text = withoutValues(e instanceof Error ? e.message : String(e));
    ctx.warnings.push(`could not re-read the first slice's header for the SR (${text}); patient/study attributes left empty`);
  }
  return ctx;
}
