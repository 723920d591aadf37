import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';
import { AS_ROOT, NOBODY, cli, listAll, openToAll } from '../helpers/cli.js';

let series: string, model: string, work: string;
beforeAll(async () => {
  series = (await smallPhantom('chest', { slices: 24 })).dir;
  model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
  work = mkdtempSync(join(tmpdir(), 'ctscope-faults-'));
  openToAll(dirname(series));
  openToAll(dirname(model));
  chmodSync(work, 0o755);
}, 60_000);

/** Runs as `nobody` where the tests run as root (root ignores permissions), else as the current user. */
const asUser = AS_ROOT ? { uid: NOBODY } : {};
const detectArgs = (out: string): string[] => ['detect', series, '--model', model, '--ep', 'cpu', '--out', out];

describe('unreadable input', () => {
  it('an unreadable file and an unreadable folder are skipped and reported; the series still loads', async () => {
    const dir = join(work, 'unreadable');
    mkdirSync(join(dir, 'locked'), { recursive: true });
    for (const f of readdirSync(series)) copyFileSync(join(series, f), join(dir, f));
    copyFileSync(join(series, 'CT000001.dcm'), join(dir, 'locked', 'extra.dcm'));
    openToAll(dir);
    chmodSync(join(dir, 'CT000005.dcm'), 0o000);
    chmodSync(join(dir, 'locked'), 0o000);

    const info = await cli(['info', dir, '--json'], asUser);
    expect(info.code, info.stderr).toBe(0);
    const doc = JSON.parse(info.stdout);
    const primary = doc.series.find((s: { primary: boolean }) => s.primary);
    expect(primary.slices).toBe(23);
    const skipped = JSON.stringify(doc.skipped ?? doc);
    expect(skipped).toContain('CT000005.dcm');
    expect(skipped).toContain('locked');

    const det = await cli(['detect', dir, '--model', model, '--ep', 'cpu', '--json', '--quiet'], asUser);
    expect(det.code, det.stderr).toBe(0);
    const warned = JSON.parse(det.stdout).warnings.join('\n');
    expect(warned).toMatch(/2 input\(s\) skipped [^\n]*CT000005\.dcm \(E_IO\)/);
    expect(warned).toMatch(/skipped [^\n]*locked \(E_IO\)/);
  }, 60_000);
});

describe('output folder faults: E_OUTPUT (exit 4), no partial results, no temporary files', () => {
  it('a folder that is not writable', async () => {
    const out = join(work, 'readonly');
    mkdirSync(out);
    chmodSync(out, 0o555);
    const r = await cli(detectArgs(out), asUser);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: /m);
    expect(listAll(out)).toEqual([]);
  }, 60_000);

  it('an output path below a file', async () => {
    const file = join(work, 'a-file');
    writeFileSync(file, 'x');
    const r = await cli(detectArgs(join(file, 'out')));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: /m);
  }, 60_000);

  it('files that cannot grow past 8 KiB (EFBIG, as on a quota): no file and no temporary file stays', async () => {
    const out = join(work, 'efbig');
    // Ignoring SIGXFSZ turns the size limit into an EFBIG write error, as a full quota does.
    const r = await cli(detectArgs(out), { shellPrefix: "trap '' XFSZ; ulimit -f 8" });
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: cannot write .*(EFBIG|too large)/m);
    // The folder did not exist before the run, so it goes too.
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('convert into new folders that cannot take the file: no file and no new folder stays', async () => {
    const top = join(work, 'efbig-convert');
    const r = await cli(['convert', series, '--out', join(top, 'sub', 'v.nii')], { shellPrefix: "trap '' XFSZ; ulimit -f 8" });
    expect(r.code, r.stderr).toBe(4);
    expect(existsSync(top)).toBe(false);
  }, 60_000);

  it('a device, pipe or socket at the output path is refused, not replaced', async () => {
    const fifo = join(work, 'a-fifo.nii');
    execFileSync('mkfifo', [fifo]);
    const r = await cli(['convert', series, '--out', fifo]);
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: .*not a regular file/m);
    expect(execFileSync('stat', ['-c', '%F', fifo]).toString().trim()).toBe('fifo');
  }, 60_000);

  const canMount = AS_ROOT && (() => {
    const probe = mkdtempSync(join(tmpdir(), 'ctscope-mnt-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', probe], { stdio: 'ignore' });
      execFileSync('umount', [probe], { stdio: 'ignore' });
      return true;
    } catch {
      return false;
    }
  })();
  if (!canMount) console.warn('skipping the full-disk test: cannot mount a small tmpfs here (needs root with CAP_SYS_ADMIN)');

  it.skipIf(!canMount)('a disk that fills up half way (256 KiB tmpfs, ENOSPC): the key image that fitted is removed again', async () => {
    const out = join(work, 'full');
    mkdirSync(out);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=256k', 'tmpfs', out]);
    try {
      // About 200 KiB free: one key image (about 175 KiB each here) fits, the second does not.
      writeFileSync(join(out, 'ballast'), Buffer.alloc(48 * 1024, 1));
      const r = await cli(detectArgs(out));
      expect(r.code, r.stderr).toBe(4);
      expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: cannot write .*ENOSPC/m);
      expect(listAll(out)).toEqual(['ballast']);
    } finally {
      execFileSync('umount', [out]);
    }
  }, 60_000);
});

afterAll(() => {
  for (const p of [join(work, 'unreadable', 'locked'), join(work, 'readonly')]) if (existsSync(p)) chmodSync(p, 0o755);
});
