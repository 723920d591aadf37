import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthCommand } from '../../src/cli/synth.js';
import type { CliIO } from '../../src/cli/command.js';
import { CtscopeError } from '../../src/errors.js';
import type { SynthTruth } from '../../src/synth/truth.js';
import { cli, CLI, listAll } from '../helpers/cli.js';

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

  it('--quiet (-q, as for convert and detect) prints no summary, only warnings', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const c: CliIO = { out: (l) => out.push(l), err: (l) => err.push(l), isTTY: false, signal: new AbortController().signal };
    expect(await synthCommand.run(['chest', '--out', join(root, 'quiet'), '--seed', '1', '--slices', '1', '--rows', '64', '--nodules', '3', '-q'], c)).toBe(0);
    expect(out).toEqual([]);
    expect(err.join('\n')).toMatch(/warning: 3 nodules asked for/);
    expect(existsSync(join(root, 'quiet', 'truth.json'))).toBe(true);
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
    // An earlier output (10 slices and truth.json): refused without --force, replaced as a whole with it.
    expect(await synthCommand.run(['cta', '--out', out, '--slices', '10', '--rows', '64', '--cols', '64'], io())).toBe(0);
    const args = ['cta', '--out', out, '--slices', '8', '--rows', '64', '--cols', '64', '--no-truth'];
    await expect(synthCommand.run(args, io())).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(readdirSync(out)).toHaveLength(11);
    expect(await synthCommand.run([...args, '--force'], io())).toBe(0);
    const files = readdirSync(out);
    expect(files).toHaveLength(8);
    expect(files).not.toContain('truth.json');
  });

  it('--force replaces only an earlier synth output: a folder holding anything else is refused (E_USAGE) and kept', async () => {
    // `synth chest --out . --force` in a folder of the user's removed mydata.txt and the folder with it.
    const mine = join(root, 'mine');
    mkdirSync(mine);
    writeFileSync(join(mine, 'mydata.txt'), 'x');
    writeFileSync(join(mine, 'CT000001.dcm'), 'x');
    const err = await synthCommand.run(['chest', '--out', mine, '--slices', '2', '--rows', '32', '--force'], io()).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_USAGE', exitCode: 2 });
    expect((err as Error).message).toContain(mine);
    expect((err as Error).message).toMatch(/'mydata\.txt', which synth does not write/);
    expect(readdirSync(mine).sort()).toEqual(['CT000001.dcm', 'mydata.txt']);
    // Named like synth's files, but a folder: not synth's either.
    const nested = join(root, 'nested');
    mkdirSync(join(nested, 'truth.json'), { recursive: true });
    writeFileSync(join(nested, 'truth.json', 'notes.txt'), 'x');
    await expect(synthCommand.run(['chest', '--out', nested, '--slices', '2', '--rows', '32', '--force'], io())).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(readFileSync(join(nested, 'truth.json', 'notes.txt'), 'utf8')).toBe('x');
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
    // Abort once the temporary folder is there: the writer yields to the event loop between batches.
    abortWhen(ac, () => readdirSync(root).some((f) => f.includes('late-abort')));
    const err = await synthToDirectory('chest', { slices: 64, rows: 64, cols: 64 }, out, { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as CtscopeError).code).toBe('E_ABORTED');
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('late-abort'))).toEqual([]);
  });

  it('an abort while writing removes the parent folders this run made (innermost first, while empty), not older ones', async () => {
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    // `synth chest --out nd4/a/b`, Ctrl-C while writing, left nd4/a behind.
    const older = join(root, 'older');
    mkdirSync(older);
    const ac = new AbortController();
    abortWhen(ac, () => existsSync(join(older, 'nd4', 'a')));
    const err = await synthToDirectory('chest', { slices: 64, rows: 64, cols: 64 }, join(older, 'nd4', 'a', 'b'), { signal: ac.signal }).catch((e: unknown) => e);
    expect((err as CtscopeError).code).toBe('E_ABORTED');
    expect(readdirSync(older)).toEqual([]);
    expect(existsSync(older)).toBe(true);
  });

  it('sees an abort while it generates the phantom, not only when generation ends', async () => {
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    const out = join(root, 'abort-generating');
    const ac = new AbortController();
    // About 2 s of generation here; synthesize() on the main thread used to hold the abort until its end.
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 100);
    const err = await synthToDirectory('chest', { seed: 2, slices: 96 }, out, { signal: ac.signal }).catch((e: unknown) => e);
    const ms = performance.now() - t0;
    expect((err as CtscopeError).code).toBe('E_ABORTED');
    expect(ms).toBeLessThan(1000);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(root).filter((f) => f.includes('abort-generating'))).toEqual([]);
  });

  it('writes the same bytes as synthesize() and writeSynthResult(), however its generation is paced', async () => {
    const { synthesize, synthToDirectory, writeSynthResult } = await import('../../src/synth/synthesize.js');
    const options = { seed: 4, slices: 12, rows: 96, cols: 96, lesions: 2 };
    const paced = join(root, 'paced');
    await synthToDirectory('chest', options, paced);
    const direct = join(root, 'direct');
    mkdirSync(direct);
    writeSynthResult(synthesize('chest', options), direct);
    const files = readdirSync(direct).sort();
    expect(readdirSync(paced).sort()).toEqual(files);
    for (const f of files) expect(readFileSync(join(paced, f)).equals(readFileSync(join(direct, f))), f).toBe(true);
  });
});

