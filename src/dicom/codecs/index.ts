import type { CodecId } from '../transfer-syntax.js';
import type { Codec } from './types.js';
import { rleCodec } from './rle.js';
import { jpegBaselineCodec } from './jpeg-baseline.js';
import { jpegExtendedCodec } from './jpeg-extended.js';
import { jpegLosslessCodec } from './jpeg-lossless.js';
import { jpeglsCodec } from './jpegls.js';
import { j2kCodec } from './j2k.js';
import { htj2kCodec } from './htj2k.js';

export type { Codec, DecodedFrame, FrameLayout } from './types.js';

/** Codec id (from the transfer syntax table) -> decoder. WASM modules load on first decode. */
export const CODECS: Readonly<Record<Exclude<CodecId, 'native'>, Codec>> = Object.freeze({
  rle: rleCodec,
  'jpeg-baseline': jpegBaselineCodec,
  'jpeg-extended': jpegExtendedCodec,
  'jpeg-lossless': jpegLosslessCodec,
  jpegls: jpeglsCodec,
  j2k: j2kCodec,
  htj2k: htj2kCodec,
});
