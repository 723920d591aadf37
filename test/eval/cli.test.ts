import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { evalCommand } from '../../src/cli/eval.js';
import { runEval } from '../../src/eval/evaluate.js';

let root: string;
const write = (file: string, doc: unknown): void => {
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, JSON.stringify(doc));
};

async function run(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const lines: string[] = [];
  const errs: string[] = [];
  const code = await evalCommand.run(argv, { out: (l) => lines.push(l), err: (l) => errs.push(l), isTTY: false, signal: new AbortController().signal });
  return { code, out: lines.join('\n'), err: errs.join('\n') };
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'ctscope-eval-'));
  // Chest scan: one nodule found, one false positive. CTA scan: one aneurysm found 1.5 mm off (2 mm rule).
  write(join(root, 'truth', 'c1', 'truth.json'), { kind: 'chest', findings: [{ kind: 'nodule', centerLps: [10, 20, 30], diameterMm: 8, type: 'solid' }] });
  write(join(root, 'pred', 'c1', 'findings.json'), {
    findings: [
      { kind: 'nodule', score: 0.9, centerLps: [11, 20, 30] },
      { kind: 'nodule', score: 0.7, centerLps: [100, 20, 30] },
    ],
  });
  write(join(root, 'truth', 'h1', 'truth.json'), { kind: 'cta', findings: [{ kind: 'aneurysm', centerLps: [0, 0, 0], diameterMm: 2.5, type: 'saccular' }] });
  write(join(root, 'pred', 'h1', 'findings.json'), { findings: [{ kind: 'aneurysm', score: 0.8, centerLps: [1.5, 0, 0] }] });
  // A scan with no findings.json counts as a scan without findings.
  write(join(root, 'truth', 'c2', 'truth.json'), { kind: 'chest', findings: [] });
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('runEval', () => {
  it('scores only the named cases where given (npm run eval on a reused work folder)', () => {
    const all = runEval(join(root, 'truth'), join(root, 'pred'), ['nodule']);
    expect(all.kinds.nodule!.scans).toBe(2);
    expect(all.missingPredictions).toEqual(['c2']);
    const one = runEval(join(root, 'truth'), join(root, 'pred'), ['nodule'], { onlyCases: ['c1'] });
    expect(one.kinds.nodule!.scans).toBe(1);
    expect(one.missingPredictions).toEqual([]);
  });
});

