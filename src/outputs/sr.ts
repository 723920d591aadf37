import type { SourceContext } from './source.js';
import type { FindingRecord, FindingsDocument } from './document.js';
import type { SizeMethod } from '../inference/findings.js';
import type { ModelTask } from '../inference/manifest.js';
import { version } from '../version.js';
import { dcmjs, type DcmjsDict } from './dcmjs.js';
import { IMPLEMENTATION, dicomDateTime, nameUid, newUid } from './uid.js';

/** Comprehensive 3D SR Storage. */
export const COMPREHENSIVE_3D_SR = '1.2.840.10008.5.1.4.1.1.88.34';
const CT_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.2';
/** Enhanced CT and Legacy Converted Enhanced CT: multi-frame by definition, so a reference names its frame. */
const MULTI_FRAME_CLASSES = new Set(['1.2.840.10008.5.1.4.1.1.2.1', '1.2.840.10008.5.1.4.1.1.2.2']);
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const DEVICE_OBSERVER_UID = nameUid('ctscope device observer');
const LOCAL_SCHEME = '99CTSCOPE';

interface Code {
  CodeValue: string;
  CodingSchemeDesignator: string;
  CodeMeaning: string;
}
const code = (CodeValue: string, CodingSchemeDesignator: string, CodeMeaning: string): Code => ({ CodeValue, CodingSchemeDesignator, CodeMeaning });

/** Concept names used in the report, one table (DCM = PS3.16, SCT = SNOMED CT, UCUM units). */
export const CODES = {
  report: code('126000', 'DCM', 'Imaging Measurement Report'),
  language: code('121049', 'DCM', 'Language of Content Item and Descendants'),
  english: code('en-US', 'RFC5646', 'English (United States)'),
  observerType: code('121005', 'DCM', 'Observer Type'),
  device: code('121007', 'DCM', 'Device'),
  deviceUid: code('121012', 'DCM', 'Device Observer UID'),
  deviceName: code('121013', 'DCM', 'Device Observer Name'),
  procedure: code('121058', 'DCM', 'Procedure reported'),
  ct: code('77477000', 'SCT', 'Computerized axial tomography'),
  imageLibrary: code('111028', 'DCM', 'Image Library'),
  imageLibraryGroup: code('126200', 'DCM', 'Image Library Group'),
  measurements: code('126010', 'DCM', 'Imaging Measurements'),
  // TID 1500 row 12 (as dcmjs writes it); DCM 126011 is "Derived Imaging Measurements", another container.
  qualitative: code('C0034375', 'UMLS', 'Qualitative Evaluations'),
  noFinding: code('no-finding', LOCAL_SCHEME, 'No finding detected by the model'),
  group: code('125007', 'DCM', 'Measurement Group'),
  trackingId: code('112039', 'DCM', 'Tracking Identifier'),
  trackingUid: code('112040', 'DCM', 'Tracking Unique Identifier'),
  finding: code('121071', 'DCM', 'Finding'),
  algorithmName: code('111001', 'DCM', 'Algorithm Name'),
  algorithmVersion: code('111003', 'DCM', 'Algorithm Version'),
  center: code('111010', 'DCM', 'Center'),
  diameter: code('81827009', 'SCT', 'Diameter'),
  volume: code('118565006', 'SCT', 'Volume'),
  score: code('score', LOCAL_SCHEME, 'Detection score'),
  method: code('370129005', 'SCT', 'Measurement Method'),
  blobSize: code('heatmap-blob', LOCAL_SCHEME, 'Size of the detector heatmap region, not a lesion measurement'),
  halfMaxSize: code('half-max', LOCAL_SCHEME, 'Image half-maximum edge, median of 64 rays'),
  boxSize: code('detector-box', LOCAL_SCHEME, 'Size of the detector box, not a lesion measurement'),
  source: code('121112', 'DCM', 'Source of Measurement'),
  mm: code('mm', 'UCUM', 'millimeter'),
  mm3: code('mm3', 'UCUM', 'cubic millimeter'),
  unitless: code('1', 'UCUM', 'no units'),
} as const;

const SIZE_METHOD_CODES: Readonly<Record<SizeMethod, Code>> = { 'half-max': CODES.halfMaxSize, 'model-region': CODES.blobSize, 'model-box': CODES.boxSize };

/** Finding type code per model task. */
export const FINDING_CODES: Readonly<Record<ModelTask, Code>> = {
  nodule: code('786838002', 'SCT', 'Pulmonary nodule'),
  aneurysm: code('432119003', 'SCT', 'Aneurysm'),
  other: code('finding', LOCAL_SCHEME, 'Model finding'),
};

