import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { decodeFrame } from '../../src/dicom/decode.js';
import { parseInstance } from '../../src/dicom/parse.js';
import { isCtscopeError } from '../../src/errors.js';
import { walkElements } from '../../src/fuzz/elements.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

/** Bugs the fuzzer found, kept as exact reproductions. */
describe.skipIf(!hasSharedData)('fuzz findings', () => {
  it('a JPEG Lossless SOF declaring 65535 x 32768 is refused before the decoder reserves 4 GiB (fuzz seed 1, case 5779)', async () => {
    const path = sharedPath('ct_chest_slice_transfer_syntaxes', 'CTImage.dcm_JPEGProcess14TransferSyntax_1.2.840.10008.1.2.4.57.dcm');
    const bytes = new Uint8Array(readFileSync(path));
    const fragment = walkElements(bytes).filter((s) => s.inPixelData && s.element === 0xe000)[1]!;
    const f = bytes.subarray(fragment.valueAt, fragment.valueAt + fragment.length);
    const sof = f.findIndex((v, i) => v === 0xff && f[i + 1] === 0xc3);
    expect(sof).toBeGreaterThan(0);
    f.set([0x80, 0x00, 0xff, 0xff], sof + 5); // Y = 32768, X = 65535
    const inst = parseInstance(bytes, 'sof-huge');
    const before = process.memoryUsage().arrayBuffers;
    let error: unknown;
    try {
      await decodeFrame(bytes, inst, 0);
    } catch (e) {
      error = e;
    }
    const grew = process.memoryUsage().arrayBuffers - before;
    expect(isCtscopeError(error) && error.code, String(error)).toBe('E_CODEC');
    expect(String((error as Error).message)).toMatch(/frame header says 65535x32768/);
    expect(grew).toBeLessThan(256 * 2 ** 20);
  });
});