/** Aborts `ac` as soon as `ready()` holds, checking on every turn of the event loop. */
function abortWhen(ac: AbortController, ready: () => boolean): void {
  const check = (): void => {
    if (ready()) ac.abort();
    else setImmediate(check);
  };
  setImmediate(check);
}

describe('ctscope synth as a process', () => {
  it('never replaces the current folder, a folder above it, the root or the home folder, even with --force (E_USAGE, exit 2)', async () => {
    const base = join(root, 'proc');
    const work = join(base, 'work');
    const here = join(work, 'here');
    const home = join(base, 'home');
    mkdirSync(here, { recursive: true });
    writeFileSync(join(work, 'mydata.txt'), 'x');
    // The home folder holds only an earlier synth output, so it is the home rule that refuses it.
    expect(await synthCommand.run(['chest', '--out', home, '--slices', '2', '--rows', '32', '--nodules', '0'], io())).toBe(0);
    const homeFiles = readdirSync(home).sort();
    const small = ['--slices', '2', '--rows', '32', '--nodules', '0', '--force'];
    for (const [out, why] of [
      // Empty, but replacing it would leave the shell in a removed folder.
      ['.', `${here} as the output folder: it is the current folder`],
      ['..', `${work} as the output folder: it is a folder that holds the current folder`],
      ['/', '/ as the output folder: it is the file system root'],
      [home, `${home} as the output folder: it is the home folder`],
    ] as const) {
      const r = await cli(['synth', 'chest', '--out', out, ...small], { shellPrefix: `cd '${here}'`, env: { HOME: home } });
      expect(r.code, `${out}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(`error[E_USAGE]: synth: refusing to use ${why}`);
    }
    expect(listAll(work)).toEqual(['here', 'mydata.txt']);
    expect(readdirSync(home).sort()).toEqual(homeFiles);
  });

  it('Ctrl-C while generating: exit 130 well within a second, leaving nothing behind', async () => {
    const base = join(root, 'sigint');
    mkdirSync(base);
    // Several seconds of generation here: SIGINT waited for its end (and the CLI's 10 s grace timer could not fire).
    const child = spawn(process.execPath, [CLI, 'synth', 'chest', '--out', join(base, 'nd', 'a', 'b'), '--seed', '2', '--slices', '400'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let sentAt = 0;
    const timer = setTimeout(() => {
      sentAt = performance.now();
      child.kill('SIGINT');
    }, 1000);
    const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    const ms = performance.now() - sentAt;
    clearTimeout(timer);
    expect(sentAt, `ended before the interrupt: ${stderr}`).toBeGreaterThan(0);
    expect([code, signal], stderr).toEqual([130, null]);
    expect(stderr).toMatch(/^error\[E_ABORTED\]: /m);
    expect(ms).toBeLessThan(1000);
    expect(listAll(base)).toEqual([]);
  }, 60_000);
});
