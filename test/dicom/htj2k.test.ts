import { describe, expect, it } from 'vitest';
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { parseInstance } from '../../src/dicom/parse.js';
import { decodeFrame } from '../../src/dicom/decode.js';
import { frameRanges } from '../../src/dicom/frames.js';
import { hasSharedData } from '../helpers/shared-data.js';
import { chest, chestTs, compare, stored } from './helpers.js';

/** The shared corpus has no HTJ2K file: encode the chest slice with OpenJPH's own encoder (same package). */
async function encodeHtj2k(values: Int16Array): Promise<Uint8Array> {
  const require = createRequire(import.meta.url);
  type Encoder = {
    getDecodedBuffer(info: object): Uint8Array;
    setQuality(lossless: boolean, step: number): void;
    encode(): void;
    getEncodedBuffer(): Uint8Array;
    delete(): void;
  };
  const factory = require('@cornerstonejs/codec-openjph/wasmjs') as (m: object) => Promise<{ HTJ2KEncoder: new () => Encoder }>;
  const mod = await factory({ print: () => {}, printErr: () => {} });
  const enc = new mod.HTJ2KEncoder();
  try {
    const input = enc.getDecodedBuffer({ width: 512, height: 512, bitsPerSample: 16, componentCount: 1, isSigned: true, isUsingColorTransform: false });
    input.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength));
    enc.setQuality(true, 0);
    enc.encode();
    return enc.getEncodedBuffer().slice();
  } finally {
    enc.delete();
  }
}

describe.skipIf(!hasSharedData)('HTJ2K (.201) through decodeFrame', () => {
  it('a lossless HTJ2K frame in place of the J2K fragment decodes bit-identically', async () => {
    const ref = await stored(chest());
    const htj2k = await encodeHtj2k(ref.values as Int16Array);
    expect([htj2k[0], htj2k[1], htj2k[2], htj2k[3]]).toEqual([0xff, 0x4f, 0xff, 0x51]);
    // Re-encapsulate: header of the J2K file, one fragment holding the HTJ2K codestream.
    const path = chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90');
    const j2k = readFileSync(path);
    const inst = parseInstance(j2k, path);
    const [[off]] = frameRanges(j2k, inst)[0]!.ranges as [[number, number]];
    const pad = htj2k.length % 2;
    const bytes = new Uint8Array(off + htj2k.length + pad + 8);
    bytes.set(j2k.subarray(0, off));
    const dv = new DataView(bytes.buffer);
    dv.setUint32(off - 4, htj2k.length + pad, true);
    bytes.set(htj2k, off);
    dv.setUint16(off + htj2k.length + pad, 0xfffe, true);
    dv.setUint16(off + htj2k.length + pad + 2, 0xe0dd, true);
    const parsed = parseInstance(bytes, 'htj2k-in-memory');
    const instance = { ...parsed, transferSyntaxUid: '1.2.840.10008.1.2.4.201' };
    const got = await decodeFrame(bytes, instance, 0);
    expect(got).toBeInstanceOf(Int16Array);
    expect(compare(got, ref.values)).toEqual({ differing: 0, maxAbs: 0 });
  });
});
