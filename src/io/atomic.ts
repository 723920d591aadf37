import { open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { CtscopeError } from '../errors.js';

export type AtomicData = Uint8Array | string | readonly Uint8Array[];

/**
 * Writes `data` to `path` so that readers see either the old file or the complete new one:
 * a temporary file in the same folder (same file system, so rename is atomic), fsync, then rename.
 * The temporary file is removed when anything fails. Errors are E_OUTPUT with the path as `where`.
 */
export async function writeFileAtomic(path: string, data: AtomicData): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const chunks: readonly (Uint8Array | string)[] = typeof data === 'string' || data instanceof Uint8Array ? [data] : data;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(tmp, 'wx', 0o644);
    for (const chunk of chunks) await handle.writeFile(chunk);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(tmp, path);
  } catch (e) {
    if (handle) await handle.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    const text = e instanceof Error ? e.message : String(e);
    throw new CtscopeError('E_OUTPUT', `cannot write ${path}: ${text}`, { cause: e, where: path });
  }
}
