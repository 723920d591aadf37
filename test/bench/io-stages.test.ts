import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { StageContext } from '../../src/bench/context.js';
import { benchDecode } from '../../src/bench/decode.js';
import { benchParse } from '../../src/bench/parse.js';
import { benchRead } from '../../src/bench/read.js';
import { synthToDirectory } from '../../src/synth/synthesize.js';

const hasDcmtk = (() => {
  try {
    execFileSync('dcmcrle', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

const ROWS = 128, SLICES = 12;
let ctx: StageContext;
let root: string;

// A small generated series in the layout make-data.sh leaves (<syntax>/ with a .done marker); RLE copies by dcmtk where present.
beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'ctscope-bench-io-'));
  await synthToDirectory('chest', { seed: 4, rows: ROWS, cols: ROWS, slices: SLICES, spacing: [2.5, 2.5, 2.5], truth: false }, join(root, 'ele'));
  writeFileSync(join(root, 'ele', '.done'), '');
  if (hasDcmtk) {
    mkdirSync(join(root, 'rle'));
    for (const f of readdirSync(join(root, 'ele')).filter((n) => n.endsWith('.dcm'))) execFileSync('dcmcrle', [join(root, 'ele', f), join(root, 'rle', f)]);
    writeFileSync(join(root, 'rle', '.done'), '');
  }
  // Ratios are not under test here; fixed baselines keep the test short.
  ctx = { baselines: { memcpyGBs: 10, scalarMs: 80, faultUsPerPage: 0.5 }, quick: true, dataDir: root, ep: 'cpu', deviceId: 0 };
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const syntaxes = (): string[] => (hasDcmtk ? ['ele', 'rle'] : ['ele']);
const folderBytes = (d: string): number => readdirSync(d).filter((n) => n.endsWith('.dcm')).reduce((s, n) => s + statSync(join(d, n)).size, 0);

describe('read, parse and decode stages on generated series', () => {
  it('read: every file of each syntax, MB/s over the bytes on disk', async () => {
    const rows = await benchRead(ctx);
    expect(rows.map((r) => r.name)).toEqual(syntaxes().map((s) => `read ${s}`));
    for (const [i, s] of syntaxes().entries()) {
      const r = rows[i]!;
      expect(r.work).toEqual({ amount: folderBytes(join(root, s)), unit: 'B' });
      expect(r.throughputUnit).toBe('MB/s');
      expect(r.throughput!).toBeCloseTo(r.work!.amount / 1e6 / (r.medianMs / 1000), 6);
      expect(r.vsMemcpy).toBeGreaterThan(0);
      expect(r.note).toMatch(new RegExp(`^${SLICES} files`));
    }
  });

  it('parse: headers of every file, with files per second', async () => {
    const rows = await benchParse(ctx);
    expect(rows.map((r) => r.name)).toEqual(syntaxes().map((s) => `parse ${s}`));
    for (const r of rows) {
      expect(r.samples).toBeGreaterThanOrEqual(3);
      const perSecond = Number(/, (\d+) files\/s$/.exec(r.note ?? '')?.[1]);
      expect(perSecond).toBeCloseTo(SLICES / (r.medianMs / 1000), -1);
    }
  });

  it('decode: every frame to HU on one thread, Mvox/s per syntax', async () => {
    const rows = await benchDecode(ctx);
    expect(rows.map((r) => r.name)).toEqual(syntaxes().map((s) => `decode ${s}`));
    for (const r of rows) {
      expect(r.work).toEqual({ amount: ROWS * ROWS * SLICES, unit: 'vox' });
      expect(r.throughputUnit).toBe('Mvox/s');
      expect(r.throughput!).toBeGreaterThan(1);
      expect(r.note).toBe(`${SLICES} frames, 1 thread`);
    }
  });

  it('a data folder whose series is not DICOM fails with a coded error, not a crash', async () => {
    const bad = mkdtempSync(join(tmpdir(), 'ctscope-bench-bad-'));
    try {
      mkdirSync(join(bad, 'ele'));
      writeFileSync(join(bad, 'ele', 'CT000001.dcm'), 'not a DICOM file at all');
      writeFileSync(join(bad, 'ele', '.done'), '');
      await expect(benchParse({ ...ctx, dataDir: bad })).rejects.toMatchObject({ code: 'E_NOT_DICOM' });
    } finally {
      rmSync(bad, { recursive: true, force: true });
    }
  });
});
