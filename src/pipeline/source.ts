import { readSource } from '../dicom/decode-task.js';
import type { DicomInstance } from '../dicom/types.js';
import { fileMeta } from '../dicom/write.js';
import { IMPLEMENTATION } from '../outputs/uid.js';
import { inputBuffers, type LoadedSeries, type StudyInput } from '../ingest/load.js';
import { dcmjs, toArrayBuffer, type DcmjsDict } from '../outputs/dcmjs.js';

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
};

const FRAME_OF_REFERENCE = '00200052';

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

/**
 * dcmjs turns single-byte character sets into Unicode but leaves ISO 2022 escape sequences (Japanese, Korean)
 * in its strings, which the SR (written as UTF-8) would then carry as garbage. This decodes them: the strings
 * hold one character per byte there, so their bytes are re-read with the matching decoder. Undefined when the
 * source needs none.
 */
export function iso2022Decoder(charsets: readonly string[]): ((s: string) => string) | undefined {
  const terms = charsets.map((c) => c.trim().toUpperCase());
  const bytesOf = (s: string): Buffer | undefined => ([...s].every((ch) => ch.charCodeAt(0) < 256) ? Buffer.from(s, 'latin1') : undefined);
  if (terms.some((t) => t === 'ISO 2022 IR 87' || t === 'ISO 2022 IR 159' || t === 'ISO 2022 IR 13')) {
    const jp = new TextDecoder('iso-2022-jp');
    return (s) => {
      const b = /\x1b/.test(s) ? bytesOf(s) : undefined;
      return b ? jp.decode(b) : s;
    };
  }
  if (terms.includes('ISO 2022 IR 149')) {
    const kr = new TextDecoder('euc-kr');
    return (s) => {
      const b = /[\x1b\x80-\xff]/.test(s) ? bytesOf(s.replaceAll('\x1b$)C', '')) : undefined;
      return b ? kr.decode(b) : s;
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

/** Reads the header of the series' first slice for the attributes the SR must repeat. Failures become warnings. */
export async function readSourceContext(volume: LoadedSeries, input: StudyInput): Promise<SourceContext> {
  const sopClasses = new Map<string, string>();
  for (const inst of volume.series.instances) sopClasses.set(inst.sopInstanceUid, inst.sopClassUid);
  const ctx: SourceContext = { elements: {}, frameOfReferenceUid: undefined, sopClasses, warnings: [] };
  const first = volume.series.layout?.slices[0]?.instance ?? volume.series.instances[0];
  if (!first) return ctx;
  try {
    const bytes = asPart10(await bytesOf(input, first.source), first);
    const dict = dcmjs.data.DicomMessage.readFile(toArrayBuffer(bytes), { ignoreErrors: true, untilTag: '7FE00010', includeUntilTagValue: false, noCopy: false }).dict;
    // Plain {vr, Value} copies: dcmjs elements carry accessors that cannot cross to a worker thread.
    const charsets = (dict['00080005'] as { _rawValue?: unknown } | undefined)?._rawValue ?? dict['00080005']?.Value;
    const redecode = iso2022Decoder(Array.isArray(charsets) ? charsets.map(String) : []);
    for (const tag of Object.keys(COPIED_TAGS)) {
      const el = dict[tag];
      if (!el) continue;
      const copy = JSON.parse(JSON.stringify({ vr: el.vr, Value: el.Value ?? [] })) as DcmjsDict[string] & { Value: unknown[] };
      if (redecode && tag !== '00080005') copy.Value = copy.Value.map((v) => mapStrings(v, redecode));
      ctx.elements[tag] = copy;
    }
    const fr = dict[FRAME_OF_REFERENCE]?.Value?.[0];
    if (typeof fr === 'string' && fr) ctx.frameOfReferenceUid = fr;
    else ctx.warnings.push('source series has no FrameOfReferenceUID: SR coordinates reference a new one');
  } catch (e) {
    ctx.warnings.push(`could not re-read the first slice's header for the SR (${e instanceof Error ? e.message : String(e)}); patient/study attributes left empty`);
  }
  return ctx;
}
