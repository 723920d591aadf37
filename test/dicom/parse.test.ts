import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateRawSync } from 'node:zlib';
import { parseInstance, readHeader, readInstance } from '../../src/dicom/parse.js';
import { encodeElements, fileMeta, type Element } from '../../src/dicom/write.js';
import { loadSeries } from '../../src/ingest/load.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chest, chestTs, codeOf, codeOfAsync } from './helpers.js';

describe('parseInstance on bytes that are not DICOM', () => {
  it('rejects an empty buffer with E_NOT_DICOM', () => {
    expect(codeOf(() => parseInstance(new Uint8Array(0), 'empty'))).toBe('E_NOT_DICOM');
  });

  it('rejects random bytes with E_NOT_DICOM', () => {
    // A fixed-seed generator so the test is repeatable.
    let x = 12345;
    const b = new Uint8Array(4096).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24));
    expect(codeOf(() => parseInstance(b, 'random'))).toBe('E_NOT_DICOM');
  });

  it('rejects text with E_NOT_DICOM', () => {
    expect(codeOf(() => parseInstance(new TextEncoder().encode('hello, this is not a DICOM file\n'.repeat(20)), 'text'))).toBe('E_NOT_DICOM');
  });

  it('a deflate bomb is refused with E_TOO_LARGE after at most 200 times its size (plus 64 MiB), not inflated to 2 GiB', () => {
    // 100 MiB of zeros in a private OB before the pixels deflate to about 100 KiB (a 1.5 MB file of this kind
    // used to take 35 s and 4.7 GB of memory to refuse).
    const data = Buffer.concat([
      encodeElements([
        { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.2' },
        { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.6' },
        { tag: 0x00280010, vr: 'US', value: 2 },
        { tag: 0x00280011, vr: 'US', value: 2 },
      ]),
      Buffer.from([0x09, 0x00, 0x10, 0x10, 0x4f, 0x42, 0, 0]),
      Buffer.from(Uint32Array.of(100 * 2 ** 20).buffer),
      Buffer.alloc(100 * 2 ** 20),
    ]);
    const bytes = Buffer.concat([fileMeta('1.2.840.10008.5.1.4.1.1.2', '1.2.3.4.6', '1.2.840.10008.1.2.1.99', { classUid: '1.2.3.4', version: 'TEST' }), deflateRawSync(data)]);
    expect(bytes.length).toBeLessThan(200 * 2 ** 10);
    const t = performance.now();
    expect(codeOf(() => parseInstance(bytes, 'bomb'))).toBe('E_TOO_LARGE');
    console.log(`deflate bomb refused in ${(performance.now() - t).toFixed(0)} ms`);
  });

  it('sequences nested more than 64 deep are E_BAD_DICOM (1500 levels held dcmjs on the host thread for 5 s)', () => {
    // Content Sequence (0040,A730) items of undefined length, each holding the next level.
    const nest = (depth: number): Buffer => {
      const open = Buffer.from([0x40, 0x00, 0x30, 0xa7, 0x53, 0x51, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xfe, 0xff, 0x00, 0xe0, 0xff, 0xff, 0xff, 0xff]);
      const close = Buffer.from([0xfe, 0xff, 0x0d, 0xe0, 0, 0, 0, 0, 0xfe, 0xff, 0xdd, 0xe0, 0, 0, 0, 0]);
      return Buffer.concat([...Array<Buffer>(depth).fill(open), ...Array<Buffer>(depth).fill(close)]);
    };
    const file = (depth: number): Buffer =>
      Buffer.concat([
        fileMeta('1.2.840.10008.5.1.4.1.1.88.11', '1.2.3.4.7', '1.2.840.10008.1.2.1', { classUid: '1.2.3.4', version: 'TEST' }),
        encodeElements([
          { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.88.11' },
          { tag: 0x00080018, vr: 'UI', value: '1.2.3.4.7' },
        ]),
        nest(depth),
      ]);
    expect(() => parseInstance(file(64), 'deep 64')).not.toThrow();
    expect(codeOf(() => parseInstance(file(65), 'deep 65'))).toBe('E_BAD_DICOM');
    expect(codeOf(() => parseInstance(file(1500), 'deep 1500'))).toBe('E_BAD_DICOM');
  });

  it('readHeader and readInstance map a missing file to E_NOT_FOUND', async () => {
    expect(await codeOfAsync(readHeader('/nonexistent/ctscope/file.dcm'))).toBe('E_NOT_FOUND');
    expect(await codeOfAsync(readInstance('/nonexistent/ctscope/file.dcm'))).toBe('E_NOT_FOUND');
  });

  it('readHeader rejects an empty file and a random file with E_NOT_DICOM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-dicom-'));
    writeFileSync(join(dir, 'empty.dcm'), new Uint8Array(0));
    let x = 99;
    writeFileSync(join(dir, 'random.dcm'), new Uint8Array(200_000).map(() => ((x = (x * 1103515245 + 12345) >>> 0) >>> 24)));
    expect(await codeOfAsync(readHeader(join(dir, 'empty.dcm')))).toBe('E_NOT_DICOM');
    expect(await codeOfAsync(readHeader(join(dir, 'random.dcm')))).toBe('E_NOT_DICOM');
  });
});

