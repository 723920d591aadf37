import type { Codec } from './types.js';
import { lazyWasmCodec, runWasm, toDecodedFrame } from './wasm.js';
import { endsWithEoi } from './jpeg-markers.js';

const load = lazyWasmCodec('@cornerstonejs/codec-charls/decodewasmjs', 'JpegLSDecoder');

/** JPEG-LS lossless (.80) and near-lossless (.81) via @cornerstonejs/codec-charls. */
export const jpeglsCodec: Codec = {
  id: 'jpegls',
  package: '@cornerstonejs/codec-charls',
  async decode(encoded, layout) {
    // CharLS takes seconds to give up on a cut stream; a stream without EOI is cut, so fail fast.
    if (!endsWithEoi(encoded)) throw new Error('JPEG-LS stream does not end with an EOI marker (cut or corrupt)');
    const { info, data } = await runWasm(load, encoded);
    return toDecodedFrame({ ...info, isSigned: false }, data, layout);
  },
};
