import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dcmjs, toArrayBuffer } from '../../src/outputs/dcmjs.js';
import { buildMeasurementReport, ds, serializeReport, COMPREHENSIVE_3D_SR } from '../../src/outputs/sr.js';
import { DISCLAIMER, type FindingsDocument, type FindingRecord } from '../../src/outputs/document.js';
import { dciodvfy, dsrdump, has } from './helpers.js';

const finding = (n: number, frame: number): FindingRecord => ({
  n, model: 'm', kind: n % 2 ? 'aneurysm' : 'other', label: 'x', score: 0.75, centerLps: [1.5, -2.25, 30], centerVoxel: [3, 4, 5],
  diameterMm: 6.123456789, volumeMm3: 120.5, sizeMethod: n % 2 ? 'half-max' : 'model-region', sliceIndex: 5, sopInstanceUid: '1.2.3.4.5', frameNumber: frame,
});

function doc(findings: FindingRecord[]): FindingsDocument {
  return {
    schemaVersion: 1, generator: { name: 'ctscope', version: '0.0.0' }, createdAt: '2024-05-06T07:08:09.000Z',
    series: { studyInstanceUid: '1.2.3', seriesInstanceUid: '1.2.3.4', frameOfReferenceUid: '1.2.3.9', modality: 'CT', dims: [8, 8, 8], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1], tiltDeg: 0 },
    models: [{ id: 'm', version: '2.0', sha256: '0'.repeat(64), task: 'aneurysm', labels: ['x'], description: '', licence: 'MIT', trainingData: 'none', provider: 'cpu', spacing: [1, 1, 1], dims: [8, 8, 8], patches: 1 }],
    findings, timings: { stages: [], totalMs: 1 }, warnings: [], files: [], disclaimer: DISCLAIMER,
  };
}

const context = { sopClasses: new Map([['1.2.3.4.5', '1.2.840.10008.5.1.4.1.1.2.1']]), frameOfReferenceUid: '1.2.3.9' };

function write(bytes: Uint8Array): string {
  const p = join(mkdtempSync(join(tmpdir(), 'ctscope-sr-')), 'sr.dcm');
  writeFileSync(p, bytes);
  return p;
}

