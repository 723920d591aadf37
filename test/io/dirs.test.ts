import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ensureDir } from '../../src/io/dirs.js';

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
