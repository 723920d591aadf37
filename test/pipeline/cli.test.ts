import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { progressView } from '../../src/cli/console.js';
import { parseDetectArgs } from '../../src/cli/detect.js';
import { fixturePackage, smallPhantom } from './helpers.js';
import { schemaErrors } from '../outputs/helpers.js';
import { cli } from '../helpers/cli.js';

let series: string, model: string;
beforeAll(async () => {
  series = (await smallPhantom('chest', { slices: 24 })).dir;
  model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
}, 60_000);

describe('ctscope detect', () => {
  it('writes every output, logs stages as plain lines off a terminal, ends with a summary table', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctscope-cli-')), 'results');
    const r = await cli(['detect', series, '--model', model, '--ep', 'cpu', '--out', out]);
    expect(r.code, r.stderr).toBe(0);
    for (const f of ['findings.json', 'sr.dcm', 'report.html', 'key-1.png']) expect(existsSync(join(out, f)), f).toBe(true);
    expect(r.stderr).toMatch(/^decoding slices \(24\)\.\.\.$/m);
    expect(r.stderr).toMatch(/^running model \(heatmap-fp32\): done \(\d+ patches\)$/m);
    expect(r.stderr).not.toContain('\r');
    expect(r.stdout).toMatch(/^#\s+model\s+finding\s+score/m);
    expect(r.stdout).toMatch(/^1\s+heatmap-fp32\s+nodule\s+0\.\d{3}/m);
    expect(r.stdout).toMatch(/wrote \d+ file\(s\) to .*: findings\.json, /);
  });

  it('--outputs sr writes the SR alone, and the summary names only what was written', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'ctscope-cli-')), 'sr-only');
    const r = await cli(['detect', series, '--model', model, '--ep', 'cpu', '--out', out, '--outputs', 'sr']);
    expect(r.code, r.stderr).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['.ctscope-outputs.json', 'sr.dcm']);
    expect(r.stdout).toMatch(/wrote 1 file\(s\) to .*: sr\.dcm$/m);
  });

  it('--json prints findings.json to stdout; --quiet prints nothing else', async () => {
    const r = await cli(['detect', series, '--model', model, '--ep', 'cpu', '--json', '--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
    const doc = JSON.parse(r.stdout);
    expect(schemaErrors(doc)).toBeUndefined();
    expect(doc.files).toEqual([]);
  });

  it('exit codes: 2 usage, 3 bad input or missing model', async () => {
    expect((await cli(['detect', series, '--out', '/tmp/x'])).code).toBe(2);
    expect((await cli(['detect', series, '--model', model])).code).toBe(2);
    expect((await cli(['detect', series, '--model', model, '--json', '--bogus'])).code).toBe(2);
    expect((await cli(['detect', series, '--model', model, '--json', '--stow'])).code).toBe(2);
    expect((await cli(['detect', series, '--model', model, '--json', '--token-file', '/nonexistent'])).code).toBe(2);
    const twice = await cli(['detect', series, '--model', model, '--model', model, '--json']);
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/^error\[E_USAGE\]: detect: model .* is given twice/m);
    const missing = await cli(['detect', join(series, 'nope'), '--model', model, '--json']);
    expect(missing.code).toBe(3);
    const notDicom = await cli(['detect', join(series, 'truth.json'), '--model', model, '--json']);
    expect(notDicom.code).toBe(3);
    expect(notDicom.stderr).toMatch(/E_NOT_DICOM/);
    const unknown = await cli(['detect', series, '--model', 'no-such-model', '--json']);
    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toMatch(/^error\[E_MODEL\]: model 'no-such-model' is neither a model id \(those found: aneurysm, nodule\) nor a package folder/m);
  });

  it('parses comma lists and repeated --model', () => {
    const a = parseDetectArgs(['d', '--model', 'a,b', '-m', 'c', '--out', 'o', '--outputs', 'json,sr']);
    expect(a.models).toEqual(['a', 'b', 'c']);
    expect(a.outputs).toEqual(['json', 'sr']);
    expect(a.wholeBody).toBe(false);
    expect(parseDetectArgs(['d', '--model', 'a', '--json', '--whole-body']).wholeBody).toBe(true);
    expect(() => parseDetectArgs(['d', '--model', 'a', '--out', 'o', '--outputs', 'pdf'])).toThrow(/--outputs takes/);
    expect(() => parseDetectArgs(['d', '--model', 'a', '--json', '--threads', '0'])).toThrow(/--threads/);
  });

  it('takes a GPU index with --device (default 0) and refuses a bad one', () => {
    expect(parseDetectArgs(['d', '--model', 'a', '--json']).deviceId).toBe(0);
    expect(parseDetectArgs(['d', '--model', 'a', '--json', '--ep', 'cuda', '--device', '2']).deviceId).toBe(2);
    expect(() => parseDetectArgs(['d', '--model', 'a', '--json', '--device', '1.5'])).toThrow(/--device/);
  });
});

describe('samples/pacs-plugin.mjs', () => {
  it('runs: buffers in, progress events, SR bytes out, event loop free', async () => {
    const dir = (await smallPhantom('chest', { rows: 48, cols: 48, slices: 24, spacing: [2, 2, 2] })).dir;
    const cwd = mkdtempSync(join(tmpdir(), 'ctscope-pacs-'));
    const sample = fileURLToPath(new URL('../../samples/pacs-plugin.mjs', import.meta.url));
    const r = await new Promise<{ code: number | null; out: string }>((resolve) => {
      const child = spawn(process.execPath, [sample, dir, fileURLToPath(new URL('../fixtures/models/boxes', import.meta.url))], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr.on('data', (d: Buffer) => (out += d.toString()));
      child.on('exit', (code) => resolve({ code, out }));
    });
    expect(r.code, r.out).toBe(0);
    // The 24 slices and truth.json: the host hands over every file; ctscope skips what is not DICOM.
    expect(r.out).toMatch(/host: received 25 instances/);
    expect(r.out).toMatch(/host: infer \(boxes\) started/);
    expect(r.out).toMatch(/host: stored the SR \(\d+ bytes\)/);
    const beats = Number(/heartbeat ran (\d+) times/.exec(r.out)?.[1]);
    expect(beats).toBeGreaterThan(3);
    expect(existsSync(join(cwd, 'pacs-plugin-sr.dcm'))).toBe(true);
  }, 60_000);
});

describe('progress view', () => {
  it('draws one bar line per stage with \\r on a terminal', () => {
    let text = '';
    const v = progressView({ write: (t) => (text += t), isTTY: true, columns: 100 });
    v.onProgress({ stage: 'decode', done: 0, total: 4 });
    v.onProgress({ stage: 'decode', done: 4, total: 4 });
    v.onProgress({ stage: 'infer', done: 0, total: 1, model: 'm' });
    v.onProgress({ stage: 'infer', done: 1, total: 1, model: 'm' });
    v.end();
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/^\rdecoding slices .*\[\.+\]\s+0% 0\/4.*\rdecoding slices .*\[#+\] 100% 4\/4/);
    expect(lines[1]).toMatch(/running model \(m\).*100% done/);
  });

  it('puts a message on its own line above the bar and draws the bar again below it', () => {
    let text = '';
    const v = progressView({ write: (t) => (text += t), isTTY: true, columns: 100 });
    v.onProgress({ stage: 'infer', done: 0, total: 1, model: 'm' });
    v.log('execution provider auto: using cpu');
    v.end();
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(/\r\x1b\[Kexecution provider auto: using cpu$/);
    expect(lines[1]).toMatch(/^\rrunning model \(m\) .*0%/);
  });
});
