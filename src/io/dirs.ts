import { mkdir, stat } from 'node:fs/promises';
import { mkdirSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p` that fails instead of spinning. Node 20's `mkdir(path, { recursive: true })` never returns for a
 * path whose parent exists but refuses children with ENOENT (anything below /proc): it creates the parent
 * (EEXIST), retries the child (ENOENT), and so on for ever, at 100 % CPU.
 */
export async function ensureDir(path: string): Promise<void> {
  const dir = resolve(path);
  const isDir = (): Promise<boolean> => stat(dir).then((st) => st.isDirectory(), () => false);
  try {
    await mkdir(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await isDir())) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
  }
  // The parent is missing, or was made meanwhile by someone else: make it when missing, then try once more.
  // A second ENOENT with the parent in place means this parent refuses new entries (/proc): fail.
  if (!(await stat(dirname(dir)).then(() => true, () => false))) await ensureDir(dirname(dir));
  try {
    await mkdir(dir);
  } catch (again) {
    if ((again as NodeJS.ErrnoException).code === 'EEXIST' && (await isDir())) return;
    throw again;
  }
}

/** ensureDir for synchronous callers (scripts, the benchmark's set-up). */
export function ensureDirSync(path: string): void {
  const dir = resolve(path);
  const isDir = (): boolean => {
    try {
      return statSync(dir).isDirectory();
    } catch {
      return false;
    }
  };
  try {
    mkdirSync(dir);
    return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && isDir()) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
  }
  let parentExists = true;
  try {
    statSync(dirname(dir));
  } catch {
    parentExists = false;
  }
  if (!parentExists) ensureDirSync(dirname(dir));
  try {
    mkdirSync(dir);
  } catch (again) {
    if ((again as NodeJS.ErrnoException).code === 'EEXIST' && isDir()) return;
    throw again;
  }
}
