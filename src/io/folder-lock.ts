import { randomBytes } from 'node:crypto';
import { realpathSync, unlinkSync } from 'node:fs';
import { readdir, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { raceAbort } from './abort.js';
import { ensureDirUndoable } from './dirs.js';
import { readSmallFile } from './small-file.js';

/** Name prefix of the lock files of an output folder: `.ctscope-writing.<pid>.<random>`, holding the writer's pid. */
export const FOLDER_LOCK = '.ctscope-writing';
/** A lock file not touched for this long belongs to a writer that is gone (its owner touches it every HEARTBEAT_MS). */
export const LOCK_STALE_MS = 10_000;
const HEARTBEAT_MS = 2_000;

/** Writers in this process, one chain per folder: the next starts when every one before it has finished. */
const turns = new Map<string, Promise<unknown>>();

/** Lock files this process holds, removed however it exits (the grace timer's exit, a second Ctrl-C). */
const held = new Set<string>();

/** Removes the lock files this process holds, at once: for an exit that skips the writers' own clean-up. */
export function releaseHeldLocksSync(): void {
  for (const path of held) {
    try {
      unlinkSync(path);
    } catch {
      // gone already
    }
  }
  held.clear();
}
process.on('exit', releaseHeldLocksSync);

/** Errors of writers whose lock was lost: their files stay (the folder may be another run's by then). */
const lostLockErrors = new WeakSet<object>();
export function isLostLock(e: unknown): boolean {
  return typeof e === 'object' && e !== null && lostLockErrors.has(e);
}

/**
 * The folder's key in `turns`, the same before and after the folder exists and however it is spelled: the real
 * path of its nearest existing ancestor, plus the rest. Computed synchronously, so turns follow call order.
 */
function folderKey(dir: string): string {
  const rest: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    try {
      return join(realpathSync(d), ...rest.reverse());
    } catch {
      if (dirname(d) === d) return dir;
      rest.push(basename(d));
    }
  }
}

/** What a writer holds: `assertHeld()` throws E_OUTPUT once its lock was lost (the process was paused past LOCK_STALE_MS). */
export interface FolderTurn {
  assertHeld(): void;
}

/**
 * Runs `work` as the only writer of `dir`: after any other writer in this process, in call order, and never
 * beside a writer in another process, which gets E_OUTPUT within a fraction of a second. The folder is made if
 * missing (E_OUTPUT when it cannot be), and removed again, within the turn, when `work` fails and this call made it.
 * Two runs into one folder used to interleave their files, so one study's key image could sit beside another's
 * findings. An abort of `signal` while waiting for the turn is E_ABORTED at once.
 *
 * Across processes each writer makes its own lock file and then looks for others: any other that is fresh (touched
 * within LOCK_STALE_MS) means someone else writes, and this writer withdraws; it is refused if that lock is still
 * there after a random pause of 20-200 ms, and tries again (LOCK_TRIES in all) if it went, as it does when writers
 * started at the same instant all withdrew. Two never both write. Liveness is the file's age, not a pid (pids are
 * reused, and are 1 in every container), so a crashed writer's lock is ignored after LOCK_STALE_MS.
 */
