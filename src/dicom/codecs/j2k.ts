import type { Codec } from './types.js';
import { lazyWasmCodec, runWasm, toDecodedFrame } from './wasm.js';

const load = lazyWasmCodec('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder');

/**
 * OpenJPEG decodes what it can of a cut codestream and only says so in its log: treat those
 * messages as failures rather than return a partly grey image.
 */
const STREAM_PROBLEM = /stream too short|truncat|error|failed|not enough/i;

/** JPEG 2000 (.90 lossless, .91) via @cornerstonejs/codec-openjpeg. */
export const j2kCodec: Codec = {
  id: 'j2k',
  package: '@cornerstonejs/codec-openjpeg',
  async decode(encoded, layout) {
    const { info, data, log } = await runWasm(load, encoded);
    const problem = log.find((l) => STREAM_PROBLEM.test(l));
    if (problem) throw new Error(`OpenJPEG: ${problem.trim()}`);
    return toDecodedFrame(info, data, layout);
  },
};
