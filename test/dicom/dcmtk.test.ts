import { describe, expect, it } from 'vitest';
import { decodeJpegWithDcmtk } from '../../src/dicom/codecs/dcmtk.js';
import { jpegLosslessCodec } from '../../src/dicom/codecs/jpeg-lossless.js';
import { readInstance } from '../../src/dicom/parse.js';
import { frameData } from '../../src/dicom/frames.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { chestTs } from './helpers.js';

const layout = { rows: 512, columns: 512, samplesPerPixel: 1, bitsAllocated: 16, bitsStored: 16, pixelRepresentation: 1 as const };

/** The encoded frame of a single-frame encapsulated file. */
async function frameOf(path: string): Promise<Uint8Array> {
  const { bytes, instance } = await readInstance(path);
  return frameData(bytes, instance, 0);
}

describe('dcmtk JPEG decoder (dcmjs-codecs)', () => {
  it('refuses a stream without EOI before decoding (IJG would only warn and fill)', async () => {
    const cut = new Uint8Array([0xff, 0xd8, 0xff, 0xc3, 0x00, 0x0b, 0x10, 0x02, 0x00, 0x02, 0x00, 0x01, 0x01, 0x11, 0x00]);
    await expect(decodeJpegWithDcmtk(cut, layout)).rejects.toThrow(/EOI/);
  });

  it('a run of undecodable frames does not break it: a good frame decodes after 40 failures', { skip: !hasSharedData }, async () => {
    const good = await frameOf(chestTs('JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70'));
    const first = await jpegLosslessCodec.decode(good, layout);
    // SOI, garbage, EOI: passes the marker checks, fails inside the native decoder.
    const bad = new Uint8Array(4000).map((_, i) => (i * 7919) & 0xff);
    bad.set([0xff, 0xd8], 0);
    bad.set([0xff, 0xd9], bad.length - 2);
    for (let i = 0; i < 40; i++) await expect(decodeJpegWithDcmtk(bad, layout)).rejects.toThrow();
    const again = await jpegLosslessCodec.decode(good, layout);
    expect(Array.from(again.pixels.subarray(0, 4096))).toEqual(Array.from(first.pixels.subarray(0, 4096)));
    expect(again.pixels.length).toBe(512 * 512);
  });
});