describe.skipIf(!hasSharedData)('parseInstance on the shared corpus', () => {
  it('reads the chest CT slice (implicit VR LE) with every field', async () => {
    const { instance: i } = await readInstance(chest());
    expect(i.transferSyntaxUid).toBe('1.2.840.10008.1.2');
    expect(i.hasPreamble).toBe(true);
    expect(i.hasFileMeta).toBe(true);
    expect(i.modality).toBe('CT');
    expect([i.rows, i.columns, i.numberOfFrames, i.samplesPerPixel]).toEqual([512, 512, 1, 1]);
    expect([i.bitsAllocated, i.bitsStored, i.highBit, i.pixelRepresentation]).toEqual([16, 16, 15, 1]);
    expect(i.photometricInterpretation).toBe('MONOCHROME2');
    expect(i.pixelPaddingValue).toBe(-32768);
    expect(i.sopInstanceUid).toMatch(/^[0-9.]+$/);
    expect(i.seriesInstanceUid).toMatch(/^[0-9.]+$/);
    expect(i.imageType[0]).toBe('ORIGINAL');
    expect(i.frames).toHaveLength(1);
    expect(i.frames[0]!.rescaleSlope).toBe(1);
    expect(i.frames[0]!.rescaleIntercept).toBe(-1024);
    expect(i.frames[0]!.imagePositionPatient).toHaveLength(3);
    expect(i.frames[0]!.imageOrientationPatient).toHaveLength(6);
    expect(i.frames[0]!.pixelSpacing).toHaveLength(2);
    expect(i.pixelData).toEqual({ encapsulated: false, offset: i.byteLength - 512 * 512 * 2, length: 512 * 512 * 2 });
  });

  it('reads explicit big endian and deflated headers to the same values', async () => {
    const ile = (await readInstance(chest())).instance;
    for (const path of [
      chestTs('BigEndianExplicitTransferSyntax', '1.2.840.10008.1.2.2'),
      chestTs('DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99'),
    ]) {
      const { instance: i } = await readInstance(path);
      expect(i.sopInstanceUid).toBe(ile.sopInstanceUid);
      expect(i.frames).toEqual(ile.frames);
      expect([i.rows, i.columns, i.bitsStored, i.pixelRepresentation, i.pixelPaddingValue]).toEqual([512, 512, 16, 1, -32768]);
    }
  });

  it('readHeader matches readInstance without reading pixel data', async () => {
    for (const path of [
      chest(),
      chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'),
      chestTs('DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99'),
      sharedPath('ct_phantom_head_philips_mixed_folder', 'S1000_I10'), // header larger than 64 KiB read? 51 KiB of header
      sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm'),
      sharedPath('no_preamble_no_meta', 'fodicom_CR-MONO1-10-chest'),
    ]) {
      const full = (await readInstance(path)).instance;
      const header = await readHeader(path);
      expect({ ...header, pixelData: header.pixelData?.offset }).toEqual({ ...full, pixelData: full.pixelData?.offset });
      if (!full.pixelData!.encapsulated) expect(header.pixelData).toEqual(full.pixelData);
    }
  });

  it('readHeader grows its read when the header is larger than the first 64 KiB', async () => {
    const path = chestTs('LittleEndianExplicitTransferSyntax', '1.2.840.10008.1.2.1');
    const bytes = readFileSync(path);
    const full = parseInstance(bytes, path);
    // A 200 KB private element just before the pixel data: (7FD1,0010) LO creator, (7FD1,1000) OB.
    const creator = new TextEncoder().encode('CTSCOPE TEST');
    const blob = 200_000;
    const extra = new Uint8Array(8 + creator.length + 12 + blob);
    const dv = new DataView(extra.buffer);
    dv.setUint16(0, 0x7fd1, true);
    dv.setUint16(2, 0x0010, true);
    extra.set([0x4c, 0x4f], 4); // LO
    dv.setUint16(6, creator.length, true);
    extra.set(creator, 8);
    const at = 8 + creator.length;
    dv.setUint16(at, 0x7fd1, true);
    dv.setUint16(at + 2, 0x1000, true);
    extra.set([0x4f, 0x42], at + 4); // OB
    dv.setUint32(at + 8, blob, true);
    const cut = full.pixelData!.offset - 12;
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-dicom-'));
    const big = join(dir, 'big-header.dcm');
    writeFileSync(big, Uint8Array.from([...bytes.subarray(0, cut), ...extra, ...bytes.subarray(cut)]));
    const header = await readHeader(big);
    const whole = (await readInstance(big)).instance;
    expect(header).toEqual(whole);
    expect(header.pixelData!.offset).toBe(full.pixelData!.offset + extra.length);
  });

  it('parses enhanced CT geometry and rescale from the functional groups, per frame', async () => {
    const { instance: i } = await readInstance(sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm'));
    expect(i.sopClassUid).toBe('1.2.840.10008.5.1.4.1.1.2.1');
    expect(i.numberOfFrames).toBe(2);
    expect(i.frames).toHaveLength(2);
    const [a, b] = i.frames as [NonNullable<(typeof i.frames)[0]>, NonNullable<(typeof i.frames)[0]>];
    for (const f of [a, b]) {
      expect(f.imagePositionPatient).toHaveLength(3);
      expect(f.imageOrientationPatient).toHaveLength(6);
      expect(f.pixelSpacing![0]).toBeGreaterThan(0);
      expect(f.rescaleIntercept).toBe(-1024);
      expect(f.rescaleSlope).toBe(1);
    }
    // Two frames at different positions along the slice normal.
    expect(a.imagePositionPatient).not.toEqual(b.imagePositionPatient);
    expect(a.imageOrientationPatient).toEqual(b.imageOrientationPatient);
  });

  it('parses files without preamble and File Meta', async () => {
    const cases: Array<[string, string, boolean]> = [
      ['ExplVR_LitEndNoMeta.dcm', '1.2.840.10008.1.2.1', false],
      ['ExplVR_BigEndNoMeta.dcm', '1.2.840.10008.1.2.2', false],
      ['fodicom_CR-MONO1-10-chest', '1.2.840.10008.1.2', true],
    ];
    for (const [file, ts, pixels] of cases) {
      const { instance: i } = await readInstance(sharedPath('no_preamble_no_meta', file));
      expect(i.hasPreamble, file).toBe(false);
      expect(i.hasFileMeta, file).toBe(false);
      expect(i.transferSyntaxUid, file).toBe(ts);
      expect(i.pixelData !== undefined, file).toBe(pixels);
      expect(i.warnings.some((w) => w.includes('no File Meta')), file).toBe(true);
    }
    const cr = (await readInstance(sharedPath('no_preamble_no_meta', 'fodicom_CR-MONO1-10-chest'))).instance;
    expect([cr.rows, cr.columns, cr.bitsStored, cr.photometricInterpretation]).toEqual([440, 440, 10, 'MONOCHROME1']);
    expect(cr.warnings.some((w) => w.includes('MONOCHROME1'))).toBe(true);
    // The big-endian header reads the same text values as the little-endian twin.
    const le = (await readInstance(sharedPath('no_preamble_no_meta', 'ExplVR_LitEndNoMeta.dcm'))).instance;
    const be = (await readInstance(sharedPath('no_preamble_no_meta', 'ExplVR_BigEndNoMeta.dcm'))).instance;
    expect(be.sopInstanceUid).toBe(le.sopInstanceUid);
    expect(be.sopInstanceUid.length).toBeGreaterThan(0);
  });

  it('parses CT_small with its preamble and no_meta.dcm (one stray byte, no meta) to the same header', async () => {
    const good = (await readInstance(sharedPath('no_preamble_no_meta', 'CT_small.dcm'))).instance;
    const odd = (await readInstance(sharedPath('no_preamble_no_meta', 'no_meta.dcm'))).instance;
    expect(good.hasPreamble).toBe(true);
    expect(odd.hasPreamble).toBe(false);
    expect(odd.hasFileMeta).toBe(false);
    expect(odd.warnings.some((w) => w.includes('stray byte'))).toBe(true);
    expect(odd.sopInstanceUid).toBe(good.sopInstanceUid);
    expect(odd.frames).toEqual(good.frames);
    expect([odd.rows, odd.columns, odd.pixelPaddingValue]).toEqual([128, 128, -2000]);
  });

  it('reports cut pixel data as E_TRUNCATED', async () => {
    expect(await codeOfAsync(readInstance(sharedPath('corrupt_truncated', 'MR_truncated.dcm')))).toBe('E_TRUNCATED');
    expect(await codeOfAsync(readHeader(sharedPath('corrupt_truncated', 'MR_truncated.dcm')))).toBe('E_TRUNCATED');
  });

  it('reports a file cut inside its header or pixel data as E_TRUNCATED at every cut point', () => {
    const bytes = readFileSync(chestTs('LittleEndianExplicitTransferSyntax', '1.2.840.10008.1.2.1'));
    for (const cut of [200, 700, 1500, 3000, 7000, bytes.length - 1000, bytes.length - 1]) {
      expect(codeOf(() => parseInstance(bytes.subarray(0, cut), `cut at ${cut}`)), `cut ${cut}`).toBe('E_TRUNCATED');
    }
    const rle = readFileSync(chestTs('RLELosslessTransferSyntax', '1.2.840.10008.1.2.5'));
    expect(codeOf(() => parseInstance(rle.subarray(0, rle.length - 5000), 'cut rle'))).toBe('E_TRUNCATED');
  });

  it('parses a header-only prefix with untilPixelData', () => {
    const bytes = readFileSync(chest());
    const full = parseInstance(bytes, 'x');
    const head = parseInstance(bytes.subarray(0, full.pixelData!.offset + 10), 'x', { untilPixelData: true });
    expect(head.pixelData).toEqual(full.pixelData);
    expect(head.frames).toEqual(full.frames);
  });

  it('rejects an unknown transfer syntax with E_UNSUPPORTED_SYNTAX', () => {
    const bytes = new Uint8Array(readFileSync(chestTs('LittleEndianExplicitTransferSyntax', '1.2.840.10008.1.2.1')));
    // Rewrite the UID in place (same length): 1.2.840.10008.1.2.1 -> 1.2.840.10008.9.9.9
    const text = new TextDecoder('latin1').decode(bytes.subarray(0, 400));
    const at = text.indexOf('1.2.840.10008.1.2.1\0');
    expect(at).toBeGreaterThan(132);
    bytes.set(new TextEncoder().encode('1.2.840.10008.9.9.9'), at);
    expect(codeOf(() => parseInstance(bytes, 'odd syntax'))).toBe('E_UNSUPPORTED_SYNTAX');
  });
});

describe('rescale values that cannot be used', () => {
  /** A 2 x 2 CT image in Explicit VR Little Endian with the given RescaleSlope and RescaleIntercept text. */
  const ct = (slope: string, intercept: string, extra: Element[] = [], sop = '1.2.3.4.5'): Uint8Array =>
    Buffer.concat([
      fileMeta(CT_IMAGE, sop, '1.2.840.10008.1.2.1', { classUid: '1.2.3.4', version: 'TEST' }),
      encodeElements([
        { tag: 0x00080016, vr: 'UI', value: CT_IMAGE },
        { tag: 0x00080018, vr: 'UI', value: sop },
        { tag: 0x00080060, vr: 'CS', value: 'CT' },
        { tag: 0x00280002, vr: 'US', value: 1 },
        { tag: 0x00280004, vr: 'CS', value: 'MONOCHROME2' },
        { tag: 0x00280010, vr: 'US', value: 2 },
        { tag: 0x00280011, vr: 'US', value: 2 },
        { tag: 0x00280100, vr: 'US', value: 16 },
        { tag: 0x00280101, vr: 'US', value: 16 },
        { tag: 0x00280102, vr: 'US', value: 15 },
        { tag: 0x00280103, vr: 'US', value: 1 },
        { tag: 0x00281052, vr: 'DS', value: intercept },
        { tag: 0x00281053, vr: 'DS', value: slope },
        { tag: 0x7fe00010, vr: 'OW', value: new Uint8Array(8) },
        ...extra,
      ]),
    ]);
  const CT_IMAGE = '1.2.840.10008.5.1.4.1.1.2';

  it('free text (SeriesDescription, Manufacturer) is decoded as UTF-8 under ISO_IR 192, and byte by byte otherwise', () => {
    const utf8 = (t: string): Uint8Array => new Uint8Array(Buffer.from(t.length % 2 ? t : `${t} `, 'utf8'));
    const description = 'Thorax \u00dc \u80ba';
    const under = (charset: string | undefined) => parseInstance(ct('1', '0', [
      ...(charset ? [{ tag: 0x00080005, vr: 'CS' as const, value: charset }] : []),
      { tag: 0x0008103e, vr: 'LO', value: utf8(description) },
      { tag: 0x00080070, vr: 'LO', value: utf8('M\u00fcller') },
    ]), charset ?? 'none');
    expect(under('ISO_IR 192')).toMatchObject({ seriesDescription: description, manufacturer: 'M\u00fcller' });
    // Up to the first NUL, as the byte-wise reading stops there.
    const nul = parseInstance(ct('1', '0', [{ tag: 0x00080005, vr: 'CS', value: 'ISO_IR 192' }, { tag: 0x0008103e, vr: 'LO', value: utf8('Kopf\u00dc\0junk') }]), 'nul');
    expect(nul.seriesDescription).toBe('Kopf\u00dc');
    // Latin-1 reading of the same bytes, as before, where the data set does not say UTF-8.
    expect(under('ISO_IR 100').seriesDescription).toBe(Buffer.from(description, 'utf8').toString('latin1').trim());
  });

  it('a RescaleSlope of 0 or not a number, and a RescaleIntercept not a number, are replaced with a warning', () => {
    const good = parseInstance(ct('1', '-1024'), 'good');
    expect(good.frames[0]).toMatchObject({ rescaleSlope: 1, rescaleIntercept: -1024 });
    expect(good.warnings.join('\n')).not.toMatch(/Rescale/);
    for (const slope of ['0', 'NaN']) {
      const i = parseInstance(ct(slope, 'abc'), slope);
      expect(i.frames[0]).toMatchObject({ rescaleSlope: 1, rescaleIntercept: 0 });
      expect(i.warnings).toEqual(expect.arrayContaining([`RescaleSlope '${slope}' is not a usable number; using 1`, "RescaleIntercept 'abc' is not a number; using 0"]));
    }
  });

  it('a PixelSpacing that is not positive, or absurd, is reported as ignored, and parallel IOP directions are named as the reason', async () => {
    const zero = parseInstance(ct('1', '0', [{ tag: 0x00280030, vr: 'DS', value: ['0', '0'] }]), 'zero');
    expect(zero.warnings).toContain("PixelSpacing '0\\0' is not two spacings of 0.0001 to 10000 mm; ignored");
    // Absurd but positive (an infinite NIfTI pixdim, a singular affine before): ignored too.
    for (const v of ['1e300', '1e-300']) {
      const absurd = parseInstance(ct('1', '0', [{ tag: 0x00280030, vr: 'DS', value: [v, v] }]), v);
      expect(absurd.frames[0]!.pixelSpacing, v).toBeUndefined();
      expect(absurd.warnings, v).toContain(`PixelSpacing '${v}\\${v}' is not two spacings of 0.0001 to 10000 mm; ignored`);
    }
    // The same for SliceThickness, the k spacing of a one-slice series (1e39 made an infinite pixdim).
    for (const v of ['1e39', '1e-300', '-2']) {
      const absurd = parseInstance(ct('1', '0', [{ tag: 0x00180050, vr: 'DS', value: v }]), v);
      expect(absurd.frames[0]!.sliceThickness, v).toBeUndefined();
      expect(absurd.warnings, v).toContain(`SliceThickness '${v}' is not 0 or 0.0001 to 10000 mm; ignored`);
    }
    expect(parseInstance(ct('1', '0', [{ tag: 0x00180050, vr: 'DS', value: '0.625' }]), 'ok').frames[0]!.sliceThickness).toBe(0.625);
    const slice = (z: number): { name: string; bytes: Uint8Array } => ({
      name: `s${z}`,
      bytes: ct('1', '0', [
        { tag: 0x0020000e, vr: 'UI', value: '1.2.3.9' },
        { tag: 0x00200032, vr: 'DS', value: ['0', '0', String(z)] },
        { tag: 0x00200037, vr: 'DS', value: ['1', '0', '0', '1', '0', '0'] },
        { tag: 0x00280030, vr: 'DS', value: ['1', '1'] },
      ], `1.2.3.4.${z + 1}`),
    });
    // The series is refused as no volume, and says why (it said "zero vector").
    await expect(loadSeries([0, 1, 2, 3].map(slice))).rejects.toMatchObject({ code: 'E_NO_CT_SERIES', message: expect.stringMatching(/row and column directions are \(nearly\) parallel/) });
  });
});
