import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeFrame, decodeFrameToHu } from '../../src/dicom/decode.js';
import { parseInstance, readInstance } from '../../src/dicom/parse.js';
import { frameRanges } from '../../src/dicom/frames.js';
import { isCtscopeError } from '../../src/errors.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chest, chestTs, codeOfAsync as codeOf, compare, demosaic, hu, range, readNiftiInt16, stored } from './helpers.js';

const LOSSLESS: Array<[string, string]> = [
  ['LittleEndianImplicitTransferSyntax', '1.2.840.10008.1.2'],
  ['LittleEndianExplicitTransferSyntax', '1.2.840.10008.1.2.1'],
  ['BigEndianExplicitTransferSyntax', '1.2.840.10008.1.2.2'],
  ['DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99'],
  ['JPEGProcess14TransferSyntax', '1.2.840.10008.1.2.4.57'],
  ['JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70'],
  ['JPEGLSLosslessTransferSyntax', '1.2.840.10008.1.2.4.80'],
  ['JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'],
  ['RLELosslessTransferSyntax', '1.2.840.10008.1.2.5'],
];

/** Max |HU error| from the README ("checked here"), rounded up. */
const LOSSY: Array<[string, string, number]> = [
  ['JPEGLSLossyTransferSyntax', '1.2.840.10008.1.2.4.81', 1],
  ['JPEG2000TransferSyntax', '1.2.840.10008.1.2.4.91', 5],
  ['JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50', 65],
  // 12-bit DCT JPEG, decoded by dcmtk's 12-bit IJG decoder (sequential .51, progressive .53 and .55).
  ['JPEGProcess2_4TransferSyntax', '1.2.840.10008.1.2.4.51', 36],
  ['JPEGProcess6_8TransferSyntax', '1.2.840.10008.1.2.4.53', 36],
  ['JPEGProcess10_12TransferSyntax', '1.2.840.10008.1.2.4.55', 36],
];

describe.skipIf(!hasSharedData)('chest CT slice in every transfer syntax', () => {
  it.each(LOSSLESS)('%s (%s) gives stored values bit-identical to the ILE original', async (name, uid) => {
    const ref = await stored(chest());
    const got = await stored(chestTs(name, uid));
    expect(got.instance.transferSyntaxUid).toBe(uid);
    expect(got.values).toBeInstanceOf(Int16Array);
    expect(compare(got.values, ref.values)).toEqual({ differing: 0, maxAbs: 0 });
  });

  it('the original spans -3024..1378 HU (padding -2000 stored is real data here, not the declared -32768)', async () => {
    expect(range(await hu(chest()))).toEqual([-3024, 1378]);
  });

  it.each(LOSSY)('%s (%s) stays within %d HU of the original', async (name, uid, bound) => {
    const ref = await hu(chest());
    const got = await hu(chestTs(name, uid));
    const { maxAbs } = compare(got, ref);
    expect(maxAbs).toBeLessThanOrEqual(bound);
    expect(maxAbs).toBeGreaterThan(0); // lossy really is lossy: the file is not a copy
  });

  it('JPEG baseline rescale (slope 32.1216, intercept -4047) is applied, not assumed', async () => {
    const { instance } = await readInstance(chestTs('JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50'));
    expect(instance.frames[0]!.rescaleSlope).toBeCloseTo(32.1216, 6);
    expect(instance.frames[0]!.rescaleIntercept).toBe(-4047);
    expect(instance.bitsAllocated).toBe(8);
  });

  it('12-bit JPEG rescale (slope 2.0002442, intercept -4047) is applied', async () => {
    const { instance } = await readInstance(chestTs('JPEGProcess2_4TransferSyntax', '1.2.840.10008.1.2.4.51'));
    expect(instance.frames[0]!.rescaleSlope).toBeCloseTo(2.0002442, 7);
    expect([instance.bitsStored, instance.pixelRepresentation]).toEqual([12, 0]);
  });
});

