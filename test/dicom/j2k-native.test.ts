import { afterAll, describe, expect, it } from 'vitest';
import { readInstance } from '../../src/dicom/parse.js';
import { frameData } from '../../src/dicom/frames.js';
import { nativeOpenJpeg, nativeOpenJpegStatus } from '../../src/dicom/codecs/native/openjpeg.js';
import { lazyWasmCodec, runWasm } from '../../src/dicom/codecs/wasm.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chestTs } from './helpers.js';
import { readHeader } from '../../src/dicom/parse.js';
import { decodeSlicesInto } from '../../src/dicom/decode-series.js';
import { closePool } from '../../src/workers/pool.js';
import { isCtscopeError } from '../../src/errors.js';

afterAll(async () => {
  await closePool();
});

const status = nativeOpenJpegStatus();
if (!status.ok) console.warn(`native OpenJPEG tests skipped: ${status.reason} (JPEG 2000 decodes in WebAssembly)`);

const FILES = (): string[] => [
  chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'),
  chestTs('JPEG2000TransferSyntax', '1.2.840.10008.1.2.4.91'),
  sharedPath('ct_wg04_compression', 'CT1_J2KR'),
  sharedPath('ct_wg04_compression', 'CT1_J2KI'),
  sharedPath('ct_wg04_compression', 'CT2_J2KR'),
  sharedPath('ct_wg04_compression', 'CT2_J2KI'),
  sharedPath('corrupt_truncated', 'emri_small_jpeg_2k_lossless.dcm'),
  sharedPath('mr_transfer_syntaxes_dcm2niix_ref', 'In', '9.dcm'),
];

describe.skipIf(!hasSharedData || !status.ok)('native OpenJPEG binding', () => {
  const wasm = lazyWasmCodec('@cornerstonejs/codec-openjpeg/decodewasmjs', 'J2KDecoder');

  it('decodes every JPEG 2000 frame of the corpus bit-identical to the WebAssembly build, lossless and lossy', async () => {
    const native = nativeOpenJpeg()!;
    let frames = 0;
    for (const path of FILES()) {
      const { bytes, instance } = await readInstance(path);
      for (let f = 0; f < instance.numberOfFrames; f++) {
        const encoded = frameData(bytes, instance, f);
        const n = native.decode(encoded);
        const w = await runWasm(wasm, encoded);
        expect([n.width, n.height, n.components, n.precision], path).toEqual([w.info.width, w.info.height, w.info.componentCount, w.info.bitsPerSample]);
        expect(n.signed, path).toBe(w.info.isSigned ?? false);
        expect(Buffer.from(n.data).equals(Buffer.from(w.data.subarray(0, n.data.length))), `${path} frame ${f}`).toBe(true);
        expect(n.warnings, path).toBe('');
        frames++;
      }
    }
    expect(frames).toBeGreaterThanOrEqual(17);
  });

  it('throws a coded error for garbage and reports a cut codestream as a warning, never a crash', async () => {
    const native = nativeOpenJpeg()!;
    expect(() => native.decode(new Uint8Array(100).fill(7))).toThrow(/OpenJPEG/);
    expect(() => native.decode(new Uint8Array(0))).toThrow(/OpenJPEG/);
    expect(() => native.decode('not bytes' as unknown as Uint8Array)).toThrow(/Uint8Array/);
    const { bytes, instance } = await readInstance(chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'));
    const encoded = frameData(bytes, instance, 0);
    for (const keep of [0.05, 0.3, 0.9]) {
      const cut = encoded.subarray(0, Math.floor(encoded.length * keep));
      let outcome: string;
      try {
        outcome = native.decode(cut).warnings;
      } catch (e) {
        outcome = (e as Error).message;
      }
      expect(outcome, `keep ${keep}`).toMatch(/stream too short|truncat|error|failed|not enough/i);
    }
  });

  it('decode workers stopped in the middle of native decodes (abort) never take the process down', async () => {
    // Terminating a worker while it is inside the binding made its Node-API calls fail; the binding must
    // then return without touching what it could not allocate (2 of 12 runs crashed before that check).
    const path = chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90');
    const instance = await readHeader(path);
    const rows = instance.rows * instance.columns;
    const slices = Array.from({ length: 32 }, (_, k) => ({ source: path, instance, frameIndex: 0, sliceIndex: k }));
    for (let round = 0; round < 12; round++) {
      const ac = new AbortController();
      const target = { buffer: new SharedArrayBuffer(slices.length * rows * 2), dtype: 'int16' as const, sliceVoxels: rows };
      const e = await decodeSlicesInto(slices, target, { threads: 2, signal: ac.signal, onProgress: () => ac.abort() }).catch((x: unknown) => x);
      expect(isCtscopeError(e) && e.code, `round ${round}`).toBe('E_ABORTED');
    }
  });
});