describe('buildMeasurementReport', () => {
  it('is a Comprehensive 3D SR with one group per finding, evidence and frame numbers for multi-frame sources', () => {
    const ds0 = buildMeasurementReport(doc([finding(1, 3), finding(2, 7)]), context, { sopInstanceUid: '1.2.3.77' });
    const bytes = serializeReport(ds0, {});
    const back = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    expect(back.SOPClassUID).toBe(COMPREHENSIVE_3D_SR);
    expect(back.SOPInstanceUID).toBe('1.2.3.77');
    expect(back.PatientName ?? []).toEqual([]); // present but empty (type 2): nothing invented
    expect(back.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence[0].ReferencedSOPSequence[0].ReferencedSOPClassUID).toBe('1.2.840.10008.5.1.4.1.1.2.1');
    const groups = back.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence;
    expect(groups).toHaveLength(2);
    const center = groups[0].ContentSequence.find((c: any) => c.ConceptNameCodeSequence?.[0]?.CodeValue === '111010');
    expect(center.ValueType).toBe('NUM');
    const point = center.ContentSequence[0];
    expect(point).toMatchObject({ RelationshipType: 'INFERRED FROM', ValueType: 'SCOORD3D', GraphicType: 'POINT' });
    expect(point.GraphicData).toEqual([1.5, -2.25, 30]);
    expect(point.ReferencedFrameOfReferenceUID).toBe('1.2.3.9');
    // Each size names its method: measured on the image (half-max) or the detector's own region.
    const methods = groups.map((g: any) =>
      g.ContentSequence.filter((c: any) => c.ValueType === 'NUM' && ['81827009', '118565006'].includes(c.ConceptNameCodeSequence[0].CodeValue)).map((c: any) => c.ContentSequence[0].ConceptCodeSequence[0].CodeValue),
    );
    expect(methods).toEqual([['half-max', 'half-max'], ['heatmap-blob', 'heatmap-blob']]);
    const img = groups[1].ContentSequence.find((c: any) => c.ValueType === 'IMAGE');
    expect(String(img.ReferencedSOPSequence[0].ReferencedFrameNumber)).toBe('7');
    if (has('dciodvfy')) expect(dciodvfy(write(bytes)).errors).toEqual([]);
    if (has('dsrdump')) expect(dsrdump(write(bytes)).status).toBe(0);
  });

  it('a series without a Frame of Reference gets no 3-D point (a made-up UID resolves to nothing), the image point stays', () => {
    const d = doc([finding(1, 3)]);
    d.series.frameOfReferenceUid = null;
    const bytes = serializeReport(buildMeasurementReport(d, { sopClasses: context.sopClasses, frameOfReferenceUid: undefined }), {});
    const back = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    const group = back.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence[0];
    const center = group.ContentSequence.find((c: any) => c.ConceptNameCodeSequence?.[0]?.CodeValue === '111010');
    expect(center.ContentSequence.map((c: any) => c.ValueType)).toEqual(['SCOORD']);
    if (has('dciodvfy')) expect(dciodvfy(write(bytes)).errors).toEqual([]);
  });

  it('declares UTF-8 (ISO_IR 192) even when the source named no character set but had 8-bit names', () => {
    // dcmjs reads undeclared 8-bit bytes as Latin-1 and writes UTF-8: without the declaration the SR is non-conformant.
    const copied = { '00100010': { vr: 'PN', Value: [{ Alphabetic: 'M\u00fcller^J\u00fcrgen' }] } } as never;
    const bytes = serializeReport(buildMeasurementReport(doc([finding(1, 3)]), context), copied);
    const back = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    expect(back.SpecificCharacterSet).toBe('ISO_IR 192');
    expect(Buffer.from(bytes).includes(Buffer.from('M\u00fcller', 'utf8'))).toBe(true);
    if (has('dciodvfy')) expect(dciodvfy(write(bytes)).errors).toEqual([]);
  });

  it('an empty result is still a valid TID 1500 report: its containers, and which model found nothing', () => {
    const bytes = serializeReport(buildMeasurementReport(doc([]), context), {});
    if (has('dciodvfy')) {
      const v = dciodvfy(write(bytes));
      expect(v.errors, v.output).toEqual([]);
    }
    const back = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    const byCode = (v: string): any => back.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === v);
    // Image Library (TID 1600): with no finding, one group of the analysed images (a group needs an image).
    const group = byCode('111028').ContentSequence[0];
    expect(group.ContentSequence.map((c: any) => c.ReferencedSOPSequence[0].ReferencedSOPInstanceUID)).toEqual(['1.2.3.4.5']);
    expect(byCode('126010')).toBeTruthy(); // Imaging Measurements
    // Qualitative Evaluations is UMLS C0034375 (TID 1500 row 12); DCM 126011 would be Derived Imaging Measurements.
    expect(byCode('126011')).toBeUndefined();
    const qualitative = byCode('C0034375');
    expect(qualitative.ConceptNameCodeSequence[0].CodingSchemeDesignator).toBe('UMLS');
    const said = qualitative.ContentSequence[0];
    expect(said.ConceptCodeSequence[0].CodeValue).toBe('no-finding');
    expect(said.ContentSequence.map((c: any) => c.TextValue)).toEqual(['m', '2.0']);
    if (has('dsrdump')) {
      const out = dsrdump(write(bytes)).output;
      expect(out).not.toMatch(/Measurement Group/);
      expect(out).toMatch(/Image Library/);
    }
  });

  it('dates and times are in the zone of the study (its offset, else local time); a reference into an Enhanced CT names its frame, frame 1 too', () => {
    const read = (bytes: Uint8Array): Record<string, any> => dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    // createdAt 2024-05-06T07:08:09Z in a study at +0900: 16:08:09 that day, with the source's offset kept.
    const tokyo = read(serializeReport(buildMeasurementReport(doc([finding(1, 1)]), { ...context, timezoneOffset: '+0900' }), { '00080201': { vr: 'SH', Value: ['+0900'] } }));
    expect([tokyo.ContentDate, tokyo.ContentTime, tokyo.TimezoneOffsetFromUTC]).toEqual(['20240506', '160809', '+0900']);
    const west = read(serializeReport(buildMeasurementReport(doc([finding(1, 1)]), { ...context, timezoneOffset: '-0530' }), {}));
    expect([west.ContentDate, west.ContentTime]).toEqual(['20240506', '013809']);
    // No offset in the source: this machine's local time, and no offset claimed.
    const back = read(serializeReport(buildMeasurementReport(doc([finding(1, 1)]), context), {}));
    const local = new Date('2024-05-06T07:08:09.000Z');
    const pad = (n: number): string => String(n).padStart(2, '0');
    expect(back.ContentTime).toBe(`${pad(local.getHours())}${pad(local.getMinutes())}${pad(local.getSeconds())}`);
    expect(back.TimezoneOffsetFromUTC).toBeUndefined();
    const group = back.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '126010').ContentSequence[0];
    const img = group.ContentSequence.find((c: any) => c.ValueType === 'IMAGE');
    expect(String(img.ReferencedSOPSequence[0].ReferencedFrameNumber)).toBe('1');
  });

  it('DS values fit in 16 characters', () => {
    for (const x of [6.123456789012, 1e-12, -123456789.987654, 0.1 + 0.2, 12345678901234567]) expect(ds(x).length).toBeLessThanOrEqual(16);
    expect(Number(ds(6.123456789012))).toBeCloseTo(6.123456789, 6);
  });
});

