import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { synthesize, writeSynthResult } from '../../src/synth/synthesize.js';
import { detect } from '../../src/pipeline/detect.js';
import { closeRunners } from '../../src/inference/runner.js';
import { closePool } from '../../src/workers/pool.js';
import { fixturePackage } from '../pipeline/helpers.js';
import { cli, listAll } from '../helpers/cli.js';

// Patient attributes a test series carries; none may appear in anything ctscope prints.
const PHI = { name: 'Quixotica^Jane^Q', id: 'PID-5551234-ZZ', birth: '19610203' };
const PHI_PATTERNS = [/Quixotica/i, /PID-5551234/, /19610203/, /1961-02-03/];
// Tag values that try to climb out of the output folder.
const HOSTILE = '../../../../../tmp/ctscope-escape/evil';

let work: string, series: string, model: string;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'ctscope-security-'));
  const result = synthesize('chest', { rows: 64, cols: 64, slices: 24, spacing: [5, 5, 5], seed: 3, lesions: 2 });
  result.series.patientName = PHI.name;
  result.series.patientId = PHI.id;
  result.series.patientBirthDate = PHI.birth;
  result.series.seriesDescription = HOSTILE;
  result.series.studyDescription = HOSTILE;
  series = join(work, 'series');
  mkdirSync(series);
  writeSynthResult(result, series);
  model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
});
afterAll(async () => {
  await closeRunners();
  await closePool();
});

function expectNoPhi(lines: string[], what: string): void {
  expect(lines.length, `${what} printed nothing to check`).toBeGreaterThan(0);
  for (const line of lines) for (const p of PHI_PATTERNS) expect(line, `${what} printed patient data`).not.toMatch(p);
}

describe('no patient name, ID or birth date in anything printed', () => {
  it('the series really carries them (so the checks below can fail)', () => {
    const bytes = readFileSync(join(series, 'CT000001.dcm')).toString('latin1');
    for (const v of Object.values(PHI)) expect(bytes).toContain(v);
  });

  it('every line of every CLI command, on success and on failure', async () => {
    const out = join(work, 'out');
    const broken = join(work, 'broken');
    mkdirSync(broken);
    for (const f of readdirSync(series)) copyFileSync(join(series, f), join(broken, f));
    // A truncated copy and a damaged one beside the good slices: skipped-file reports are printed too.
    writeFileSync(join(broken, 'cut.dcm'), readFileSync(join(series, 'CT000003.dcm')).subarray(0, 900));
    const damaged = readFileSync(join(series, 'CT000004.dcm'));
    damaged.fill(0xff, 300, 420);
    writeFileSync(join(broken, 'damaged.dcm'), damaged);
    const tokenFile = join(work, 'token');
    writeFileSync(tokenFile, 'sekrit-bearer-0xC0FFEE\n');

    const runs: Array<[string, string[]]> = [
      ['info', ['info', broken]],
      ['info --json', ['info', broken, '--json']],
      ['convert', ['convert', broken, '--out', join(work, 'v.nii.gz')]],
      ['convert --spacing', ['convert', series, '--out', join(work, 'r.nii'), '--spacing', '3']],
      ['detect', ['detect', broken, '--model', model, '--ep', 'cpu', '--out', out]],
      ['detect --json', ['detect', series, '--model', model, '--ep', 'cpu', '--json']],
      ['detect unknown series', ['detect', series, '--model', model, '--ep', 'cpu', '--json', '--series', '1.2.3.4']],
      ['convert unknown series', ['convert', series, '--out', join(work, 'x.nii'), '--series', '9.9']],
      ['detect, bad output', ['detect', series, '--model', model, '--out', join(series, 'CT000001.dcm')]],
      ['detect over DICOMweb with a token', ['detect', 'dicomweb+http://127.0.0.1:9/dicom-web?study=1.2&series=1.2.3', '--model', model, '--json', '--token-file', tokenFile]],
    ];
    const all: string[] = [];
    for (const [what, args] of runs) {
      const r = await cli(args);
      expectNoPhi(r.lines, what);
      all.push(...r.lines);
      if (what.startsWith('detect over DICOMweb')) {
        expect(r.code).not.toBe(0);
        expect(r.stderr).not.toContain('sekrit');
      }
    }
    // The runs did print something about each case (skips, errors), so the scan covered real output.
    expect(all.some((l) => /^error\[E_SERIES_NOT_FOUND\]/.test(l))).toBe(true);
    expect(all.some((l) => /cut\.dcm: E_TRUNCATED/.test(l))).toBe(true);
  }, 120_000);

  it('library progress, log lines, errors and findings.json', async () => {
    const lines: string[] = [];
    const outcome = await detect(series, {
      models: model,
      ep: 'auto',
      onLog: (l) => lines.push(l),
      onProgress: (p) => lines.push(JSON.stringify(p)),
    });
    lines.push(JSON.stringify(outcome.document));
    const failed = await detect(series, { models: model, seriesUid: '1.2.3.4' }).catch((e: Error) => e);
    lines.push(String(failed), (failed as Error).message);
    expectNoPhi(lines, 'the library');
  }, 60_000);
});

describe('a source header that breaks its VR lengths', () => {
  it('an over-long patient name is copied into the SR as it is, with a warning that never quotes it', async () => {
    // Non-conformant but seen in the wild: a name group over PN's 64 characters. dcmjs refused to write it and
    // quoted the whole name in its error, after inference had finished.
    const longName = `Quixotica${'X'.repeat(64)}^Jane`;
    const result = synthesize('chest', { rows: 64, cols: 64, slices: 24, spacing: [5, 5, 5], seed: 3, lesions: 2 });
    result.series.patientName = longName;
    result.series.patientId = PHI.id;
    const dir = join(work, 'long-name');
    mkdirSync(dir);
    writeSynthResult(result, dir);
    const lines: string[] = [];
    const outcome = await detect(dir, { models: model, ep: 'cpu', sr: true, onLog: (l) => lines.push(l) });
    expect(Buffer.from(outcome.sr!).toString('latin1')).toContain(longName);
    expect(outcome.document.warnings).toContain('source PatientName is longer than its VR (PN) allows; copied into the SR as it is');
    lines.push(JSON.stringify(outcome.document));
    expectNoPhi(lines, 'a run on an over-long name');
  }, 60_000);

  it('an SR error never quotes a value', async () => {
    const { withoutValues } = await import('../../src/outputs/sr-task.js');
    expect(withoutValues('Value exceeds max length, vr: PN, value: Quixotica^Jane, length: 76')).toBe('Value exceeds max length, vr: PN, value: (withheld), length: 76');
    expect(withoutValues('bad value: Quixotica^Jane')).toBe('bad value: (withheld)');
  });
});

describe('output file names never come from tag values', () => {
  it('a hostile SeriesDescription and StudyDescription do not steer where files go', async () => {
    const out = join(work, 'named');
    const r = await cli(['detect', series, '--model', model, '--ep', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync('/tmp/ctscope-escape')).toBe(false);
    const names = listAll(out);
    expect(names.length).toBeGreaterThan(0);
    for (const n of names) expect(n).toMatch(/^(findings\.json|sr\.dcm|report\.html|key-\d+\.png|\.ctscope-outputs\.json)$/);
    // The SR does carry the description as data, which is where it belongs.
    expect(readFileSync(join(out, 'sr.dcm')).toString('latin1')).toContain(PHI.name);
  }, 60_000);
});
