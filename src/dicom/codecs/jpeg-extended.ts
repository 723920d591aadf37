import type { Codec, DecodedFrame } from './types.js';
import { readJpegFrameHeader } from './jpeg-markers.js';
import { jpegBaselineCodec } from './jpeg-baseline.js';

/**
 * JPEG Extended / Full Progression (.51, .53, .55): 8-bit streams go to libjpeg-turbo (WASM), 12-bit
 * streams to the built-in DCT decoder (jpeg-dct.ts: sequential and progressive Huffman, grayscale).
 * Neither installed package decodes 12-bit DCT JPEG: the libjpeg-turbo build is 8-bit only and
 * jpeg-lossless-decoder-js handles process 14 only.
 */
export const jpegExtendedCodec: Codec = {
  id: 'jpeg-extended',
  package: 'built-in 12-bit DCT decoder / @cornerstonejs/codec-libjpeg-turbo-8bit',
  async decode(encoded, layout): Promise<DecodedFrame> {
    if (!readJpegFrameHeader(encoded)) throw new Error('not a JPEG stream (no SOI/SOF marker)');
    return jpegBaselineCodec.decode(encoded, layout);
  },
};
