import { closeSync, ftruncateSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scanStudy } from '../../src/ingest/load.js';
import { sliceFileName, sliceHeader, type CtSeriesSpec } from '../../src/synth/dicom-writer.js';
import type { Geometry, Vec3 } from '../../src/volume/types.js';
import { testSeriesSpec } from '../helpers/series-spec.js';

/** Bytes this process has passed through read syscalls (page-cache hits included), from /proc/self/io. */
function readBytes(): number {
  const m = /^rchar:\s+(\d+)/m.exec(readFileSync('/proc/self/io', 'utf8'));
  return m ? Number(m[1]) : NaN;
}

function spec(n: number, dims: Vec3, spacing: Vec3): CtSeriesSpec {
  // Series n of one study, each at its own height.
  const geometry: Geometry = { dims, spacing, origin: [-180, -180, -100 - n * 500], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] };
  return testSeriesSpec(geometry, `1.2.826.0.1.3680043.8.498.77.${n}`, {
    studyInstanceUid: '1.2.826.0.1.3680043.8.498.77.1000',
    frameOfReferenceUid: '1.2.826.0.1.3680043.8.498.77.1001',
    seriesDescription: `series ${n}`,
    seriesNumber: n,
  });
}

// 5 series x 1,000 slices of 512 x 512 int16 (2.5 GiB of declared pixel data) plus 50 non-DICOM files.
// Pixel values are holes in sparse files: the disk holds only the headers, reading them would still cost reads.
const SERIES: Array<{ dims: Vec3; spacing: Vec3 }> = [
  { dims: [512, 512, 1000], spacing: [0.7, 0.7, 1] },
  { dims: [512, 512, 1000], spacing: [0.7, 0.7, 0.5] },
  { dims: [512, 512, 1000], spacing: [0.8, 0.8, 1.25] },
  { dims: [512, 512, 1000], spacing: [0.6, 0.6, 0.625] },
  { dims: [512, 512, 1000], spacing: [0.7, 0.7, 2] },
];

let dir: string;
let pixelBytes = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ctscope-5000-'));
  SERIES.forEach((s, n) => {
    const sp = spec(n + 1, s.dims, s.spacing);
    for (let k = 0; k < s.dims[2]; k++) {
      const parts = sliceHeader(sp, k);
      const headerLength = parts.reduce((a, p) => a + p.byteLength, 0);
      const path = join(dir, `s${n + 1}-${sliceFileName(k)}`);
      const fd = openSync(path, 'w');
      writevSync(fd, parts);
      ftruncateSync(fd, headerLength + s.dims[0] * s.dims[1] * 2);
      closeSync(fd);
      pixelBytes += s.dims[0] * s.dims[1] * 2;
    }
  });
  for (let i = 0; i < 50; i++) writeFileSync(join(dir, `notes-${i}.txt`), 'not DICOM\n'.repeat(100));
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('a folder of 5,000 files from mixed series', () => {
  it('is indexed from the headers alone: every series and slice found, pixel data never read', async () => {
    const before = readBytes();
    const index = await scanStudy(dir);
    const read = readBytes() - before;
    console.log(`indexed ${index.inputCount} files, read ${(read / 2 ** 20).toFixed(1)} MiB`);
    expect(index.inputCount).toBe(5050);
    expect(index.series).toHaveLength(5);
    for (const s of index.series) expect(s.layout?.slices.length).toBe(1000);
    expect(index.skipped.filter((s) => s.code === 'E_NOT_DICOM')).toHaveLength(50);
    expect(index.primaryId).toBeDefined();
    // Each file costs one first read of at most 16 KiB (its header is about 1.5 KiB); its 512 KiB of pixel
    // data are never touched. Allow the rest of the process a few MB of reads.
    expect(read, `${(read / 2 ** 20).toFixed(1)} MiB read`).toBeLessThan(5050 * 16 * 1024 + 16 * 2 ** 20);
    expect(read).toBeLessThan(pixelBytes / 20);
  }, 120_000);
});