/** A dcmjs naturalised dataset (an SR content item, or the whole report). */
export type SrDataset = Record<string, unknown>;

function item(rel: string | undefined, valueType: string, concept: Code, value: SrDataset = {}): SrDataset {
  return { ...(rel ? { RelationshipType: rel } : {}), ValueType: valueType, ConceptNameCodeSequence: [concept], ...value };
}

/** DS: at most 16 characters. */
export function ds(x: number): string {
  for (let p = 10; p > 1; p--) {
    const s = String(Number(x.toPrecision(p)));
    if (s.length <= 16) return s;
  }
  return x.toExponential(6);
}

const num = (concept: Code, value: number, unit: Code, method?: Code): SrDataset =>
  item('CONTAINS', 'NUM', concept, {
    MeasuredValueSequence: [{ NumericValue: ds(value), MeasurementUnitsCodeSequence: [unit] }],
    ...(method ? { ContentSequence: [item('HAS CONCEPT MOD', 'CODE', CODES.method, { ConceptCodeSequence: [method] })] } : {}),
  });

function imageRef(sopClass: string, sopInstance: string, frame: number | undefined): SrDataset {
  const ref: SrDataset = { ReferencedSOPClassUID: sopClass, ReferencedSOPInstanceUID: sopInstance };
  if (frame !== undefined) ref.ReferencedFrameNumber = String(frame);
  return { ReferencedSOPSequence: [ref] };
}

/** Algorithm Name and Version (TID 4019) of the model behind a finding, or behind a run that found nothing. */
const algorithm = (id: string, version: string | undefined): SrDataset[] => [
  item('HAS CONCEPT MOD', 'TEXT', CODES.algorithmName, { TextValue: id }),
  item('HAS CONCEPT MOD', 'TEXT', CODES.algorithmVersion, { TextValue: version ?? 'unknown' }),
];

/** One TID 1500 measurement group for a finding (tracking ids, type, centre point, measurements). */
/**
 * The centre as a point on a 3-D frame (SCOORD3D), which needs the series' own Frame of Reference (a made-up one
 * resolves to nothing, PS3.3 C.18.9), and on its image (SCOORD); none when neither can be given.
 */
function centre(f: FindingRecord, frameOfReferenceUid: string | undefined, sopClassOf: (uid: string) => string, frameOf: (f: FindingRecord) => number | undefined): SrDataset[] {
  const points: SrDataset[] = [
    ...(frameOfReferenceUid ? [{ RelationshipType: 'INFERRED FROM', ValueType: 'SCOORD3D', GraphicType: 'POINT', GraphicData: [...f.centerLps], ReferencedFrameOfReferenceUID: frameOfReferenceUid }] : []),
    ...(f.sopInstanceUid
      ? [{
          RelationshipType: 'INFERRED FROM', ValueType: 'SCOORD', GraphicType: 'POINT', GraphicData: [f.centerVoxel[0] + 0.5, f.centerVoxel[1] + 0.5],
          ContentSequence: [{ RelationshipType: 'SELECTED FROM', ValueType: 'IMAGE', ...imageRef(sopClassOf(f.sopInstanceUid), f.sopInstanceUid, frameOf(f)) }],
        }]
      : []),
  ];
  return points.length ? [item('CONTAINS', 'NUM', CODES.center, { MeasuredValueSequence: [{ NumericValue: '0', MeasurementUnitsCodeSequence: [CODES.unitless] }], ContentSequence: points })] : [];
}

function measurementGroup(f: FindingRecord, doc: FindingsDocument, frameOfReferenceUid: string | undefined, sopClassOf: (uid: string) => string, frameOf: (f: FindingRecord) => number | undefined): SrDataset {
  const model = doc.models.find((m) => m.id === f.model);
  const children: SrDataset[] = [
    item('HAS OBS CONTEXT', 'TEXT', CODES.trackingId, { TextValue: `finding-${f.n}` }),
    item('HAS OBS CONTEXT', 'UIDREF', CODES.trackingUid, { UID: newUid() }),
    item('CONTAINS', 'CODE', CODES.finding, { ConceptCodeSequence: [FINDING_CODES[f.kind]] }),
    ...algorithm(f.model, model?.version),
    // The centre as dcmjs writes (and OHIF reads) a point measurement: a NUM "Center" inferred from a 3-D point
    // (TID 300 with TID 320), not a bare SCOORD3D in the group, which TID 1501 has no row for. The same point on
    // its image (column, row; 0.5 is a pixel's centre) serves viewers that place 2-D annotations only.
    ...centre(f, frameOfReferenceUid, sopClassOf, frameOf),
    // The method says where a size comes from: the image, or the detector's own output (no lesion measurement).
    num(CODES.diameter, f.diameterMm, CODES.mm, SIZE_METHOD_CODES[f.sizeMethod]),
    num(CODES.volume, f.volumeMm3, CODES.mm3, SIZE_METHOD_CODES[f.sizeMethod]),
    num(CODES.score, f.score, CODES.unitless),
  ];
  if (f.sopInstanceUid) children.push(item('CONTAINS', 'IMAGE', CODES.source, imageRef(sopClassOf(f.sopInstanceUid), f.sopInstanceUid, frameOf(f))));
  return item('CONTAINS', 'CONTAINER', CODES.group, { ContinuityOfContent: 'SEPARATE', ContentSequence: children });
}

