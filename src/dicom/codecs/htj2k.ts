import type { Codec } from './types.js';
import { lazyWasmCodec, runWasm, toDecodedFrame } from './wasm.js';

const load = lazyWasmCodec('@cornerstonejs/codec-openjph/wasmjs', 'HTJ2KDecoder');

/** High-Throughput JPEG 2000 (.201/.202/.203) via @cornerstonejs/codec-openjph. */
export const htj2kCodec: Codec = {
  id: 'htj2k',
  package: '@cornerstonejs/codec-openjph',
  async decode(encoded, layout) {
    const { info, data } = await runWasm(load, encoded);
    return toDecodedFrame(info, data, layout);
  },
};
