import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeOutputs } from '../../src/outputs/write.js';
import type { KeyImageSource } from '../../src/outputs/key-image.js';
import type { FindingRecord, FindingsDocument } from '../../src/outputs/document.js';
import type { Mat3 } from '../../src/volume/types.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const finding = (n: number): FindingRecord =>
  ({ n, model: 'm', kind: 'nodule', label: 'nodule', score: 0.9, centerLps: [16, 16, n], centerVoxel: [16, 16, n], sliceIndex: n, diameterMm: 4, volumeMm3: 30, sopInstanceUid: `1.2.${n}`, frameNumber: 1 }) as unknown as FindingRecord;

describe('writeOutputs when one key image fails while others are still being made', () => {
  it('waits for the images in flight and removes every file it wrote: nothing stays', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-write-'));
    dirs.push(out);
    const dims: [number, number, number] = [32, 32, 8];
    // Slice 1 fails at once; the others arrive later, after that failure, as a slow disk or decoder would.
    const volume: KeyImageSource = {
      geometry: { dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3 },
      readSlice: async (k) => {
        if (k === 1) throw new Error('slice 1 cannot be read');
        await new Promise((r) => setTimeout(r, 50 * k));
        return new Int16Array(32 * 32).fill(-1000);
      },
    };
    const doc = { findings: [1, 2, 3, 4, 5, 6].map(finding), files: [] } as unknown as FindingsDocument;
    await expect(writeOutputs(out, doc, volume, undefined, ['json', 'report'])).rejects.toThrow(/slice 1 cannot be read/);
    // Long enough for any image still being made to land, had the writer not waited for it.
    await new Promise((r) => setTimeout(r, 800));
    expect(readdirSync(out)).toEqual([]);
  });
});
