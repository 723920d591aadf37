import type { Codec, DecodedFrame } from './types.js';
import { readJpegFrameHeader } from './jpeg-markers.js';
import { decodeJpegWithDcmtk } from './dcmtk.js';
import { lazyWasmCodec, runWasm, toDecodedFrame } from './wasm.js';

const load = lazyWasmCodec('@cornerstonejs/codec-libjpeg-turbo-8bit/decodewasmjs', 'JPEGDecoder');

/**
 * 8-bit DCT JPEG via @cornerstonejs/codec-libjpeg-turbo-8bit. A 12-bit stream (a mislabelled .50, or
 * any .51/.53/.55) goes to dcmtk's 12-bit IJG decoder (dcmjs-codecs), since this libjpeg-turbo build is 8-bit only.
 */
export const jpegBaselineCodec: Codec = {
  id: 'jpeg-baseline',
  package: '@cornerstonejs/codec-libjpeg-turbo-8bit',
  async decode(encoded, layout): Promise<DecodedFrame> {
    const header = readJpegFrameHeader(encoded);
    if (header && header.precision === 12) return decodeJpegWithDcmtk(encoded, layout);
    if (header && header.precision !== 8) throw new Error(`JPEG stream has ${header.precision}-bit samples`);
    const { info, data } = await runWasm(load, encoded);
    return toDecodedFrame({ ...info, isSigned: false }, data, layout);
  },
};