describe('ctscope eval', () => {
  it('prints FROC per kind as JSON', async () => {
    const { code, out, err } = await run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'pred'), '--json', '--threshold', '0.5']);
    expect(code).toBe(0);
    const r = JSON.parse(out);
    // c2 has no findings.json: scored as a scan without findings, and said so.
    expect(r.missingPredictions).toEqual(['c2']);
    expect(err).toMatch(/^warning: 1 case\(s\) without findings\.json, scored as no findings: c2$/);
    expect(r.kinds.nodule.scans).toBe(2);
    expect(r.kinds.nodule.truths).toBe(1);
    // Sensitivity 1 from 0 FP/scan on; the FP enters at 0.5 FP/scan.
    expect(r.kinds.nodule.cpm).toBe(1);
    expect(r.kinds.nodule.atThreshold.fpPerScan).toBe(0.5);
    // Resamples that drew c2 twice hold no nodule and are skipped (about a quarter of them); the rest find it first.
    expect(r.kinds.nodule.interval.cpm).toEqual([1, 1]);
    expect(r.kinds.nodule.interval.resamples).toBeGreaterThan(650);
    expect(r.kinds.nodule.interval.resamples).toBeLessThan(850);
    // One scan: no interval.
    expect(r.kinds.aneurysm.interval).toBeNull();
    expect(r.kinds.aneurysm.scans).toBe(1);
    expect(r.kinds.aneurysm.atThreshold.sensitivity).toBe(1);
  });

  it('prints a Markdown table', async () => {
    const { out } = await run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'pred'), '--kind', 'nodule']);
    expect(out).toContain('### nodule: 2 scans, 1 lesions, 2 findings');
    expect(out).toContain('| sensitivity | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | 1.000 | **1.000** |');
    expect(out).not.toContain('aneurysm');
    expect(out).toContain('| 95 % interval | 1.00-1.00 | 1.00-1.00 |');
    expect(out).toMatch(/Intervals: 2.5th-97.5th percentiles over \d+ resamples of the 2 scans with replacement/);
    const none = await run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'pred'), '--kind', 'nodule', '--bootstrap', '0']);
    expect(none.out).not.toContain('interval');
  });

  it('rejects bad usage with coded errors', async () => {
    await expect(run(['--truth-root', join(root, 'truth')])).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'pred'), '--kind', 'polyp'])).rejects.toMatchObject({ code: 'E_USAGE' });
    for (const n of ['-1', '2.5', 'many', '1e9']) {
      await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'pred'), '--bootstrap', n])).rejects.toMatchObject({ code: 'E_USAGE' });
    }
    await expect(run(['--truth-root', join(root, 'nope'), '--pred-root', join(root, 'pred')])).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    write(join(root, 'bad', 'c1', 'findings.json'), { findings: [{ kind: 'nodule', centerLps: [1, 2] , score: 1 }] });
    const badFile = join(root, 'bad', 'c1', 'findings.json');
    await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'bad')])).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringContaining(`${badFile}: finding 1 needs centerLps`) });
    // Not JSON, or findings that cannot be scored: the file is named, the code is bad input (exit 3), never a silent CPM of 0.
    writeFileSync(badFile, '{ findings: [');
    await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'bad')])).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringContaining(`${badFile}: not JSON`) });
    write(join(root, 'bad', 'c1', 'findings.json'), { findings: [{ score: 'x' }] });
    await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'bad')])).rejects.toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringMatching(/finding 1 has no kind/) });
  });

  it('findings of another series than the truth (a mixed-up prediction root) are E_BAD_INPUT naming the case, not its UIDs', async () => {
    const series = (uid: string) => ({ seriesInstanceUid: uid });
    write(join(root, 'uid-truth', 'c1', 'truth.json'), { kind: 'chest', series: series('1.2.3.4.5'), findings: [] });
    write(join(root, 'uid-pred', 'c1', 'findings.json'), { series: series('1.2.3.4.6'), findings: [{ kind: 'nodule', score: 0.9, centerLps: [1, 2, 3] }] });
    const e = await run(['--truth-root', join(root, 'uid-truth'), '--pred-root', join(root, 'uid-pred')]).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringMatching(/^case c1: findings\.json is for another series than truth\.json/) });
    expect((e as Error).message).not.toContain('1.2.3.4');
    // The same series: scored.
    write(join(root, 'uid-pred', 'c1', 'findings.json'), { series: series('1.2.3.4.5'), findings: [{ kind: 'nodule', score: 0.9, centerLps: [1, 2, 3] }] });
    expect((await run(['--truth-root', join(root, 'uid-truth'), '--pred-root', join(root, 'uid-pred'), '--json'])).code).toBe(0);
  });

  it('a prediction root with no findings.json at all, or no scans of the asked kind, is E_NOT_FOUND, not a CPM of 0', async () => {
    mkdirSync(join(root, 'empty'), { recursive: true });
    await expect(run(['--truth-root', join(root, 'truth'), '--pred-root', join(root, 'empty')])).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/none of the 3 case\(s\) has a findings\.json/) });
    write(join(root, 'chest-only', 'c1', 'truth.json'), { kind: 'chest', findings: [] });
    await expect(run(['--truth-root', join(root, 'chest-only'), '--pred-root', join(root, 'pred'), '--kind', 'aneurysm'])).rejects.toMatchObject({ code: 'E_NOT_FOUND', message: expect.stringMatching(/no cta scans/) });
  });

  it('a lesion kind no scan holds (truth files without kind) is left out, not scored 0; a truth.json of null is E_BAD_INPUT', async () => {
    write(join(root, 'kindless', 'k1', 'truth.json'), { findings: [{ kind: 'aneurysm', centerLps: [0, 0, 0], diameterMm: 4 }] });
    write(join(root, 'kindless-pred', 'k1', 'findings.json'), { findings: [{ kind: 'nodule', score: 0.9, centerLps: [50, 0, 0] }, { kind: 'aneurysm', score: 0.8, centerLps: [0, 0, 1] }] });
    const r = runEval(join(root, 'kindless'), join(root, 'kindless-pred'), ['nodule', 'aneurysm'], { bootstrap: 0 });
    expect(Object.keys(r.kinds)).toEqual(['aneurysm']);
    expect(r.kinds.aneurysm!.cpm).toBe(1);
    writeFileSync(join(root, 'kindless', 'k1', 'truth.json'), 'null');
    expect(() => runEval(join(root, 'kindless'), join(root, 'kindless-pred'), ['aneurysm'])).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT', message: expect.stringMatching(/not a JSON object/) }));
  });
});

