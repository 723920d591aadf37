import { randomBytes } from 'node:crypto';
import { readdir, readFile, realpath, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { onAbort } from './abort.js';
import { ensureDirUndoable } from './dirs.js';

/** Name prefix of the lock files of an output folder: `.ctscope-writing.<pid>.<random>`, holding the writer's pid. */
export const FOLDER_LOCK = '.ctscope-writing';
/** A lock file not touched for this long belongs to a writer that is gone (its owner touches it every HEARTBEAT_MS). */
export const LOCK_STALE_MS = 10_000;
const HEARTBEAT_MS = 2_000;

/** Writers in this process, one chain per folder: the next starts when every one before it has finished. */
const turns = new Map<string, Promise<unknown>>();

/**
 * Runs `work` as the only writer of `dir`: after any other writer in this process, in call order, and never
 * beside a writer in another process, which gets E_OUTPUT at once. The folder is made if missing (E_OUTPUT when it
 * cannot be), and removed again, within the turn, when `work` fails and this call made it. Two runs into one folder used
 * to interleave their files, so one study's key image could sit beside another's findings. An abort of `signal`
 * while waiting for the turn is E_ABORTED at once.
 *
 * Across processes each writer makes its own lock file and then looks for others: any other that is fresh (touched
 * within LOCK_STALE_MS) means someone else writes, and this writer withdraws. Two that start at the same instant
 * may both withdraw, but two never both write; liveness is the file's age, not a pid (pids are reused, and are 1 in
 * every container), so a crashed writer's lock is ignored after LOCK_STALE_MS.
 */
export async function asOnlyWriter<T>(dir: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  // One chain per folder, however it is named (a symlink to it included).
  const key = await realpath(dir).catch(() => dir);
  const before = turns.get(key) ?? Promise.resolve();
  const mine = waitFor(before, signal).then(async () => {
    throwIfAborted(signal, 'writing outputs');
    let undoDir: () => Promise<void>;
    try {
      undoDir = await ensureDirUndoable(dir);
    } catch (e) {
      throw new CtscopeError('E_OUTPUT', `cannot create the output folder: ${(e as Error).message}`, { cause: e, where: dir });
    }
    try {
      const release = await lockFolder(dir);
      try {
        return await work();
      } finally {
        await release();
      }
    } catch (e) {
      await undoDir();
      throw e;
    }
  });
  // The next writer waits for this one and for every one before it (this one may leave early, aborted).
  const tail = Promise.allSettled([before, mine]);
  turns.set(key, tail);
  try {
    return await mine;
  } finally {
    void tail.then(() => {
      if (turns.get(key) === tail) turns.delete(key);
    });
  }
}

/** Resolves when `p` settles, or rejects with E_ABORTED when `signal` fires first. */
function waitFor(p: Promise<unknown>, signal: AbortSignal | undefined): Promise<void> {
  const settled = p.then(
    () => undefined,
    () => undefined,
  );
  if (!signal) return settled;
  return new Promise<void>((resolve, reject) => {
    if (signal.aborted) return reject(new CtscopeError('E_ABORTED', 'writing outputs was aborted'));
    const off = onAbort(signal, () => reject(new CtscopeError('E_ABORTED', 'writing outputs was aborted')));
    void settled.then(() => {
      off();
      resolve();
    });
  });
}

async function lockFolder(dir: string): Promise<() => Promise<void>> {
  const mine = `${FOLDER_LOCK}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const path = join(dir, mine);
  try {
    await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
  } catch (e) {
    throw new CtscopeError('E_OUTPUT', `cannot lock the output folder: ${(e as Error).message}`, { cause: e, where: dir });
  }
  const heartbeat = setInterval(() => {
    const now = new Date();
    void utimes(path, now, now).catch(() => undefined);
  }, HEARTBEAT_MS).unref();
  const release = async (): Promise<void> => {
    clearInterval(heartbeat);
    await unlink(path).catch(() => undefined);
  };
  try {
    const other = await liveOtherLock(dir, mine);
    if (other) {
      const pid = Number.parseInt(await readFile(join(dir, other), 'utf8').catch(() => ''), 10);
      throw new CtscopeError('E_OUTPUT', `another ctscope run${pid > 0 ? ` (process ${pid})` : ''} is writing into this output folder (lock ${other}); wait for it or choose another folder`, { where: dir });
    }
  } catch (e) {
    await release();
    throw e;
  }
  return release;
}

/** The name of another writer's lock file in `dir` that is still fresh; stale ones are removed on the way. */
async function liveOtherLock(dir: string, mine: string): Promise<string | undefined> {
  // A folder that cannot be listed (a write-only drop folder) shows no other writer: it is locked by nobody else's means either.
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    if (name === mine || !name.startsWith(`${FOLDER_LOCK}.`)) continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st) continue; // gone meanwhile: its writer released it
    if (Date.now() - st.mtimeMs < LOCK_STALE_MS) return name;
    await unlink(join(dir, name)).catch(() => undefined);
  }
  return undefined;
}
