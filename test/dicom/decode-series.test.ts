import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodeSlicesInto, type SliceSource } from '../../src/dicom/decode-series.js';
import { readHeader } from '../../src/dicom/parse.js';
import { closePool } from '../../src/workers/pool.js';
import { isCtscopeError } from '../../src/errors.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chest, chestTs, compare, hu } from './helpers.js';

const SV = 512 * 512;

/** The chest slice in every lossless encoding: a small "series" that needs every codec. */
const LOSSLESS = [
  chest(),
  chestTs('BigEndianExplicitTransferSyntax', '1.2.840.10008.1.2.2'),
  chestTs('DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99'),
  chestTs('JPEGProcess14TransferSyntax', '1.2.840.10008.1.2.4.57'),
  chestTs('JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70'),
  chestTs('JPEGLSLosslessTransferSyntax', '1.2.840.10008.1.2.4.80'),
  chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'),
  chestTs('RLELosslessTransferSyntax', '1.2.840.10008.1.2.5'),
];

async function sources(paths: string[]): Promise<SliceSource[]> {
  const headers = await Promise.all(paths.map((p) => readHeader(p)));
  return headers.map((instance, k) => ({ source: instance.source, instance, frameIndex: 0, sliceIndex: k }));
}

function target(slices: number, dtype: 'int16' | 'float32' = 'int16') {
  return { buffer: new SharedArrayBuffer(slices * SV * (dtype === 'int16' ? 2 : 4)), dtype, sliceVoxels: SV } as const;
}

async function failure(p: Promise<unknown>): Promise<{ code?: string; message: string }> {
  try {
    await p;
  } catch (e) {
    return { ...(isCtscopeError(e) ? { code: e.code } : {}), message: (e as Error).message };
  }
  throw new Error('expected a rejection');
}

afterAll(async () => {
  await closePool();
});

