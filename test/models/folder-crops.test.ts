import { execFile } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthToDirectory } from '../../src/synth/synthesize.js';

const SCRIPT = fileURLToPath(new URL('../../models/folder_crops.mjs', import.meta.url));
const S = 48;

let root: string;
beforeAll(() => {
  if (!existsSync(fileURLToPath(new URL('../../dist/ingest/load.js', import.meta.url)))) throw new Error('dist/ missing: run `npx tsc -p .` first');
  root = mkdtempSync(join(tmpdir(), 'ctscope-folder-crops-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface CropLine { case: string; why: 'pos' | 'hard' | 'random'; lesions: Array<{ c: [number, number, number]; d: number }> }

describe('models/folder_crops.mjs: training crops from case folders of any generator', () => {
  it('cuts two crops per lesion with the lesion where the line says, mined and random negatives, skips a folder without truth or DICOM, and writes afresh', async () => {
    const cases = join(root, 'cases');
    // The bundled tests' small CTA phantom with one aneurysm, and a folder that is not a case.
    await synthToDirectory('cta', { seed: 9005, lesions: 1, rows: 80, cols: 80, slices: 48, spacing: [2, 2, 1.5] }, join(cases, 'a'));
    mkdirSync(join(cases, 'b-no-truth'));
    // A truth.json beside bytes that are not DICOM: reported and skipped, the run goes on.
    mkdirSync(join(cases, 'c-not-dicom'));
    copyFileSync(join(cases, 'a', 'truth.json'), join(cases, 'c-not-dicom', 'truth.json'));
    writeFileSync(join(cases, 'c-not-dicom', 'x.dcm'), Buffer.alloc(4096, 7));
    const out = join(root, 'crops');
    const run = () => new Promise<string>((resolve, reject) =>
      execFile(process.execPath, [SCRIPT, 'aneurysm', cases, out], { env: { ...process.env, CTSCOPE_THREADS: '2' } }, (err, so, se) => (err ? reject(new Error(`${err.message}\n${se}`)) : resolve(so))),
    );
    const stdout = await run();
    expect(stdout).toMatch(/b-no-truth: no truth\.json, skipped/);
    expect(stdout).toMatch(/c-not-dicom: not loaded \(E_NOT_DICOM\), skipped/);
    const lines = readFileSync(join(out, 'crops.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as CropLine);
    expect(statSync(join(out, 'crops.i16')).size).toBe(lines.length * S ** 3 * 2);
    expect(lines.every((l) => l.case === 'a')).toBe(true);
    const pos = lines.filter((l) => l.why === 'pos');
    expect(pos).toHaveLength(2);
    expect(lines.filter((l) => l.why === 'random').length).toBeGreaterThan(0);
    const hu = new Int16Array(readFileSync(join(out, 'crops.i16')).buffer.slice(0));
    const truth = JSON.parse(readFileSync(join(cases, 'a', 'truth.json'), 'utf8')) as { findings: Array<{ diameterMm: number }> };
    for (const p of pos) {
      const n = lines.indexOf(p);
      const l = p.lesions.find((x) => Math.abs(x.d - truth.findings[0]!.diameterMm) < 1e-9)!;
      // Jittered by at most 0.3 x 20 voxels around the crop's centre, and on contrast-filled lumen there.
      for (const x of l.c) expect(Math.abs(x - S / 2)).toBeLessThanOrEqual(6.5);
      const [i, j, k] = l.c.map(Math.round) as [number, number, number];
      expect(hu[n * S ** 3 + i + S * (j + S * k)]).toBeGreaterThan(150);
    }
    expect(lines.filter((l) => l.why === 'hard').length).toBeLessThanOrEqual(8);
    // A second run into the same folder replaces the crops: same files, not twice as many.
    const before = readFileSync(join(out, 'crops.jsonl'), 'utf8');
    await run();
    expect(readFileSync(join(out, 'crops.jsonl'), 'utf8')).toBe(before);
    expect(statSync(join(out, 'crops.i16')).size).toBe(lines.length * S ** 3 * 2);
  }, 120_000);
});