describe('building the SR off the host thread', () => {
  it('an abort is E_ABORTED in ctscope words, not the worker library message', async () => {
    const { srBytesOffThread } = await import('../../src/outputs/sr-task.js');
    const ac = new AbortController();
    ac.abort();
    const e = await srBytesOffThread({} as never, ac.signal).catch((x: unknown) => x as Error & { code: string });
    expect(e).toMatchObject({ code: 'E_ABORTED', message: 'building the DICOM SR was aborted' });
  });
});

describe('patient names in ISO 2022 character sets', () => {
  it('are decoded (the PS3.5 H.3.1 example) before the SR writes them as UTF-8; single-byte sets need nothing', async () => {
    const { iso2022Decoder } = await import('../../src/outputs/source.js');
    // As dcmjs leaves the Ideographic and Phonetic groups: one character per byte, escapes kept.
    const ideographic = '\x1b$B;3ED\x1b(B^\x1b$BB@O:\x1b(B';
    const phonetic = '\x1b$B$d$^$@\x1b(B^\x1b$B$?$m$&\x1b(B';
    const jp = iso2022Decoder(['', 'ISO 2022 IR 87'])!;
    expect(`${jp('Yamada^Tarou')}=${jp(ideographic)}=${jp(phonetic)}`).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう');
    // Korean (PS3.5 I.2): bytes still raw, or already decoded by dcmjs with the escape left in.
    const kr = iso2022Decoder(['', 'ISO 2022 IR 149'])!;
    const hong = Buffer.from([0xc8, 0xab, 0xb1, 0xe6, 0xb5, 0xbf]).toString('latin1');
    expect(kr(`Hong^Gildong=\x1b$)C${hong}`)).toBe('Hong^Gildong=홍길동');
    expect(kr('\x1b$)C홍길동')).toBe('홍길동');
    // Chinese GB2312 (IR 58): 'Wang^XiaoDong=王^小东'.
    const cn = iso2022Decoder(['', 'ISO 2022 IR 58'])!;
    expect(cn(`Wang^XiaoDong=\x1b$)A${Buffer.from([0xcd, 0xf5, 0x5e, 0x1b, 0x24, 0x29, 0x41, 0xd0, 0xa1, 0xb6, 0xab]).toString('latin1')}`)).toBe('Wang^XiaoDong=王^小东');
    expect(iso2022Decoder(['ISO_IR 100'])).toBeUndefined();
    expect(iso2022Decoder([])).toBeUndefined();
  });
});

