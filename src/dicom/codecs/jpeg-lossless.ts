import { decodeJpegWithDcmtk } from './dcmtk.js';
import type { Codec } from './types.js';

/**
 * JPEG Lossless, Process 14 (.57, .70 SV1) via dcmtk's lossless IJG decoder (dcmjs-codecs, WebAssembly):
 * bit-identical to the pure-JS jpeg-lossless-decoder-js used before, and 2.4x faster per frame. The
 * frame-header and EOI checks live in decodeJpegWithDcmtk, shared with the 12-bit DCT path.
 */
export const jpegLosslessCodec: Codec = {
  id: 'jpeg-lossless',
  package: 'dcmjs-codecs (dcmtk)',
  decode: decodeJpegWithDcmtk,
};