export async function asOnlyWriter<T>(dir: string, work: (turn: FolderTurn) => Promise<T>, signal?: AbortSignal): Promise<T> {
  // One chain per folder, however it is named (a symlink to it included).
  const key = folderKey(dir);
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
      const lock = await lockFolder(dir);
      try {
        return await work(lock);
      } finally {
        await lock.release();
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
  return raceAbort(settled, signal, 'writing outputs');
}

/** Tries to take the folder when other writers' locks keep appearing and going (writers that started together). */
const LOCK_TRIES = 5;

async function lockFolder(dir: string): Promise<FolderTurn & { release: () => Promise<void> }> {
  for (let attempt = 1; ; attempt++) {
    const lock = await tryLockFolder(dir);
    if (!('other' in lock)) return lock;
    // Another lock was there when ours was made. If that one stays, its writer is at work: refuse. If it goes within
    // a short random pause, it was a writer that started with us and withdrew too: try again.
    await new Promise((r) => setTimeout(r, 20 + Math.random() * 180));
    const still = await freshLock(dir, lock.other.name);
    if (still) throw await refusal(dir, still);
    if (attempt === LOCK_TRIES) {
      throw new CtscopeError('E_OUTPUT', `other ctscope runs kept starting to write into this output folder at the same instant (${LOCK_TRIES} tries); run again`, { where: dir });
    }
  }
}

/** Makes this writer's lock file, then looks for others: the lock, or (withdrawn) the other writer's lock. */
async function tryLockFolder(dir: string): Promise<(FolderTurn & { release: () => Promise<void> }) | { other: { name: string; ageMs: number } }> {
  const mine = `${FOLDER_LOCK}.${process.pid}.${randomBytes(6).toString('hex')}`;
  const path = join(dir, mine);
  try {
    await writeFile(path, `${process.pid}\n`, { flag: 'wx' });
  } catch (e) {
    // Made but not written (a full disk, a size limit): it must not stay as a lock.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') await unlink(path).catch(() => undefined);
    throw new CtscopeError('E_OUTPUT', `cannot lock the output folder: ${(e as Error).message}`, { cause: e, where: dir });
  }
  held.add(path);
  // The lock is lost when a beat comes too late (the process was stopped or blocked past LOCK_STALE_MS, so another
  // writer may have cleared it away) or finds the file gone.
  let lost = false;
  let last = Date.now();
  const heartbeat = setInterval(() => {
    const now = Date.now();
    if (now - last >= LOCK_STALE_MS) lost = true;
    last = now;
    void utimes(path, new Date(now), new Date(now)).catch(() => {
      lost = true;
    });
  }, HEARTBEAT_MS).unref();
  const release = async (): Promise<void> => {
    clearInterval(heartbeat);
    held.delete(path);
    await unlink(path).catch(() => undefined);
  };
  const assertHeld = (): void => {
    if (!lost && Date.now() - last < LOCK_STALE_MS) return;
    const e = new CtscopeError('E_OUTPUT', `lost the output folder's lock: this process was paused for over ${LOCK_STALE_MS / 1000} s while writing, so another run may have written there; run again`, { where: dir });
    lostLockErrors.add(e);
    throw e;
  };
  let other: { name: string; ageMs: number } | undefined;
  try {
    other = await liveOtherLock(dir, mine);
  } catch (e) {
    await release();
    throw e;
  }
  if (other) {
    await release();
    return { other };
  }
  return { release, assertHeld };
}

/**
 * Early word, before a run's minutes of work: E_OUTPUT when another process is writing into `dir` right now (the
 * same refusal its writing stage would give then). No guarantee: the lock taken when writing is what counts.
 */
export async function checkNoOtherWriter(dir: string): Promise<void> {
  const other = await liveOtherLock(dir, '');
  if (other) throw await refusal(dir, other);
}

async function refusal(dir: string, other: { name: string; ageMs: number }): Promise<CtscopeError> {
  const pid = Number.parseInt((await readSmallFile(join(dir, other.name), 64)) ?? '', 10);
  const age = Math.max(0, Math.round(other.ageMs / 1000));
  return new CtscopeError(
    'E_OUTPUT',
    `another ctscope run${pid > 0 ? ` (process ${pid})` : ''} is writing into this output folder: its lock ${other.name} was touched ${age} s ago (a lock untouched for ${LOCK_STALE_MS / 1000} s is ignored); wait for it or choose another folder`,
    { where: dir },
  );
}

/** The lock file `name` in `dir` and its age, if it is there and fresh. */
async function freshLock(dir: string, name: string): Promise<{ name: string; ageMs: number } | undefined> {
  const st = await stat(join(dir, name)).catch(() => undefined);
  const ageMs = st ? Date.now() - st.mtimeMs : Infinity;
  return ageMs < LOCK_STALE_MS ? { name, ageMs } : undefined;
}

/** Another writer's lock file in `dir` that is still fresh, and its age; stale ones are removed on the way. */
async function liveOtherLock(dir: string, mine: string): Promise<{ name: string; ageMs: number } | undefined> {
  // A folder that cannot be listed (a write-only drop folder) shows no other writer: it is locked by nobody else's means either.
  const names = await readdir(dir).catch(() => [] as string[]);
  let live: { name: string; ageMs: number } | undefined;
  // Every stale one is cleared, also when a live one is found first.
  for (const name of names) {
    if (name === mine || !name.startsWith(`${FOLDER_LOCK}.`)) continue;
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (!st) continue; // gone meanwhile: its writer released it
    const ageMs = Date.now() - st.mtimeMs;
    if (ageMs < LOCK_STALE_MS) live ??= { name, ageMs };
    else await unlink(join(dir, name)).catch(() => undefined);
  }
  return live;
}