export interface SrOptions {
  /** SOP Instance UID of the SR (default: a new one). */
  sopInstanceUid?: string;
  seriesInstanceUid?: string;
  seriesNumber?: number;
}

/**
 * A Comprehensive 3D SR measurement report (TID 1500) as a naturalised dcmjs data set: one measurement group
 * per finding, the source series as evidence. Patient/study attributes are added by `srBytes` from the source.
 */
export function buildMeasurementReport(doc: FindingsDocument, context: Pick<SourceContext, 'sopClasses' | 'frameOfReferenceUid'> & { timezoneOffset?: string | undefined }, options: SrOptions = {}): SrDataset {
  // In the study's zone: its own offset when the source gives one (copied into the SR with the study
  // attributes), else this machine's local time, as the source's dates are.
  const now = dicomDateTime(new Date(doc.createdAt), context.timezoneOffset);
  const frameOfReferenceUid = context.frameOfReferenceUid ?? doc.series.frameOfReferenceUid ?? undefined;
  const sopClassOf = (uid: string): string => context.sopClasses.get(uid) ?? CT_IMAGE_STORAGE;
  // A reference names its frame where the instance has several: an Enhanced CT class, or a finding past frame 1.
  const severalFrames = new Set(doc.findings.filter((f) => f.frameNumber > 1).map((f) => f.sopInstanceUid));
  const frameOf = (f: FindingRecord): number | undefined => (MULTI_FRAME_CLASSES.has(sopClassOf(f.sopInstanceUid)) || severalFrames.has(f.sopInstanceUid) ? f.frameNumber : undefined);
  const referenced = [...new Map(doc.findings.filter((f) => f.sopInstanceUid).map((f) => [`${f.sopInstanceUid}:${f.frameNumber}`, f])).values()];
  // Content Sequence is Type 1C (only when there are children), so the containers TID 1500 requires stay even
  // when empty: a valid report that says the models ran and found nothing.
  const container = (concept: Code, children: SrDataset[]): SrDataset =>
    item('CONTAINS', 'CONTAINER', concept, { ContinuityOfContent: 'SEPARATE', ...(children.length ? { ContentSequence: children } : {}) });
  // TID 1600 needs at least one Image Library Group with an image: the images findings point at, or, with no
  // finding, the images that were analysed.
  const libraryImages = referenced.length
    ? referenced.map((f) => imageRef(sopClassOf(f.sopInstanceUid), f.sopInstanceUid, frameOf(f)))
    : [...context.sopClasses.entries()].map(([uid, cls]) => imageRef(cls, uid, undefined));
  const library = container(CODES.imageLibrary, libraryImages.length ? [container(CODES.imageLibraryGroup, libraryImages.map((ref) => ({ RelationshipType: 'CONTAINS', ValueType: 'IMAGE', ...ref })))] : []);
  const measurements = container(CODES.measurements, doc.findings.map((f) => measurementGroup(f, doc, frameOfReferenceUid, sopClassOf, frameOf)));
  // Each model that found nothing says so, so that "ran and found nothing" differs from "did not run".
  const silent = doc.models.filter((m) => !doc.findings.some((f) => f.model === m.id));
  const qualitative = container(
    CODES.qualitative,
    silent.map((m) => item('CONTAINS', 'CODE', CODES.finding, { ConceptCodeSequence: [CODES.noFinding], ContentSequence: algorithm(m.id, m.version) })),
  );
  const content: SrDataset[] = [
    item('HAS CONCEPT MOD', 'CODE', CODES.language, { ConceptCodeSequence: [CODES.english] }),
    item('HAS OBS CONTEXT', 'CODE', CODES.observerType, { ConceptCodeSequence: [CODES.device] }),
    item('HAS OBS CONTEXT', 'UIDREF', CODES.deviceUid, { UID: DEVICE_OBSERVER_UID }),
    item('HAS OBS CONTEXT', 'TEXT', CODES.deviceName, { TextValue: 'ctscope' }),
    item('HAS CONCEPT MOD', 'CODE', CODES.procedure, { ConceptCodeSequence: [CODES.ct] }),
  ];
  content.push(library, measurements);
  if (silent.length) content.push(qualitative);
  const evidence = [...context.sopClasses.entries()].map(([uid, cls]) => ({ ReferencedSOPClassUID: cls, ReferencedSOPInstanceUID: uid }));
  return {
    SOPClassUID: COMPREHENSIVE_3D_SR,
    SOPInstanceUID: options.sopInstanceUid ?? newUid(),
    Modality: 'SR',
    SeriesInstanceUID: options.seriesInstanceUid ?? newUid(),
    SeriesNumber: String(options.seriesNumber ?? 9901),
    SeriesDescription: 'ctscope AI findings (research use only)',
    InstanceNumber: '1',
    Manufacturer: 'ctscope',
    SoftwareVersions: version,
    InstanceCreationDate: now.date,
    InstanceCreationTime: now.time,
    ContentDate: now.date,
    ContentTime: now.time,
    StudyInstanceUID: doc.series.studyInstanceUid,
    CompletionFlag: 'COMPLETE',
    VerificationFlag: 'UNVERIFIED',
    ReferencedPerformedProcedureStepSequence: [],
    PerformedProcedureCodeSequence: [],
    CodingSchemeIdentificationSequence: [{ CodingSchemeDesignator: LOCAL_SCHEME, CodingSchemeName: 'ctscope local codes', CodingSchemeResponsibleOrganization: 'ctscope' }],
    CurrentRequestedProcedureEvidenceSequence: [
      { StudyInstanceUID: doc.series.studyInstanceUid, ReferencedSeriesSequence: [{ SeriesInstanceUID: doc.series.seriesInstanceUid, ReferencedSOPSequence: evidence }] },
    ],
    ValueType: 'CONTAINER',
    ConceptNameCodeSequence: [CODES.report],
    ContinuityOfContent: 'SEPARATE',
    ContentTemplateSequence: [{ MappingResource: 'DCMR', TemplateIdentifier: '1500' }],
    ContentSequence: content,
  };
}