describe.skipIf(!hasSharedData)('decodeSlicesInto', () => {
  it('decodes every codec in workers; threads 1 and 2 give identical volumes equal to the original', async () => {
    const slices = await sources(LOSSLESS);
    const one = target(slices.length);
    const two = target(slices.length);
    const seen: number[] = [];
    await decodeSlicesInto(slices, one, { threads: 1 });
    await decodeSlicesInto(slices, two, { threads: 2, onProgress: (done, total) => (seen.push(done), expect(total).toBe(slices.length)) });
    expect(Buffer.from(one.buffer).equals(Buffer.from(two.buffer))).toBe(true);
    expect(seen.at(-1)).toBe(slices.length);
    const ref = await hu(chest(), 0, -1024);
    const vol = new Int16Array(two.buffer);
    for (let k = 0; k < slices.length; k++) expect(compare(vol.subarray(k * SV, (k + 1) * SV), ref), LOSSLESS[k]).toEqual({ differing: 0, maxAbs: 0 });
  });

  it('an uncompressed series (tilted GE head, 28 slices) is identical for threads 1 and 2, padding -> paddingHu', async () => {
    const dir = sharedPath('ct_head_ge_tilt_varspacing');
    const slices = await sources(readdirSync(dir).filter((f) => f.endsWith('.dcm')).map((f) => join(dir, f)));
    const a = target(slices.length, 'float32');
    const b = target(slices.length, 'float32');
    await decodeSlicesInto(slices, a, { threads: 1, paddingHu: -1000 });
    await decodeSlicesInto(slices, b, { threads: 2, paddingHu: -1000 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    const v = new Float32Array(a.buffer);
    expect(v.includes(-1500)).toBe(false);
    expect(v.includes(-1000)).toBe(true);
  });

  it('decodes in-memory sources (including compressed ones) and reversed slice order', async () => {
    const paths = [chest(), chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90')];
    const slices = (await sources(paths)).map((s, k) => ({ ...s, source: readFileSync(paths[k]!), sliceIndex: 1 - k }));
    const t = target(2);
    await decodeSlicesInto(slices, t, { threads: 2 });
    const v = new Int16Array(t.buffer);
    expect(compare(v.subarray(0, SV), v.subarray(SV))).toEqual({ differing: 0, maxAbs: 0 });
    expect(compare(v.subarray(0, SV), await hu(chest(), 0, -1024)).differing).toBe(0);
    // Instances as views into one larger buffer (e.g. a multipart body): only their own bytes travel.
    const arena = Buffer.alloc(3_000_000);
    let at = 1000;
    const views = slices.map((sl) => {
      const bytes = sl.source as Buffer;
      bytes.copy(arena, at);
      const view = arena.subarray(at, at + bytes.length);
      at += bytes.length + 777;
      return { ...sl, source: view };
    });
    const w = target(2);
    await decodeSlicesInto(views, w, { threads: 2 });
    expect(Buffer.from(w.buffer).equals(Buffer.from(t.buffer))).toBe(true);
  });

  it('multi-frame files: compressed frames spread over workers, native frames inline; same as threads 1', async () => {
    const paths = [
      sharedPath('ct_enhanced_multiframe', 'CT0012.fragmented_no_bot_jpeg_baseline.51.dcm'),
      sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm'),
    ];
    const headers = await Promise.all(paths.map((p) => readHeader(p)));
    const slices: SliceSource[] = headers.flatMap((instance, i) =>
      [0, 1].map((frameIndex) => ({ source: instance.source, instance, frameIndex, sliceIndex: i * 2 + (1 - frameIndex) })),
    );
    const a = target(4);
    const b = target(4);
    await decodeSlicesInto(slices, a, { threads: 1 });
    await decodeSlicesInto(slices, b, { threads: 2 });
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    // The same from memory: the compressed file's frames are split over the workers, sharing one copy.
    const buffers = paths.map((p) => new Uint8Array(readFileSync(p)));
    const inMemory = slices.map((s) => ({ ...s, source: buffers[paths.indexOf(s.source as string)]! }));
    const c = target(4);
    await decodeSlicesInto(inMemory, c, { threads: 2 });
    expect(Buffer.from(c.buffer).equals(Buffer.from(a.buffer))).toBe(true);
    const v = new Int16Array(b.buffer);
    // Frames land where sliceIndex says (reversed within each file): frame 1 of eCT is slice 2.
    const ectFrame1 = new Float32Array(SV);
    const { readInstance } = await import('../../src/dicom/parse.js');
    const { decodeFrameToHu } = await import('../../src/dicom/decode.js');
    const ect = await readInstance(paths[1]!);
    await decodeFrameToHu(ect.bytes, ect.instance, 1, ectFrame1, 0);
    expect(compare(v.subarray(2 * SV, 3 * SV), ectFrame1)).toEqual({ differing: 0, maxAbs: 0 });
  });

  it('aborts with E_ABORTED, before start and while running', async () => {
    const slices = await sources(LOSSLESS);
    const pre = new AbortController();
    pre.abort();
    expect((await failure(decodeSlicesInto(slices, target(slices.length), { signal: pre.signal }))).code).toBe('E_ABORTED');
    // Many compressed slices; abort at the first progress report.
    const many = Array.from({ length: 48 }, (_, k) => ({ ...slices[6 + (k % 2)]!, sliceIndex: k }));
    const ac = new AbortController();
    const started = Date.now();
    const into = target(many.length);
    const r = await failure(decodeSlicesInto(many, into, { threads: 2, signal: ac.signal, onProgress: () => ac.abort() }));
    expect(r.code).toBe('E_ABORTED');
    expect(Date.now() - started).toBeLessThan(10_000);
    // Once rejected, no lane writes into the target any more.
    const v = new Int16Array(into.buffer).fill(12345);
    await new Promise((res) => setTimeout(res, 300));
    expect(v.every((x) => x === 12345)).toBe(true);
  });

  it('an abort in the middle of a frame decoded on this thread rejects only after that frame has landed', async () => {
    const [j2k] = await sources([chestTs('JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90')]);
    const bytes = new Uint8Array(readFileSync(j2k!.source as string));
    const many = Array.from({ length: 24 }, (_, k) => ({ ...j2k!, source: bytes, sliceIndex: k }));
    const into = target(many.length);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 60);
    const r = await failure(decodeSlicesInto(many, into, { threads: 1, signal: ac.signal }));
    expect(r.code).toBe('E_ABORTED');
    const v = new Int16Array(into.buffer).fill(12345);
    await new Promise((res) => setTimeout(res, 300));
    expect(v.every((x) => x === 12345)).toBe(true);
  });

  it('a slice whose file is cut fails with a coded error naming the file, in workers and inline', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-decode-'));
    const good = LOSSLESS[6]!; // J2K
    const bytes = readFileSync(good);
    const cut = join(dir, 'cut-j2k.dcm');
    writeFileSync(cut, bytes.subarray(0, bytes.length - 20_000));
    const cutNative = join(dir, 'cut-native.dcm');
    const nativeBytes = readFileSync(chest());
    writeFileSync(cutNative, nativeBytes.subarray(0, nativeBytes.length - 20_000));
    const [j2k, native] = await sources([good, chest()]);
    for (const threads of [1, 2]) {
      const r1 = await failure(decodeSlicesInto([{ ...j2k!, source: cut }], target(1), { threads }));
      expect(r1.code, `threads ${threads}`).toBe('E_TRUNCATED');
      expect(r1.message).toContain(cut);
      const r2 = await failure(decodeSlicesInto([{ ...native!, source: cutNative, sliceIndex: 0 }], target(1), { threads }));
      expect(r2.code).toBe('E_TRUNCATED');
      expect(r2.message).toContain(cutNative);
    }
  });

  it('rejects slices that do not fit the target with E_USAGE', async () => {
    const slices = await sources([chest()]);
    expect((await failure(decodeSlicesInto([{ ...slices[0]!, sliceIndex: 1 }], target(1)))).code).toBe('E_USAGE');
    expect((await failure(decodeSlicesInto(slices, { ...target(1), sliceVoxels: 100 }))).code).toBe('E_USAGE');
  });
});