describe.skipIf(!hasSharedData)('enhanced multi-frame JPEG .51 (CT0012, fragmented, no offset table)', () => {
  it('decodes both frames; they match eCT_Supplemental up to lossy error', async () => {
    // Observed: the two files hold the same acquisition; CT0012 stores every value 1023 higher.
    const ect = await readInstance(sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm'));
    const jpg = await readInstance(sharedPath('ct_enhanced_multiframe', 'CT0012.fragmented_no_bot_jpeg_baseline.51.dcm'));
    for (let f = 0; f < 2; f++) {
      const a = await decodeFrame(ect.bytes, ect.instance, f);
      const b = await decodeFrame(jpg.bytes, jpg.instance, f);
      const shifted = Int32Array.from(b, (v) => v - 1023);
      const { maxAbs } = compare(a, shifted);
      expect(maxAbs, `frame ${f}`).toBeLessThanOrEqual(20);
      expect(range(b)[1]).toBeLessThanOrEqual(4095);
    }
  });
});

describe.skipIf(!hasSharedData)('WG04 compression set', () => {
  it.each(['CT1', 'CT2'])('%s lossless variants equal the uncompressed reference', async (ct) => {
    const ref = await stored(sharedPath('ct_wg04_compression', `${ct}_UNC`));
    for (const v of ['JPLL', 'JLSL', 'J2KR', 'RLE']) {
      const got = await stored(sharedPath('ct_wg04_compression', `${ct}_${v}`));
      expect(compare(got.values, ref.values), v).toEqual({ differing: 0, maxAbs: 0 });
    }
    const near = await stored(sharedPath('ct_wg04_compression', `${ct}_JLSN`));
    const { maxAbs } = compare(near.values, ref.values);
    expect(maxAbs).toBeGreaterThan(0);
    expect(maxAbs).toBeLessThanOrEqual(4);
  });

  it('J2K lossy decodes to plausible values within the README bound', async () => {
    for (const [ct, bound] of [['CT1', 352], ['CT2', 402]] as const) {
      const ref = await stored(sharedPath('ct_wg04_compression', `${ct}_UNC`));
      const got = await stored(sharedPath('ct_wg04_compression', `${ct}_J2KI`));
      expect(compare(got.values, ref.values).maxAbs).toBeLessThanOrEqual(bound);
    }
  });

  it('maps PixelPaddingValue -2000 of CT1 to paddingHu, not to -3024 HU', async () => {
    const path = sharedPath('ct_wg04_compression', 'CT1_UNC');
    const { values, instance } = await stored(path);
    expect(instance.pixelPaddingValue).toBe(-2000);
    const padded = Array.from(values).filter((v) => v === -2000).length;
    expect(padded).toBeGreaterThan(1000);
    for (const paddingHu of [-1024, -1000]) {
      const h = await hu(path, 0, paddingHu);
      expect(Array.from(h).filter((v) => v === paddingHu).length).toBeGreaterThanOrEqual(padded);
      expect(range(h)[0]).toBeGreaterThanOrEqual(-1024 - 1024); // nothing near -3024
      expect(h.includes(-3024)).toBe(false);
    }
  });

  it.each(['JPLL', 'RLE'])('CT1_%s with a hole in its compressed data is E_CODEC, not a garbled slice', async (v) => {
    // 200 bytes cut from the middle of the (single) fragment, the item length fixed: IJG fills in and only warns,
    // and PackBits runs shifted by the hole still fill the frame.
    const { bytes, instance } = await readInstance(sharedPath('ct_wg04_compression', `CT1_${v}`));
    const [[offset, length]] = frameRanges(bytes, instance)[0]!.ranges as [[number, number]];
    const cut = offset + (length >> 1);
    const holed = new Uint8Array(bytes.length - 200);
    holed.set(bytes.subarray(0, cut));
    holed.set(bytes.subarray(cut + 200), cut);
    new DataView(holed.buffer).setUint32(offset - 4, length - 200, true);
    const damaged = parseInstance(holed, 'holed');
    expect(await codeOf(decodeFrame(holed, damaged, 0))).toBe('E_CODEC');
    expect(await codeOf(decodeFrame(bytes, instance, 0))).toBeUndefined();
  });

  it('lossy CT1 (JLSN, J2KI): padding that the codec moved off -2000 still becomes paddingHu', async () => {
    // Exact matching left 36 611 (JLSN) and 53 666 (J2KI) voxels near -3024 HU in the padding region.
    const ref = await hu(sharedPath('ct_wg04_compression', 'CT1_UNC'), 0, -1024);
    for (const [v, bound] of [['JLSN', 4], ['J2KI', 352]] as const) {
      const got = await hu(sharedPath('ct_wg04_compression', `CT1_${v}`), 0, -1024);
      let maxAbs = 0;
      for (let i = 0; i < ref.length; i++) maxAbs = Math.max(maxAbs, Math.abs(got[i]! - ref[i]!));
      expect(maxAbs, v).toBeLessThanOrEqual(bound);
      expect(range(got)[0], v).toBeGreaterThan(-1300);
    }
  });
});

describe.skipIf(!hasSharedData)('MR transfer syntaxes (dcm2niix reference)', () => {
  it('all 9 encodings decode to identical stored values, equal to the dcm2niix NIfTI', async () => {
    const first = await stored(sharedPath('mr_transfer_syntaxes_dcm2niix_ref', 'In', '1.dcm'));
    for (let k = 2; k <= 9; k++) {
      const got = await stored(sharedPath('mr_transfer_syntaxes_dcm2niix_ref', 'In', `${k}.dcm`));
      expect(compare(got.values, first.values), `${k}.dcm`).toEqual({ differing: 0, maxAbs: 0 });
    }
    const nii = readNiftiInt16(sharedPath('mr_transfer_syntaxes_dcm2niix_ref', 'Ref', '1.nii'));
    const [tx, ty, nz] = nii.dims as [number, number, number];
    expect(compare(demosaic(first.values, first.instance.columns, tx, ty, nz), nii.data)).toEqual({ differing: 0, maxAbs: 0 });
  });
});

describe.skipIf(!hasSharedData)('12-bit stored in 16 (masking and sign extension)', () => {
  const dir = 'mr_12bit_signed_unsigned_dcm2niix_ref';
  it.each([
    ['12bitUnsigned.dcm', '2.nii', 0],
    ['12bitUnsigned_0x0F0F.dcm', '3.nii', 0],
    ['12bitSigned_0x0F0F.dcm', '4.nii', 1],
  ] as const)('%s equals dcm2niix %s', async (file, ref, pr) => {
    const got = await stored(sharedPath(dir, 'In', file));
    expect(got.instance.bitsStored).toBe(12);
    expect(got.instance.pixelRepresentation).toBe(pr);
    const nii = readNiftiInt16(sharedPath(dir, 'Ref', ref));
    expect(compare(demosaic(got.values, 384, 64, 64, 35), nii.data)).toEqual({ differing: 0, maxAbs: 0 });
    const [lo, hi] = range(got.values);
    if (pr === 0) expect([lo >= 0, hi <= 4095]).toEqual([true, true]);
    else expect([lo >= -2048, hi <= 2047, lo < 0]).toEqual([true, true, true]);
  });

  it('masks the 0x0F0F garbage high bits: unsigned variants differ only where the garbage was', async () => {
    const clean = await stored(sharedPath(dir, 'In', '12bitUnsigned.dcm'));
    const garbage = await stored(sharedPath(dir, 'In', '12bitUnsigned_0x0F0F.dcm'));
    expect(range(garbage.values)[1]).toBeLessThanOrEqual(4095);
    expect(compare(clean.values, garbage.values).differing).toBeGreaterThan(0);
  });
});

describe.skipIf(!hasSharedData)('padding, MONOCHROME1 and HU output', () => {
  it('tilted GE head: PixelPaddingValue -1500 becomes paddingHu', async () => {
    const path = sharedPath('ct_head_ge_tilt_varspacing', '01.dcm');
    const { values, instance } = await stored(path);
    expect(instance.pixelPaddingValue).toBe(-1500);
    const padded = Array.from(values).filter((v) => v === -1500).length;
    expect(padded).toBeGreaterThan(0);
    const h = await hu(path, 0, -1024);
    expect(h.includes(-1500)).toBe(false);
    expect(Array.from(h).filter((v) => v === -1024).length).toBeGreaterThanOrEqual(padded);
  });

  it('int16 and float32 outputs agree for an integer rescale; offsets are honoured', async () => {
    const { bytes, instance } = await readInstance(sharedPath('ct_phantom_head_philips_1mm', 'I100'));
    const n = instance.rows * instance.columns;
    const i16 = new Int16Array(3 * n).fill(7);
    const f32 = new Float32Array(n);
    const r = await decodeFrameToHu(bytes, instance, 0, i16, n);
    await decodeFrameToHu(bytes, instance, 0, f32, 0);
    expect(r.saturated).toBe(0);
    expect(i16[n - 1]).toBe(7);
    expect(i16[2 * n]).toBe(7);
    expect(compare(i16.subarray(n, 2 * n), f32)).toEqual({ differing: 0, maxAbs: 0 });
    expect(range(f32)[0]).toBe(-1024);
  });

  it('rounds non-integer rescale into int16 and matches float32 within 0.5', async () => {
    const { bytes, instance } = await readInstance(chestTs('JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50'));
    const n = instance.rows * instance.columns;
    const i16 = new Int16Array(n);
    const f32 = new Float32Array(n);
    await decodeFrameToHu(bytes, instance, 0, i16, 0);
    await decodeFrameToHu(bytes, instance, 0, f32, 0);
    expect(compare(i16, f32).maxAbs).toBeLessThanOrEqual(0.5 + 1e-3);
  });

  it('MONOCHROME1 keeps stored * slope + intercept and warns', async () => {
    const path = sharedPath('no_preamble_no_meta', 'fodicom_CR-MONO1-10-chest');
    const { values, instance } = await stored(path);
    expect(instance.warnings.some((w) => w.includes('MONOCHROME1'))).toBe(true);
    const h = await hu(path);
    expect(compare(h, values)).toEqual({ differing: 0, maxAbs: 0 });
    expect(range(values)[1]).toBeLessThanOrEqual(1023);
  });

  it('no_meta.dcm decodes to the same pixels as CT_small.dcm', async () => {
    const a = await stored(sharedPath('no_preamble_no_meta', 'CT_small.dcm'));
    const b = await stored(sharedPath('no_preamble_no_meta', 'no_meta.dcm'));
    expect(compare(a.values, b.values)).toEqual({ differing: 0, maxAbs: 0 });
  });

  it('rejects RGB images with E_UNSUPPORTED_PIXELS', async () => {
    const { bytes, instance } = await readInstance(chest());
    const rgb = { ...instance, samplesPerPixel: 3, photometricInterpretation: 'RGB' };
    expect(await codeOf(decodeFrame(bytes, rgb, 0))).toBe('E_UNSUPPORTED_PIXELS');
  });

  it('rejects an output array that is too small with E_USAGE', async () => {
    const { bytes, instance } = await readInstance(chest());
    expect(await codeOf(decodeFrameToHu(bytes, instance, 0, new Int16Array(100), 0))).toBe('E_USAGE');
  });
});

describe.skipIf(!hasSharedData)('corrupt and truncated data', () => {
  it('the J2K file without its sequence delimiter decodes exactly like its intact twin, with a warning', async () => {
    const intact = await readInstance(sharedPath('corrupt_truncated', 'emri_small_jpeg_2k_lossless.dcm'));
    const short = await readInstance(sharedPath('corrupt_truncated', 'emri_small_jpeg_2k_lossless_too_short.dcm'));
    expect(short.instance.warnings).toContain('encapsulated pixel data has no sequence delimiter');
    expect(short.instance.numberOfFrames).toBe(10);
    for (let f = 0; f < 10; f++) {
      const a = await decodeFrame(intact.bytes, intact.instance, f);
      const b = await decodeFrame(short.bytes, short.instance, f);
      expect(compare(a, b).differing, `frame ${f}`).toBe(0);
    }
  });

  /** Rebuilds a one-frame encapsulated file with its only fragment cut to `keep` of its length. */
  function cutFragment(path: string, keep: number): Uint8Array {
    const bytes = readFileSync(path);
    const inst = parseInstance(bytes, path);
    const [[off, len]] = frameRanges(bytes, inst)[0]!.ranges as [[number, number]];
    const n = Math.floor(len * keep) & ~1;
    const out = new Uint8Array(off + n + 8);
    const dv = new DataView(out.buffer);
    out.set(bytes.subarray(0, off - 8));
    dv.setUint16(off - 8, 0xfffe, true);
    dv.setUint16(off - 6, 0xe000, true);
    dv.setUint32(off - 4, n, true);
    out.set(bytes.subarray(off, off + n), off);
    dv.setUint16(off + n, 0xfffe, true);
    dv.setUint16(off + n + 2, 0xe0dd, true);
    return out;
  }

  it.each([
    ['JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'],
    ['JPEG2000TransferSyntax', '1.2.840.10008.1.2.4.91'],
    ['JPEGLSLosslessTransferSyntax', '1.2.840.10008.1.2.4.80'],
    ['JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70'],
    ['JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50'],
    ['JPEGProcess2_4TransferSyntax', '1.2.840.10008.1.2.4.51'],
    ['JPEGProcess10_12TransferSyntax', '1.2.840.10008.1.2.4.55'],
    ['RLELosslessTransferSyntax', '1.2.840.10008.1.2.5'],
  ])('a cut %s codestream is E_CODEC, not garbage', async (name, uid) => {
    for (const keep of [0.3, 0.9]) {
      const bytes = cutFragment(chestTs(name, uid), keep);
      const inst = parseInstance(bytes, `cut-${uid}`);
      const e = await decodeFrame(bytes, inst, 0).catch((x: unknown) => x);
      expect(isCtscopeError(e) && e.code, `${uid} keep ${keep}`).toBe('E_CODEC');
      expect((e as Error).message).toContain(`cut-${uid}`);
    }
  });
});