describe('which scans count for which lesion kind (one rule for scoring, eval --detect and the files read)', () => {
  it('a scan of a kind counts for its lesions only; one naming no known kind counts for every lesion kind', async () => {
    const { scanCountsFor } = await import('../../src/eval/cases.js');
    expect([scanCountsFor('chest', 'nodule'), scanCountsFor('chest', 'aneurysm'), scanCountsFor('cta', 'aneurysm')]).toEqual([true, false, true]);
    // eval --detect ran no model on these while scoring counted them as scans of every kind.
    expect([scanCountsFor(undefined, 'nodule'), scanCountsFor('mri', 'nodule'), scanCountsFor('mri', 'aneurysm')]).toEqual([true, true, true]);
  });
});

describe('what eval used to drop or misreport without a word', () => {
  it('truth lesions without kind take their scan kind; kinds eval does not score are named; no lesions at all is no CPM', async () => {
    const t = join(root, 'w-truth'), p = join(root, 'w-pred');
    write(join(t, 'a', 'truth.json'), { kind: 'chest', findings: [{ centerLps: [0, 0, 0], diameterMm: 10 }, { kind: 'Nodule', centerLps: [50, 0, 0], diameterMm: 1.5 }] });
    write(join(p, 'a', 'findings.json'), { findings: [{ kind: 'nodule', centerLps: [0, 0, 1], score: 0.9 }, { kind: 'lung-nodule', centerLps: [9, 9, 9], score: 0.5 }] });
    // A nested batch and a misnamed truth file: not scored, and said.
    write(join(t, 'batch1', 'b', 'truth.json'), { kind: 'chest', findings: [] });
    write(join(t, 'c', 'Truth.json'), { kind: 'chest', findings: [] });
    const r = runEval(t, p, ['nodule'], { bootstrap: 0 });
    expect(r.kinds.nodule).toMatchObject({ scans: 1, truths: 1, cpm: 1 });
    expect(r.warnings).toEqual([
      '2 folder(s) under the truth root hold no truth.json and are not scored (case folders are <truth-root>/<case>/truth.json): batch1, c',
      `lesions or findings of kind 'Nodule', which eval does not score (it scores nodule and aneurysm): in 1 file(s), such as ${join(t, 'a', 'truth.json')}`,
      `lesions or findings of kind 'lung-nodule', which eval does not score (it scores nodule and aneurysm): in 1 file(s), such as ${join(p, 'a', 'findings.json')}`,
    ]);
    // An aneurysm in a chest scan's truth is scored in neither FROC: said too.
    write(join(t, 'a', 'truth.json'), { kind: 'chest', findings: [{ centerLps: [0, 0, 0], diameterMm: 10 }, { kind: 'aneurysm', centerLps: [9, 0, 0], diameterMm: 4 }] });
    expect(runEval(t, p, ['nodule', 'aneurysm'], { bootstrap: 0 }).warnings).toContain(`truth lesions of kind 'aneurysm' in chest scans, scored in neither FROC (each lesion kind is scored on its own scan kind): in 1 file(s), such as ${join(t, 'a', 'truth.json')}`);
    // A broken findings.json of a scan of the other kind does not fail a run of one kind.
    write(join(t, 'h', 'truth.json'), { kind: 'cta', findings: [] });
    mkdirSync(join(p, 'h'), { recursive: true });
    writeFileSync(join(p, 'h', 'findings.json'), '{ "findings": [');
    expect(runEval(t, p, ['nodule'], { bootstrap: 0 }).kinds.nodule).toMatchObject({ truths: 1 });
    rmSync(join(t, 'h'), { recursive: true });
    // Warnings that explain an empty result are printed before the error.
    const t2 = join(root, 'w2-truth');
    write(join(t2, 'a', 'truth.json'), { findings: [{ kind: 'Nodule', centerLps: [0, 0, 0], diameterMm: 5 }] });
    const lines: string[] = [];
    await expect(evalCommand.run(['--truth-root', t2, '--pred-root', p, '--kind', 'nodule'], { out: () => undefined, err: (l) => lines.push(l), isTTY: false, signal: new AbortController().signal })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(lines.join('\n')).toMatch(/^warning: lesions or findings of kind 'Nodule'/m);
    write(join(t, 'a', 'truth.json'), { findings: [{ centerLps: [0, 0, 0], diameterMm: 10 }] });
    expect(() => runEval(t, p, ['nodule'], { bootstrap: 0 })).toThrow(expect.objectContaining({ code: 'E_BAD_INPUT', message: expect.stringMatching(/truth finding 1 has no kind .* names no scan kind/) }));
    // Scans without a single lesion: no sensitivity exists (it read CPM 0.000), only false positives.
    write(join(t, 'a', 'truth.json'), { kind: 'chest', findings: [] });
    const none = runEval(t, p, ['nodule'], { bootstrap: 0, threshold: 0.7 });
    expect(none.kinds).toEqual({});
    expect(none.withoutLesions).toEqual({ nodule: { scans: 1, threshold: 0.7, fpPerScan: 1 } });
    const cli = await run(['--truth-root', t, '--pred-root', p, '--kind', 'nodule', '--threshold', '0.7']);
    expect(cli.out).toMatch(/^### nodule: 1 scans, no lesions: no sensitivity or CPM; 1\.00 false positives per scan at threshold 0\.7$/m);
  });

  it("a threshold given is not called the default; any finite threshold (scores need not be in [0, 1]); sizes outside the bands get rows; detect's cut files are named", async () => {
    const t = join(root, 'x-truth'), p = join(root, 'x-pred');
    write(join(t, 'a', 'truth.json'), { kind: 'cta', findings: [1.5, 3, 6.9, 15, 20].map((d, i) => ({ kind: 'aneurysm', centerLps: [40 * i, 0, 0], diameterMm: d })) });
    write(join(p, 'a', 'findings.json'), { schemaVersion: 1, models: [{ id: 'aneurysm' }], findings: [0, 1, 2, 3, 4].map((i) => ({ kind: 'aneurysm', centerLps: [40 * i, 0, 0], score: 50 + i })) });
    const r = await run(['--truth-root', t, '--pred-root', p, '--threshold', '51.5', '--bootstrap', '0']);
    expect(r.out).toMatch(/^At threshold 51\.5: sensitivity 60\.0%/m);
    expect(r.out).toMatch(/^\| under 2 mm \| 1 \| 0 \|/m);
    expect(r.out).toMatch(/^\| over 15 mm \| 1 \| 1 \|/m);
    expect(r.err).toMatch(/^warning: 1 findings\.json file\(s\) were written by detect, which kept only findings over each model's threshold/m);
    expect((await run(['--truth-root', t, '--pred-root', p, '--bootstrap', '0'])).out).toMatch(/^At the default threshold /m);
    // One that says it kept findings down to the curve's floor (detect's scoreFloor) is not cut; one over it is.
    const doc = (floor: number) => ({ schemaVersion: 1, models: [{ id: 'aneurysm', scoreThreshold: floor }], findings: [{ kind: 'aneurysm', centerLps: [0, 0, 0], score: 0.5 }] });
    write(join(p, 'a', 'findings.json'), doc(0.02));
    expect((await run(['--truth-root', t, '--pred-root', p, '--bootstrap', '0'])).err).not.toMatch(/written by detect/);
    write(join(p, 'a', 'findings.json'), doc(0.41));
    expect((await run(['--truth-root', t, '--pred-root', p, '--bootstrap', '0'])).err).toMatch(/written by detect/);
  });
});

describe('default threshold', () => {
  it('comes from the model that --model would load ($CTSCOPE_MODELS first), like detect', async () => {
    const { defaultThreshold } = await import('../../src/eval/evaluate.js');
    const { readFileSync } = await import('node:fs');
    const bundled = JSON.parse(readFileSync(join(__dirname, '../../models/nodule/manifest.json'), 'utf8')) as { thresholds: { score: number } };
    expect(defaultThreshold('nodule')).toBe(bundled.thresholds.score);
    const dir = join(root, 'models');
    write(join(dir, 'nodule', 'manifest.json'), { ...bundled, thresholds: { ...bundled.thresholds, score: 0.123 } });
    const before = process.env.CTSCOPE_MODELS;
    process.env.CTSCOPE_MODELS = dir;
    try {
      expect(defaultThreshold('nodule')).toBe(0.123);
    } finally {
      if (before === undefined) delete process.env.CTSCOPE_MODELS;
      else process.env.CTSCOPE_MODELS = before;
    }
  });
});

describe('ctscope eval --detect', () => {
  it('runs the bundled model on each case folder down to the curve floor, skips an unreadable one with its code, and scores', async () => {
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    const { readFileSync, existsSync } = await import('node:fs');
    const { closeRunners } = await import('../../src/inference/runner.js');
    const truth = join(root, 'detect-truth'), pred = join(root, 'detect-pred');
    // A phantom from elsewhere has only DICOM and truth.json; 2.5 mm voxels keep the run to a few seconds.
    await synthToDirectory('chest', { rows: 128, cols: 128, slices: 60, spacing: [2.5, 2.5, 2.5], seed: 7, lesions: 2 }, join(truth, 'a'));
    write(join(truth, 'junk', 'truth.json'), { kind: 'chest', findings: [] });
    writeFileSync(join(truth, 'junk', 'x.dcm'), Buffer.alloc(600, 7));
    // A CTA case: the nodule model is not run on it.
    write(join(truth, 'head', 'truth.json'), { kind: 'cta', findings: [] });
    // An earlier run's findings for the case that is now skipped: not to be scored as this run's.
    write(join(pred, 'junk', 'findings.json'), { findings: [{ kind: 'nodule', score: 0.9, centerLps: [0, 0, 0] }] });
    try {
      const { code, out, err } = await run(['--truth-root', truth, '--pred-root', pred, '--detect', '--kind', 'nodule', '--json', '--bootstrap', '0']);
      expect(code).toBe(0);
      expect(err).toMatch(/^a: \d+ findings above 0\.02 \(\d+\.\d s\)$/m);
      expect(err).toMatch(/^warning: junk: skipped: E_[A-Z_]+: /m);
      expect(existsSync(join(pred, 'junk', 'findings.json'))).toBe(false);
      expect(existsSync(join(pred, 'head'))).toBe(false);
      const written = JSON.parse(readFileSync(join(pred, 'a', 'findings.json'), 'utf8')) as { findings: { score: number; kind: string }[] };
      expect(written.findings.length).toBeGreaterThan(0);
      // Below the model's own threshold too: the whole curve.
      expect(Math.min(...written.findings.map((f) => f.score))).toBeLessThan(0.7);
      const r = JSON.parse(out);
      expect(r.kinds.nodule.scans).toBe(2);
      expect(r.missingPredictions).toEqual(['head', 'junk']);
      // --quiet drops the per-case lines, not the skipped case.
      const quiet = await run(['--truth-root', truth, '--pred-root', pred, '--detect', '--kind', 'nodule', '--json', '--bootstrap', '0', '-q']);
      expect(quiet.code).toBe(0);
      expect(quiet.err).not.toMatch(/^a: /m);
      expect(quiet.err).toMatch(/^warning: junk: skipped: /m);
      // It names its series as detect's findings.json does, so predictions of other scans are caught.
      const truthA = JSON.parse(readFileSync(join(truth, 'a', 'truth.json'), 'utf8')) as { series: { seriesInstanceUid: string } };
      expect((written as unknown as { series: { seriesInstanceUid: string } }).series.seriesInstanceUid).toBe(truthA.series.seriesInstanceUid);
      write(join(truth, 'a', 'truth.json'), { ...truthA, series: { seriesInstanceUid: '1.2.3.999' } });
      const mixed = await run(['--truth-root', truth, '--pred-root', pred, '--kind', 'nodule', '--bootstrap', '0']).catch((x: unknown) => x);
      expect(mixed).toMatchObject({ code: 'E_BAD_INPUT', message: expect.stringMatching(/^case a: findings\.json is for another series than truth\.json/) });
    } finally {
      await closeRunners();
    }
  }, 120_000);
});
