import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthCommand } from '../../src/cli/synth.js';
import type { CliIO } from '../../src/cli/command.js';
import { CtscopeError } from '../../src/errors.js';
import type { SynthTruth } from '../../src/synth/truth.js';

const root = mkdtempSync(join(tmpdir(), 'ctscope-synth-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function io(signal = new AbortController().signal): CliIO & { lines: string[] } {
  const lines: string[] = [];
  return { lines, out: (l) => lines.push(l), err: (l) => lines.push(l), isTTY: false, signal };
}

describe('ctscope synth', () => {
  it('says so when it plants fewer lesions than asked for (no room in a one-slice field of view)', async () => {
    const c = io();
    expect(await synthCommand.run(['chest', '--out', join(root, 'thin'), '--seed', '1', '--slices', '1', '--rows', '64', '--cols', '64', '--nodules', '3'], c)).toBe(0);
    const truth = JSON.parse(readFileSync(join(root, 'thin', 'truth.json'), 'utf8')) as SynthTruth;
    expect(truth.findings.length).toBeLessThan(3);
    expect(c.lines.join('\n')).toMatch(new RegExp(`warning: 3 nodules asked for, ${truth.findings.length} planted`));
    // Without --nodules the count is the seed's, and the warning does not claim the user asked for it.
    const d = io();
    expect(await synthCommand.run(['chest', '--out', join(root, 'thin-drawn'), '--seed', '1', '--slices', '1', '--rows', '64', '--cols', '64'], d)).toBe(0);
    expect(d.lines.join('\n')).toMatch(/warning: \d+ nodules drawn from the seed, \d+ planted/);
    expect(d.lines.join('\n')).not.toMatch(/asked for/);
  });

  it('--rows or --cols alone gives a square image, not a slab cut out of the body', async () => {
    for (const [flag, name] of [['--rows', 'r'], ['--cols', 'c']] as const) {
      const out = join(root, `square-${name}`);
      expect(await synthCommand.run(['chest', '--out', out, '--seed', '1', '--slices', '2', flag, '48', '--nodules', '0'], io())).toBe(0);
      const truth = JSON.parse(readFileSync(join(out, 'truth.json'), 'utf8')) as SynthTruth;
      expect(truth.series.dims.slice(0, 2), flag).toEqual([48, 48]);
    }
  });

  it('an output folder name of 250 bytes is written (its temporary twin cut to fit); over 255 is E_OUTPUT', async () => {
    const long = join(root, 'b'.repeat(250));
    expect(await synthCommand.run(['chest', '--out', long, '--seed', '1', '--slices', '2', '--rows', '32', '--nodules', '0'], io())).toBe(0);
    expect(existsSync(join(long, 'truth.json'))).toBe(true);
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
    await expect(synthCommand.run(['chest', '--out', join(root, 'b'.repeat(256)), '--slices', '2', '--rows', '32'], io())).rejects.toMatchObject({ code: 'E_OUTPUT' });
  });

  it('writes a series and truth.json into the folder, atomically, without printing the patient name', async () => {
    const out = join(root, 'chest');
    const c = io();
    const status = await synthCommand.run(['chest', '--out', out, '--seed', '1', '--slices', '32', '--rows', '128', '--cols', '128', '--nodules', '2'], c);
    expect(status).toBe(0);
    const files = readdirSync(out);
    expect(files.filter((f) => f.endsWith('.dcm'))).toHaveLength(32);
    const truth = JSON.parse(readFileSync(join(out, 'truth.json'), 'utf8')) as SynthTruth;
    expect(truth.kind).toBe('chest');
    expect(truth.seed).toBe(1);
    expect(truth.series.dims).toEqual([128, 128, 32]);
    expect(truth.findings).toHaveLength(2);
    for (const f of truth.findings) {
      expect(f.kind).toBe('nodule');
      expect(f.centerLps).toHaveLength(3);
    }
    // Nothing left beside it: the temporary folder was renamed into place.
    expect(readdirSync(root).filter((f) => f.startsWith('.'))).toEqual([]);
    const text = c.lines.join('\n');
    expect(text).toMatch(/wrote 32 slices 128x128/);
    expect(text).toMatch(/2 nodules/);
    expect(text).not.toMatch(/PHANTOM/);
  });

  it('refuses a non-empty folder unless --force, and --no-truth leaves truth.json out', async () => {
    const out = join(root, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'keep.txt'), 'x');
    const args = ['cta', '--out', out, '--slices', '8', '--rows', '64', '--cols', '64', '--no-truth'];
    await expect(synthCommand.run(args, io())).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(readdirSync(out)).toEqual(['keep.txt']);
    expect(await synthCommand.run([...args, '--force'], io())).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(8);
    expect(files).not.toContain('truth.json');
    expect(files).not.toContain('keep.txt');
  });

  it('leaves nothing behind when aborted', async () => {
    const out = join(root, 'aborted');
    const ac = new AbortController();
    ac.abort();
    const err = await synthCommand.run(['chest', '--out', out, '--slices', '8', '--rows', '64', '--cols', '64'], io(ac.signal)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CtscopeError);
    expect((err as CtscopeError).code).toBe('E_ABORTED');
    expect(existsSync(out)).toBe(false);
  });

  it('maps bad arguments to E_USAGE', async () => {
    await expect(synthCommand.run(['chest', '--out', join(root, 'x'), '--rows', 'many'], io())).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(synthCommand.run(['heart', '--out', join(root, 'x')], io())).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(synthCommand.run(['chest', '--out', join(root, 'x'), '--spacing', '0,1,1'], io())).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});

describe('synthToDirectory', () => {
  it('refuses an output path that is a file, or below a file, with E_OUTPUT as detect and convert do', async () => {
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    await expect(synthToDirectory('chest', { slices: 4, rows: 32, cols: 32 }, file)).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/not a folder/) });
    await expect(synthToDirectory('chest', { slices: 4, rows: 32, cols: 32 }, join(file, 'sub'))).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/holds the output folder exists and is not a folder/) });
    await expect(synthToDirectory('chest', { slices: 4, rows: 32, cols: 32 }, join(file, 'sub', 'deeper'))).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/below a file/) });
    expect(readFileSync(file, 'utf8')).toBe('x');
  });

  it('stops between slice batches when aborted while writing, leaving no folder', async () => {
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    const out = join(root, 'late-abort');
    const ac = new AbortController();
    // Abort once the first batch is on its way: the writer yields to the event loop between batches.
    setImmediate(() => setImmediate(() => ac.abort()));
    const err = await synthToDirectory('chest', { slices: 64, rows: 64, cols: 64 }, out, { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as CtscopeError).code).toBe('E_ABORTED');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('late-abort'))).toEqual([]);
  });
});
