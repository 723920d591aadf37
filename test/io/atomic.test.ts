import { mkdtemp, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeStaleTemps, writeFileAtomic } from '../../src/io/atomic.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctscope-atomic-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

/** Above Linux's largest pid (2^22): never a live process. */
const DEAD_PID = 99_999_999;
const old = new Date(Date.now() - 3600_000);

describe('temporary twins left by a killed writer', () => {
  it('are removed once their pid is gone and they are 10 minutes old; a live or fresh one, or another name, is kept', async () => {
    const here = join(dir, 'stale');
    await mkdir(here);
    const names = {
      deadOld: `.out.${DEAD_PID}.deadbeef.tmp`,
      deadFresh: `.out.${DEAD_PID}.0badf00d.tmp`,
      // The parent: live, and not this process (which is never checked by kill(pid, 0)).
      liveOld: `.out.${process.ppid}.cafebabe.tmp`,
      wholePhantom: `.out.${DEAD_PID}.feedface.tmp`,
      otherName: `.other.${DEAD_PID}.deadbeef.tmp`,
      notOurs: 'out.tmp',
    };
    for (const n of Object.values(names)) await mkdir(join(here, n));
    await writeFile(join(here, names.deadOld, 'CT000001.dcm'), 'partial');
    await writeFile(join(here, names.wholePhantom, 'truth.json'), '{}');
    for (const n of [names.deadOld, names.liveOld, names.otherName, names.notOurs, names.wholePhantom]) await utimes(join(here, n), old, old);
    await removeStaleTemps(here, 'out');
    expect((await readdir(here)).sort()).toEqual([names.deadFresh, names.liveOld, names.otherName, names.notOurs, names.wholePhantom].sort());
  });

  it('writeFileAtomic clears its target\'s stale twin as it writes', async () => {
    const stale = join(dir, `.findings.json.${DEAD_PID}.deadbeef.tmp`);
    await writeFile(stale, '{"half":');
    await utimes(stale, old, old);
    await writeFileAtomic(join(dir, 'findings.json'), '{}');
    expect((await readdir(dir)).filter((n) => n.includes('findings'))).toEqual(['findings.json']);
  });
});
