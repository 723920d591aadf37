import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkOutDir, checkOutFile, ensureDir } from '../../src/io/dirs.js';
import { detect } from '../../src/pipeline/detect.js';

const root = mkdtempSync(join(tmpdir(), 'ctscope-dirs-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('ensureDir (mkdir -p that fails instead of spinning)', () => {
  it('makes missing parents, accepts an existing folder, refuses a file in the way', async () => {
    await ensureDir(join(root, 'a', 'b', 'c'));
    expect(existsSync(join(root, 'a', 'b', 'c'))).toBe(true);
    await ensureDir(join(root, 'a', 'b'));
    writeFileSync(join(root, 'file'), 'x');
    await expect(ensureDir(join(root, 'file', 'x'))).rejects.toMatchObject({ code: 'ENOTDIR' });
    await expect(ensureDir(join(root, 'file'))).rejects.toMatchObject({ code: 'EEXIST' });
  });

  it('siblings made at the same time both succeed (a parent made by the other meanwhile is no refusal)', async () => {
    for (let round = 0; round < 30; round++) {
      const base = join(root, `race-${round}`, 'p', 'q');
      const r = await Promise.allSettled([ensureDir(join(base, 'a')), ensureDir(join(base, 'b')), ensureDir(join(base, 'c'))]);
      expect(r.filter((x) => x.status === 'rejected'), `round ${round}`).toEqual([]);
    }
  });

  // Node 20's mkdir(..., { recursive: true }) loops for ever here; these must fail at once.
  it.skipIf(process.platform !== 'linux')('fails below /proc, which refuses new entries with ENOENT', async () => {
    await expect(ensureDir('/proc/ctscope-nope/sub')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(ensureDir('/proc/ctscope-nope')).rejects.toMatchObject({ code: 'ENOENT' });
  }, 5_000);
});

describe('checkOutDir / checkOutFile (before the work: can outputs be written there?)', () => {
  it('accept a folder to be made, or one that takes files, and leave nothing behind', async () => {
    const before = readdirSync(root).sort();
    await checkOutDir(join(root, 'new', 'deeper'), 'out');
    await checkOutDir(root, 'out');
    await checkOutFile(join(root, 'new2', 'x.nii'), 'out');
    expect(readdirSync(root).sort()).toEqual(before);
  });

  it('refuse a file in the way, and a folder that exists but is not one', async () => {
    writeFileSync(join(root, 'plain'), 'x');
    await expect(checkOutDir(join(root, 'plain'), 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/not a folder/) });
    await expect(checkOutDir(join(root, 'plain', 'sub'), 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/below a file/) });
    await expect(checkOutFile(root, 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/is a folder/) });
  });

  // Permission bits do not tell (root passes them): only a real attempt shows that /proc takes nothing.
  it.skipIf(process.platform !== 'linux')('refuse /proc and below it, even as root', async () => {
    await expect(checkOutDir('/proc/ctscope-nope', 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/cannot be written/) });
    await expect(checkOutDir('/proc', 'out')).rejects.toMatchObject({ code: 'E_OUTPUT' });
    await expect(checkOutFile('/proc/ctscope-nope.nii', 'out')).rejects.toMatchObject({ code: 'E_OUTPUT' });
  });

  it.skipIf(process.platform !== 'linux')('detect checks its output folder before it reads any input', async () => {
    await expect(detect(join(root, 'no-such-input'), { models: 'nodule', outDir: '/proc/ctscope-nope' })).rejects.toMatchObject({ code: 'E_OUTPUT' });
  });

  it('refuse a symbolic link to a missing path, as the folder or above it (mkdir met EEXIST only after the work)', async () => {
    symlinkSync(join(root, 'nowhere'), join(root, 'dangling'));
    await expect(checkOutDir(join(root, 'dangling'), 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/out is a symbolic link to a missing path/) });
    await expect(checkOutFile(join(root, 'dangling', 'v.nii'), 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/symbolic link to a missing path/) });
    await expect(checkOutDir(join(root, 'dangling', 'sub'), 'out')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/out is below a symbolic link to a missing path/) });
  });

  it('detect refuses, before reading any input, an output folder holding a folder or a pipe under an output name', async () => {
    const out = join(root, 'names');
    mkdirSync(join(out, 'sr.dcm'), { recursive: true });
    const input = join(root, 'no-such-input');
    await expect(detect(input, { models: 'nodule', outDir: out })).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/holds a folder named sr\.dcm/) });
    // Not an output of this run: no objection (the input is then what fails).
    await expect(detect(input, { models: 'nodule', outDir: out, outputs: ['json', 'report'] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    rmdirSync(join(out, 'sr.dcm'));
    execFileSync('mkfifo', [join(out, 'key-3.png')]);
    await expect(detect(input, { models: 'nodule', outDir: out })).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/holds a device, pipe or socket named key-3\.png/) });
    await expect(detect(input, { models: 'nodule', outDir: out, outputs: ['json'] })).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });
});

describe('output file names at the file-system limit', () => {
  it('a legal name of 250 bytes is written (its temporary twin is cut to fit), one over 255 is E_OUTPUT before any work', async () => {
    const { writeFileAtomic } = await import('../../src/io/atomic.js');
    const dir = join(root, 'long');
    const legal = join(dir, `${'a'.repeat(246)}.nii`);
    await checkOutFile(legal, 'the output');
    await writeFileAtomic(legal, 'x');
    expect(readdirSync(dir)).toEqual([`${'a'.repeat(246)}.nii`]);
    // Multi-byte characters count in bytes, and the cut never splits one.
    const wide = join(dir, `${'é'.repeat(124)}.nii`);
    await writeFileAtomic(wide, 'y');
    expect(existsSync(wide)).toBe(true);
    await expect(checkOutFile(join(dir, `${'a'.repeat(252)}.nii`), 'the output')).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/longer than 255 bytes/) });
  });
});
