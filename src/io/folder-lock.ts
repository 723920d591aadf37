import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CtscopeError } from '../errors.js';
import { tempName } from './atomic.js';

/** The lock of an output folder while a run writes its set of files there; it holds the writer's process id. */
export const FOLDER_LOCK = '.ctscope-writing';

/** Writers in this process, one chain per folder: the next starts when the one before has finished. */
const turns = new Map<string, Promise<unknown>>();

/**
 * Runs `work` as the only writer of `dir`: after any other writer in this process (in call order), and never
 * beside a writer in another process (E_OUTPUT naming its process, at once). Two runs into one folder used to
 * interleave their files, so one study's key image could sit beside another's findings. A lock left by a process
 * that is gone is taken over.
 */
export async function asOnlyWriter<T>(dir: string, work: () => Promise<T>): Promise<T> {
  const before = turns.get(dir) ?? Promise.resolve();
  const mine = before.then(async () => {
    const release = await lockFolder(dir);
    try {
      return await work();
    } finally {
      await release();
    }
  });
  const tail = mine.catch(() => undefined);
  turns.set(dir, tail);
  try {
    return await mine;
  } finally {
    if (turns.get(dir) === tail) turns.delete(dir);
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the folder's lock file: written whole under a temporary name, then hard-linked to FOLDER_LOCK, which fails
 * atomically when the lock exists (so no reader ever sees it empty). Returns its release.
 */
async function lockFolder(dir: string): Promise<() => Promise<void>> {
  const lock = join(dir, FOLDER_LOCK);
  const tmp = join(dir, tempName(FOLDER_LOCK));
  const fail = (e: unknown): CtscopeError => new CtscopeError('E_OUTPUT', `cannot lock the output folder: ${(e as Error).message}`, { cause: e, where: dir });
  await writeFile(tmp, `${process.pid}\n`, { flag: 'wx' }).catch((e: unknown) => {
    throw fail(e);
  });
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await link(tmp, lock);
        return () => unlink(lock).catch(() => undefined);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw fail(e);
      }
      const holder = Number.parseInt(await readFile(lock, 'utf8').catch(() => ''), 10);
      // This process's own writers wait their turn above; its pid here means the folder was reached by another path.
      if (holder > 0 && alive(holder))
        throw new CtscopeError('E_OUTPUT', `another ctscope run (process ${holder}) is writing into this output folder; wait for it or choose another folder`, { where: dir });
      // Left by a process that is gone: taken over.
      await unlink(lock).catch(() => undefined);
    }
    throw fail(new Error('the lock kept changing hands'));
  } finally {
    await unlink(tmp).catch(() => undefined);
  }
}
