import { lstat, open, readdir, rename, rm, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { CtscopeError, isCtscopeError, throwIfAborted } from '../errors.js';
import { checkReplaceable, ensureDirUndoable, NAME_MAX } from './dirs.js';

export type AtomicData = Uint8Array | string | readonly Uint8Array[];

/** Bytes written between two abort checks (a 300-slice volume is hundreds of MB). */
const WRITE_STEP = 16 << 20;

/**
 * `.<name>.<pid>.<random>.tmp`, with the name cut (at a character) so the whole stays within NAME_MAX bytes: a
 * legal 250-byte output name must not fail for its temporary twin's sake.
 */
export function tempName(name: string): string {
  const suffix = `.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  // Cut by code point, so no surrogate pair is split.
  const chars = Array.from(name);
  while (Buffer.byteLength(`.${chars.join('')}${suffix}`) > NAME_MAX) chars.pop();
  return `.${chars.join('')}${suffix}`;
}

/** A temporary twin left by a writer that was killed (SIGKILL, a power cut) is cleared once it is this old. */
const STALE_TEMP_MS = 10 * 60_000;

/** Folder and name pairs already cleared by this process: each is listed once, not on every write into it. */
const cleared = new Set<string>();

/**
 * Removes the temporary twins of `name` in `dir` (files or folders, `tempName`'s pattern) whose writer is gone: its
 * pid is not a live process here, and nothing was written to it for 10 minutes (on a file system shared with other
 * hosts a pid says nothing; a live writer keeps its twin fresh). A killed writer's twin was kept for ever. A
 * folder holding `truth.json` is kept: it is a whole phantom (synth before session 22 moved an earlier output
 * aside under such a name, and left it there if killed between its two renames). Once per folder and name per
 * process: a folder of 20,000 entries took 14 ms to list on every write into it.
 */
export async function removeStaleTemps(dir: string, name: string): Promise<void> {
  const key = `${dir}\0${name}`;
  if (cleared.has(key)) return;
  cleared.add(key);
  const stem = tempName(name).replace(/\.\d+\.[0-9a-f]{8}\.tmp$/, '');
  let entries: string[];
  try {
    entries = await readdir(dir);
  } catch {
    return;
  }
  for (const entry of entries) {
    const m = /^(.*)\.(\d+)\.[0-9a-f]{8}\.tmp$/.exec(entry);
    if (!m || m[1] !== stem || pidAlive(Number(m[2]))) continue;
    const path = join(dir, entry);
    try {
      const st = await lstat(path);
      if (Date.now() - st.mtimeMs < STALE_TEMP_MS) continue;
      if (st.isDirectory() && (await lstat(join(path, 'truth.json')).then(() => true, () => false))) continue;
      await rm(path, { recursive: true, force: true });
    } catch {
      // Gone already, or not ours to remove: left as it is.
    }
  }
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive, another user's.
    return (e as NodeJS.ErrnoException).code !== 'ESRCH';
  }
}

/**
 * Flushes a folder's entries (a rename into it, the files made in it) to disk, where folders can be opened (not on
 * Windows): after a power cut the new name is there or the old one, not neither.
 */
export async function syncDir(dir: string): Promise<void> {
  const handle = await open(dir, 'r').catch(() => undefined);
  if (!handle) return;
  await handle.sync().catch(() => undefined);
  await handle.close().catch(() => undefined);
}

/** syncDir for synchronous writers (synth's slice files). */
export function syncDirSync(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, 'r');
    fsyncSync(fd);
  } catch {
    // A platform without directory fsync.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one:
 * a temporary file in the same folder (made if missing; same file system, so rename is atomic), fsync, then rename.
 * The temporary file, and any folder made for it, is removed when anything fails; an existing `path` that is
 * not a regular file (a device, a pipe) is refused rather than replaced. Errors are E_OUTPUT with the path as `where`;
 * an abort of `signal` (checked every 16 MiB) is E_ABORTED, and leaves no file either. `beforeRename` runs just before
 * the rename: what it throws leaves no file (a writer that lost its folder's lock must not replace a file there).
 */
export async function writeFileAtomic(path: string, data: AtomicData, signal?: AbortSignal, beforeRename?: () => void): Promise<void> {
  const tmp = join(dirname(path), tempName(basename(path)));
  const chunks: readonly (Uint8Array | string)[] = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let undoDirs: (() => Promise<void>) | undefined;
  try {
    throwIfAborted(signal, `writing ${path}`);
    await checkReplaceable(path, path);
    undoDirs = await ensureDirUndoable(dirname(path));
    await removeStaleTemps(dirname(path), basename(path));
    handle = await open(tmp, 'wx', 0o644).catch(async (e: NodeJS.ErrnoException) => {
      // Another writer into the same new folder failed and took it back between our mkdir and open: once more.
      if (e.code !== 'ENOENT') throw e;
      await ensureDirUndoable(dirname(path));
      return open(tmp, 'wx', 0o644);
    });
    for (const chunk of chunks) {
      if (typeof chunk === 'string') {
        await handle.writeFile(chunk);
        continue;
      }
      for (let at = 0; at < chunk.byteLength; at += WRITE_STEP) {
        throwIfAborted(signal, `writing ${path}`);
        await handle.writeFile(chunk.subarray(at, at + WRITE_STEP));
      }
    }
    throwIfAborted(signal, `writing ${path}`);
    await handle.sync();
    await handle.close();
    handle = undefined;
    beforeRename?.();
    await rename(tmp, path);
    await syncDir(dirname(path));
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    await undoDirs?.();
    if (isCtscopeError(e) && (e.code === 'E_ABORTED' || e.code === 'E_OUTPUT')) throw e;
    const text = e instanceof Error ? e.message : String(e);
    throw new CtscopeError('E_OUTPUT', `cannot write ${path}: ${text}`, { cause: e, where: path });
  }
}
