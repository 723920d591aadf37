import { readSource } from '../dicom/decode-task.js';
import type { DicomInstance } from '../dicom/types.js';
import type { BufferInput, LoadedSeries, StudyInput } from '../ingest/load.js';
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

function isBufferList(input: StudyInput): input is readonly BufferInput[] {
  return Array.isArray(input) && input.length > 0 && typeof input[0] === 'object' && input[0] !== null && 'bytes' in input[0];
}

/** Bytes of an instance by its source name, named as the loader names buffers (`buffer-<n>`, `name#<n>` for repeats). */
export async function bytesOf(input: StudyInput, source: string): Promise<Uint8Array> {
  if (!isBufferList(input)) return readSource(source);
  const seen = new Set<string>();
  for (let n = 0; n < input.length; n++) {
    const b = input[n]!;
    let name = b.name || `buffer-${n + 1}`;
    if (seen.has(name)) name = `${name}#${n + 1}`;
    seen.add(name);
    if (name === source) return b.bytes;
  }
  throw new Error('source buffer not found');
}

/**
 * dcmjs reads Part 10 files only. An instance ctscope read without preamble or File Meta (ACR-NEMA style, or after
 * stray leading bytes) gets both put in front of its data set, with the transfer syntax ctscope found.
 */
export function asPart10(bytes: Uint8Array, inst: Pick<DicomInstance, 'hasPreamble' | 'hasFileMeta' | 'dataSetOffset' | 'transferSyntaxUid'>): Uint8Array {
  if (inst.hasPreamble && inst.hasFileMeta) return bytes;
  const uid = inst.transferSyntaxUid.length % 2 ? `${inst.transferSyntaxUid}\0` : inst.transferSyntaxUid;
  const syntax = new Uint8Array(8 + uid.length);
  const v = new DataView(syntax.buffer);
  v.setUint16(0, 0x0002, true);
  v.setUint16(2, 0x0010, true);
  syntax.set([0x55, 0x49], 4); // "UI"
  v.setUint16(6, uid.length, true);
  for (let i = 0; i < uid.length; i++) syntax[8 + i] = uid.charCodeAt(i);
  const groupLength = new Uint8Array(12);
  const g = new DataView(groupLength.buffer);
  g.setUint16(0, 0x0002, true);
  g.setUint16(2, 0x0000, true);
  groupLength.set([0x55, 0x4c], 4); // "UL"
  g.setUint16(6, 4, true);
  g.setUint32(8, syntax.length, true);
  const data = bytes.subarray(inst.dataSetOffset ?? 0);
  const out = new Uint8Array(132 + groupLength.length + syntax.length + data.length);
  out.set([0x44, 0x49, 0x43, 0x4d], 128); // "DICM"
  out.set(groupLength, 132);
  out.set(syntax, 132 + groupLength.length);
  out.set(data, 132 + groupLength.length + syntax.length);
  return out;
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
    for (const tag of Object.keys(COPIED_TAGS)) {
      const el = dict[tag];
      if (el) ctx.elements[tag] = JSON.parse(JSON.stringify({ vr: el.vr, Value: el.Value ?? [] })) as DcmjsDict[string];
    }
    const fr = dict[FRAME_OF_REFERENCE]?.Value?.[0];
    if (typeof fr === 'string' && fr) ctx.frameOfReferenceUid = fr;
    else ctx.warnings.push('source series has no FrameOfReferenceUID: SR coordinates reference a new one');
  } catch (e) {
    ctx.warnings.push(`could not re-read the first slice's header for the SR (${e instanceof Error ? e.message : String(e)}); patient/study attributes left empty`);
  }
  return ctx;
}
