import { describe, expect, it } from 'vitest';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { readHeader, readInstance } from '../../src/dicom/parse.js';
import { decodeFrameToHu } from '../../src/dicom/decode.js';
import { decodeSlicesInto } from '../../src/dicom/decode-series.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { chest, chestTs } from './helpers.js';

/**
 * Measurements, not checks: run with CTSCOPE_BENCH=1 (numbers go to the console). The only assertion
 * is that something was measured. Timings depend on the machine and on what else runs on it.
 */
const BENCH = process.env.CTSCOPE_BENCH === '1';

/** Mean ms per frame. `fresh`: a new copy of the bytes each time (defeats the per-buffer inflate cache). */
async function timeFrames(path: string, out: Int16Array, minMs: number, fresh = false): Promise<number> {
  const { bytes, instance } = await readInstance(path);
  const n = instance.rows * instance.columns;
  const slots = Math.floor(out.length / n);
  const input = () => (fresh ? bytes.slice() : bytes);
  for (let i = 0; i < 3; i++) await decodeFrameToHu(input(), instance, 0, out, (i % slots) * n);
  let count = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) await decodeFrameToHu(input(), instance, 0, out, (count++ % slots) * n);
  return (performance.now() - t0) / count;
}

describe.skipIf(!BENCH || !hasSharedData)('decode throughput (CTSCOPE_BENCH=1)', () => {
  it('decodeFrameToHu, uncompressed int16 512x512, single thread', async () => {
    const out = new Int16Array(512 * 512 * 16);
    const rows: string[] = [];
    for (const [label, path] of [
      ['signed 16-bit, padding, intercept -1024 (chest ILE)', chest()],
      ['signed 16-bit, padding -1500 (GE head)', sharedPath('ct_head_ge_tilt_varspacing', '01.dcm')],
      ['unsigned 12-bit, intercept -1024 (Philips)', sharedPath('ct_phantom_head_philips_1mm', 'I100')],
      ['big endian (chest EBE)', chestTs('BigEndianExplicitTransferSyntax', '1.2.840.10008.1.2.2')],
    ] as const) {
      const ms = await timeFrames(path, out, 1500);
      rows.push(`${label}: ${((512 * 512) / ms / 1000).toFixed(0)} Mvox/s (${ms.toFixed(3)} ms/frame)`);
    }
    console.log(rows.join('\n'));
    expect(rows).toHaveLength(4);
  });

  it('per codec, ms per 512x512 frame, single thread', async () => {
    const out = new Int16Array(512 * 512 * 4);
    const rows: string[] = [];
    for (const [name, uid] of [
      ['DeflatedExplicitVRLittleEndianTransferSyntax', '1.2.840.10008.1.2.1.99'],
      ['RLELosslessTransferSyntax', '1.2.840.10008.1.2.5'],
      ['JPEGProcess1TransferSyntax', '1.2.840.10008.1.2.4.50'],
      ['JPEGProcess2_4TransferSyntax', '1.2.840.10008.1.2.4.51'],
      ['JPEGProcess10_12TransferSyntax', '1.2.840.10008.1.2.4.55'],
      ['JPEGProcess14SV1TransferSyntax', '1.2.840.10008.1.2.4.70'],
      ['JPEGLSLosslessTransferSyntax', '1.2.840.10008.1.2.4.80'],
      ['JPEGLSLossyTransferSyntax', '1.2.840.10008.1.2.4.81'],
      ['JPEG2000LosslessOnlyTransferSyntax', '1.2.840.10008.1.2.4.90'],
      ['JPEG2000TransferSyntax', '1.2.840.10008.1.2.4.91'],
    ] as const) {
      // Deflate inflates once per buffer: time it on fresh buffers so the cache does not hide it.
      const ms = await timeFrames(chestTs(name, uid), out, 1000, uid.endsWith('.99'));
      rows.push(`${uid} ${name}: ${ms.toFixed(2)} ms/frame`);
    }
    console.log(rows.join('\n'));
    expect(rows.length).toBeGreaterThan(0);
  });

  it('decodeSlicesInto, 140-slice uncompressed series, threads 1 vs 2 (cold and warm pool)', async () => {
    const dir = sharedPath('ct_phantom_head_philips_1mm');
    const t0 = performance.now();
    const headers = await Promise.all(readdirSync(dir).filter((f) => f.startsWith('I')).map((f) => readHeader(join(dir, f))));
    const headerMs = performance.now() - t0;
    const slices = headers.map((instance, k) => ({ source: instance.source, instance, frameIndex: 0, sliceIndex: k }));
    const sv = 512 * 512;
    const target = { buffer: new SharedArrayBuffer(slices.length * sv * 2), dtype: 'int16' as const, sliceVoxels: sv };
    const rows = [`readHeader x ${slices.length}: ${headerMs.toFixed(0)} ms`];
    await closePool();
    for (const [label, threads] of [['threads 1', 1], ['threads 2 (cold pool)', 2], ['threads 1', 1], ['threads 2 (warm pool)', 2]] as const) {
      const t = performance.now();
      await decodeSlicesInto(slices, target, { threads });
      const ms = performance.now() - t;
      rows.push(`${label}: ${ms.toFixed(0)} ms, ${((slices.length * sv) / ms / 1000).toFixed(0)} Mvox/s`);
    }
    await closePool();
    console.log(rows.join('\n'));
    expect(rows).toHaveLength(5);
  });
});