describe('source attributes of the wrong VR or with garbage values', () => {
  it('are written with the dictionary VR, or left out with a warning naming the attribute, and the SR stays valid', async () => {
    const { parseSourceHeader } = await import('../../src/outputs/source.js');
    const { DicomDict } = dcmjs().data;
    const source = new DicomDict({ '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] }, '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00020003': { vr: 'UI', Value: ['1.2.3'] } });
    source.dict = {
      '00080005': { vr: 'CS', Value: ['ISO_IR 100'] },
      // A patient ID stored as bytes: building the SR failed ("DataView constructor") and the whole run with it.
      '00100020': { vr: 'OB', Value: [new Uint8Array(Buffer.from('ZZID77\0\0')).buffer] },
      '00100010': { vr: 'PN', Value: [{ Alphabetic: 'DOE^JANE' }] },
      '00080020': { vr: 'US', Value: [7] },
      '00080030': { vr: 'TM', Value: ['256199'] },
      '00100030': { vr: 'DA', Value: ['19010203'] },
      '00200052': { vr: 'UI', Value: ['1.2.3.9'] },
    };
    const header = parseSourceHeader(new Uint8Array(source.write()));
    expect(header.warnings).toEqual([
      'source PatientID has VR OB where LO belongs; written as LO',
      'source StudyDate has VR US where DA belongs, with values that are no text in a character set read here; left out of the SR',
      'source StudyTime is not a valid TM value; left out of the SR',
    ]);
    expect(header.elements['00100020']).toEqual({ vr: 'LO', Value: ['ZZID77'] });
    expect(Object.keys(header.elements).sort()).toEqual(['00080005', '00100010', '00100020', '00100030']);
    const bytes = serializeReport(buildMeasurementReport(doc([finding(1, 3)]), context, { sopInstanceUid: '1.2.3.78' }), header.elements);
    const back = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(bytes)).dict) as Record<string, any>;
    expect(back.PatientID).toBe('ZZID77');
    if (has('dciodvfy')) expect(dciodvfy(write(bytes)).errors).toEqual([]);
  });

  it('a TimezoneOffsetFromUTC out of range is no offset (+9999 moved the SR\'s date by days)', async () => {
    const { dicomDateTime } = await import('../../src/outputs/uid.js');
    const at = new Date('2026-11-25T12:00:00Z');
    expect(dicomDateTime(at, '+0900')).toEqual({ date: '20261125', time: '210000' });
    expect(dicomDateTime(at, '+1400')).toEqual({ date: '20261126', time: '020000' });
    expect(dicomDateTime(at, '-1200')).toEqual({ date: '20261125', time: '000000' });
    for (const broken of ['+9999', '-1300', '+1459', '+0960']) expect(dicomDateTime(at, broken), broken).toEqual(dicomDateTime(at));
  });

  it('bytes are read in the source\'s character set, UN under UTF-8 as UTF-8, and padded dates keep their value', async () => {
    const { parseSourceHeader } = await import('../../src/outputs/source.js');
    const { DicomDict } = dcmjs().data;
    const part10 = (dict: Record<string, unknown>): Uint8Array => {
      const d = new DicomDict({ '00020010': { vr: 'UI', Value: ['1.2.840.10008.1.2.1'] }, '00020002': { vr: 'UI', Value: ['1.2.840.10008.5.1.4.1.1.2'] }, '00020003': { vr: 'UI', Value: ['1.2.3'] } });
      d.dict = dict as never;
      return new Uint8Array(d.write());
    };
    const cyrillic = parseSourceHeader(part10({
      '00080005': { vr: 'CS', Value: ['ISO_IR 144'] },
      '00100020': { vr: 'OB', Value: [new Uint8Array([0xb8, 0xd2, 0xd0, 0x31]).buffer] },
      '00080030': { vr: 'TM', Value: ['121212\0'] },
    }));
    expect(cyrillic.elements['00100020']).toEqual({ vr: 'LO', Value: ['\u0418\u0432\u0430' + '1'] });
    expect(cyrillic.elements['00080030']?.Value).toEqual(['121212']);
    // An over-long or unknown-VR name under UTF-8: dcmjs reads UN one character per byte.
    const name = 'M\u00fcller^J\u00fcrgen';
    const un = parseSourceHeader(part10({
      '00080005': { vr: 'CS', Value: ['ISO_IR 192'] },
      '00100010': { vr: 'UN', Value: [new Uint8Array(Buffer.from(name, 'utf8')).buffer] },
    }));
    expect(JSON.stringify(un.elements['00100010'])).toContain(name);
    // Bytes in an ISO 2022 set are not guessed at: left out, with a warning.
    const jis = parseSourceHeader(part10({ '00080005': { vr: 'CS', Value: ['', 'ISO 2022 IR 87'] }, '00100020': { vr: 'OB', Value: [new Uint8Array([0x41, 0x42]).buffer] } }));
    expect(jis.elements['00100020']).toBeUndefined();
    expect(jis.warnings.join('\n')).toMatch(/source PatientID has VR OB where LO belongs, with values that are no text in a character set read here; left out/);
  });
});
