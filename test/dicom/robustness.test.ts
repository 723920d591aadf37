import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { parseInstance } from '../../src/dicom/parse.js';
import { decodeFrame } from '../../src/dicom/decode.js';
import { isCtscopeError } from '../../src/errors.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chest, chestTs } from './helpers.js';

/** Deterministic generator so failures reproduce. */
function rng(seed: number): () => number {
  let x = seed >>> 0;
  return () => ((x = (x * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** Parses and decodes every frame; returns the error code, 'ok', or 'UNCODED: ...' for a crash. */
async function outcome(bytes: Uint8Array, label: string): Promise<string> {
  try {
    const inst = parseInstance(bytes, label);
    for (let f = 0; f < inst.numberOfFrames && f < 4; f++) await decodeFrame(bytes, inst, f);
    return 'ok';
  } catch (e) {
    return isCtscopeError(e) ? e.code : `UNCODED: ${e instanceof Error ? e.stack : String(e)}`;
  }
}

const FILES = [
  ['ILE', chest()],
  ['EBE', chestTs('BigEndianExplicitTransferSyntax', '1.2.840.10008.1.2.2')],
  ['DFL', chestTs('DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99')],
  ['RLE', chestTs('RLELosslessTransferSyntax', '1.2.840.10008.1.2.5')],
  ['JPEG .50', chestTs('JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50')],
  ['JPEG .51', chestTs('JPEGProcess2_4TransferSyntax', '1.2.840.10008.1.2.4.51')],
  ['JPEG .55', chestTs('JPEGProcess10_12TransferSyntax', '1.2.840.10008.1.2.4.55')],
  ['JPEG .70', chestTs('JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70')],
  ['J2K .90', chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90')],
  ['JPEG-LS .80', chestTs('JPEGLSLosslessTransferSyntax', '1.2.840.10008.1.2.4.80')],
  ['enhanced', sharedPath('ct_enhanced_multiframe', 'CT0012.fragmented_no_bot_jpeg_baseline.51.dcm')],
  ['no meta CR', sharedPath('no_preamble_no_meta', 'fodicom_CR-MONO1-10-chest')],
] as const;

describe.skipIf(!hasSharedData)('damaged files give coded errors, never crashes', () => {
  it.each(FILES)('%s: random truncations', async (name, path) => {
    const bytes = readFileSync(path);
    const r = rng(name.length * 7919);
    for (let i = 0; i < 12; i++) {
      const cut = Math.floor(r() * bytes.length);
      const result = await outcome(bytes.subarray(0, cut), `${name} cut ${cut}`);
      expect(result, `${name} cut at ${cut}`).not.toMatch(/^UNCODED/);
    }
  });

  it.each(FILES)('%s: random byte damage in the header and the pixel data', async (name, path) => {
    const original = readFileSync(path);
    const r = rng(name.length * 104729);
    for (let i = 0; i < 12; i++) {
      const bytes = new Uint8Array(original);
      const hits = 1 + Math.floor(r() * 8);
      for (let h = 0; h < hits; h++) bytes[Math.floor(r() * bytes.length)] = Math.floor(r() * 256);
      const result = await outcome(bytes, `${name} damaged ${i}`);
      expect(result, `${name} damage ${i}`).not.toMatch(/^UNCODED/);
    }
  });
});