/** Type 2 attributes of the Patient and General Study modules, empty unless the source had them. */
const EMPTY_TYPE2: Record<string, DcmjsDict[string]> = {
  '00100010': { vr: 'PN', Value: [] },
  '00100020': { vr: 'LO', Value: [] },
  '00100030': { vr: 'DA', Value: [] },
  '00100040': { vr: 'CS', Value: [] },
  '00080020': { vr: 'DA', Value: [] },
  '00080030': { vr: 'TM', Value: [] },
  '00080090': { vr: 'PN', Value: [] },
  '00200010': { vr: 'SH', Value: [] },
  '00080050': { vr: 'SH', Value: [] },
};

/** Serialises a report data set as a DICOM Part 10 file (Explicit VR Little Endian) with the source's patient/study elements. */
export function serializeReport(dataset: SrDataset, copied: DcmjsDict): Uint8Array {
  const { DicomDict, DicomMetaDictionary } = dcmjs().data;
  const versionBytes = new Uint8Array([0, 1]);
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: versionBytes.buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_LE,
    ImplementationClassUID: IMPLEMENTATION.classUid,
    ImplementationVersionName: IMPLEMENTATION.version,
  });
  const dict = new DicomDict(meta);
  // dcmjs writes every string as UTF-8, so the SR says so itself: a source without SpecificCharacterSet may still
  // hold 8-bit names (common in the wild), which would otherwise land as undeclared UTF-8 (PS3.3 C.12.1.1.2).
  dict.dict = { ...EMPTY_TYPE2, ...copied, '00080005': { vr: 'CS', Value: ['ISO_IR 192'] }, ...DicomMetaDictionary.denaturalizeDataset(dataset) };
  // Values copied from the source may break the VR's length (a name over 64 characters is seen in the wild): they
  // are written as they are rather than failing a finished analysis, and dcmjs's length error would quote them.
  return new Uint8Array(dict.write({ allowInvalidVRLength: true }));
}

/** The SR of a findings document as Part 10 bytes. */
export function srBytes(doc: FindingsDocument, context: SourceContext, options: SrOptions = {}): Uint8Array {
  const offset = context.elements['00080201']?.Value?.[0];
  return serializeReport(buildMeasurementReport(doc, { ...context, timezoneOffset: typeof offset === 'string' && offset ? offset : undefined }, options), context.elements);
}
