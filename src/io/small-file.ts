import { lstat, readFile } from 'node:fs/promises';

/**
 * The text of a small file ctscope itself writes into a shared folder (a lock, a run index), or undefined where the
 * name is anything else: a FIFO would block the read for ever, a device or a link to one (/dev/zero) would fill
 * memory. Not a guarantee against a file swapped in between the check and the read, only against what sits there.
 */
export async function readSmallFile(path: string, maxBytes: number): Promise<string | undefined> {
  const st = await lstat(path).catch(() => undefined);
  if (!st?.isFile() || st.size > maxBytes) return undefined;
  return readFile(path, 'utf8').catch(() => undefined);
}
