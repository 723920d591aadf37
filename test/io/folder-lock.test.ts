import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { asOnlyWriter, isLostLock } from '../../src/io/folder-lock.js';

const root = mkdtempSync(join(tmpdir(), 'ctscope-lock-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('asOnlyWriter: one writer per output folder', () => {
  it('writers in one process take turns, also when they name the folder through a symlink', async () => {
    const dir = join(root, 'real');
    mkdirSync(dir);
    symlinkSync(dir, join(root, 'alias'));
    const log: string[] = [];
    const writer = (name: string, at: string) => asOnlyWriter(at, async () => {
      log.push(`${name} in`);
      await sleep(50);
      log.push(`${name} out`);
      return name;
    });
    expect(await Promise.all([writer('a', dir), writer('b', join(root, 'alias')), writer('c', dir)])).toEqual(['a', 'b', 'c']);
    expect(log).toEqual(['a in', 'a out', 'b in', 'b out', 'c in', 'c out']);
    expect(readdirSync(dir)).toEqual([]);
  });

  it('turns follow call order, also for a folder not made yet below a symlinked parent (its key does not change)', async () => {
    mkdirSync(join(root, 'parent-real'));
    symlinkSync(join(root, 'parent-real'), join(root, 'parent-link'));
    const dir = join(root, 'parent-link', 'new');
    const order: number[] = [];
    await Promise.all(Array.from({ length: 8 }, (_, n) => asOnlyWriter(dir, async () => {
      order.push(n);
      await sleep(5);
    })));
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  });

  it("a writer whose process was paused past the lock's life is told so before findings.json, and leaves its files", async () => {
    const dir = join(root, 'paused');
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const e = await asOnlyWriter(dir, async (turn) => {
        turn.assertHeld();
        vi.setSystemTime(Date.now() + 11_000);
        turn.assertHeld();
      }).catch((x: unknown) => x);
      expect(e).toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/lost the output folder's lock/) });
      expect(isLostLock(e)).toBe(true);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a writer that fails in a folder it made takes the folder back within its turn: the next writer is not hurt', async () => {
    for (let round = 0; round < 20; round++) {
      const dir = join(root, `new-${round}`);
      const first = asOnlyWriter(dir, async () => {
        throw new Error('disk full');
      });
      const second = asOnlyWriter(dir, async () => 'ok');
      await expect(first).rejects.toThrow('disk full');
      expect(await second, `round ${round}`).toBe('ok');
      expect(existsSync(dir)).toBe(true);
    }
  });

  it('an abort while waiting for the turn is E_ABORTED at once, and the writers after it still wait for the one before', async () => {
    const dir = join(root, 'abort');
    const log: string[] = [];
    const slow = asOnlyWriter(dir, async () => {
      await sleep(600);
      log.push('slow done');
    });
    const ac = new AbortController();
    const waiting = asOnlyWriter(dir, async () => log.push('aborted one ran'), ac.signal);
    const after = asOnlyWriter(dir, async () => log.push('after'));
    const t0 = performance.now();
    setTimeout(() => ac.abort(), 50);
    await expect(waiting).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(performance.now() - t0).toBeLessThan(400);
    await Promise.all([slow, after]);
    expect(log).toEqual(['slow done', 'after']);
  });
});

describe('asOnlyWriter across processes', () => {
  it('processes started at the same instant never write at once, and one of them writes (the others are refused), also over a stale lock', async () => {
    const { execFile } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const { appendFileSync, readFileSync, utimesSync, writeFileSync } = await import('node:fs');
    const lockModule = fileURLToPath(new URL('../../dist/io/folder-lock.js', import.meta.url));
    for (let round = 0; round < 4; round++) {
      const dir = join(root, `procs-${round}`);
      mkdirSync(dir);
      // A crashed writer's lock, long untouched.
      const stale = join(dir, '.ctscope-writing.999999.000000');
      writeFileSync(stale, '999999\n');
      utimesSync(stale, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
      const log = join(root, `procs-${round}.log`);
      const start = Date.now() + 400;
      const script = `
        const { asOnlyWriter } = await import(${JSON.stringify(lockModule)});
        const { appendFileSync } = await import('node:fs');
        while (Date.now() < ${start}) {}
        try {
          await asOnlyWriter(${JSON.stringify(dir)}, async () => {
            appendFileSync(${JSON.stringify(log)}, 'in\\n');
            await new Promise((r) => setTimeout(r, 150));
            appendFileSync(${JSON.stringify(log)}, 'out\\n');
          });
          appendFileSync(${JSON.stringify(log)}, 'wrote\\n');
        } catch (e) { if (e.code !== 'E_OUTPUT') throw e; appendFileSync(${JSON.stringify(log)}, 'refused\\n'); }`;
      appendFileSync(log, '');
      await Promise.all(Array.from({ length: 4 }, () => new Promise<void>((resolve, reject) => execFile(process.execPath, ['--input-type=module', '-e', script], (e) => (e ? reject(e) : resolve())))));
      // Each "in" is followed by its own "out" before the next "in": never two writers at once.
      const all = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
      const wrote = all.filter((l) => l === 'wrote').length, refused = all.filter((l) => l === 'refused').length;
      // Every process ends one way or the other, and one gets in: started at one instant, all withdraw at first,
      // then try again after random pauses (a lock that refuses all fails here).
      expect(wrote + refused, `round ${round}: ${all.join(',')}`).toBe(4);
      expect(wrote, `round ${round}: ${all.join(',')}`).toBeGreaterThan(0);
      const lines = all.filter((l) => l === 'in' || l === 'out');
      expect(lines.length).toBe(2 * wrote);
      for (let i = 0; i < lines.length; i += 2) expect(lines.slice(i, i + 2), `round ${round}: ${lines.join(',')}`).toEqual(['in', 'out']);
      expect(existsSync(stale)).toBe(false);
      expect(readdirSync(dir)).toEqual([]);
    }
  }, 60_000);

  it("a process that exits mid-write (the CLI's grace timer, process.exit) leaves no lock file", async () => {
    const { execFile } = await import('node:child_process');
    const { fileURLToPath } = await import('node:url');
    const lockModule = fileURLToPath(new URL('../../dist/io/folder-lock.js', import.meta.url));
    const dir = join(root, 'exit');
    const script = `const { asOnlyWriter } = await import(${JSON.stringify(lockModule)}); await asOnlyWriter(${JSON.stringify(dir)}, async () => process.exit(3));`;
    const code = await new Promise<number | null>((resolve) => execFile(process.execPath, ['--input-type=module', '-e', script], (e) => resolve(e ? ((e as { code?: number }).code ?? null) : 0)));
    expect(code).toBe(3);
    expect(readdirSync(dir)).toEqual([]);
  });
});
