import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
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

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one:
 * a temporary file in the same folder (made if missing; same file system, so rename is atomic), fsync, then rename.
 * The temporary file, and any folder made for it, is removed when anything fails; an existing `path` that is
 * not a regular file (a device, a pipe) is refused rather than replaced. Errors are E_OUTPUT with the path as `where`;
 * an abort of `signal` (checked every 16 MiB) is E_ABORTED, and leaves no file either.
 */
export async function writeFileAtomic(path: string, data: AtomicData, signal?: AbortSignal): Promise<void> {
  const tmp = join(dirname(path), tempName(basename(path)));
  const chunks: readonly (Uint8Array | string)[] = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  let undoDirs: (() => Promise<void>) | undefined;
  try {
    throwIfAborted(signal, `writing ${path}`);
    await checkReplaceable(path, path);
    undoDirs = await ensureDirUndoable(dirname(path));
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
    await rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    await undoDirs?.();
    if (isCtscopeError(e) && (e.code === 'E_ABORTED' || e.code === 'E_OUTPUT')) throw e;
    const text = e instanceof Error ? e.message : String(e);
    throw new CtscopeError('E_OUTPUT', `cannot write ${path}: ${text}`, { cause: e, where: path });
  }
}
