import type { Codec, DecodedFrame } from './types.js';
import { readJpegFrameHeader } from './jpeg-markers.js';
import { jpegBaselineCodec } from './jpeg-baseline.js';

/**
 * JPEG Extended / Full Progression (.51, .53, .55): 8-bit streams go to libjpeg-turbo (WASM), 12-bit
 * streams to dcmtk's 12-bit IJG decoder (dcmjs-codecs, WASM; sequential and progressive).
 */
export const jpegExtendedCodec: Codec = {
  id: 'jpeg-extended',
  package: 'dcmjs-codecs (dcmtk) / @cornerstonejs/codec-libjpeg-turbo-8bit',
  async decode(encoded, layout): Promise<DecodedFrame> {
    if (!readJpegFrameHeader(encoded)) throw new Error('not a JPEG stream (no SOI/SOF marker)');
    return jpegBaselineCodec.decode(encoded, layout);
  },
};
