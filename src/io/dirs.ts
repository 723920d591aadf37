import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { CtscopeError } from '../errors.js';

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

/**
 * Before minutes of work that end in one output file: the path must not be a folder, and the closest folder
 * above it that exists must be a folder (not a file), else E_OUTPUT at once rather than after the run. Nothing
 * is created here, so a run that fails later leaves nothing behind; writeFileAtomic makes the folder.
 */
export async function checkOutFile(path: string, what: string): Promise<void> {
  const full = resolve(path);
  if ((await stat(full).catch(() => undefined))?.isDirectory()) throw new CtscopeError('E_OUTPUT', `${what} is a folder; give a file name`, { where: path });
  for (let dir = dirname(full); ; dir = dirname(dir)) {
    const st = await stat(dir).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new CtscopeError('E_OUTPUT', `${what} is below a file (${dir}), not a folder`, { where: path });
      return;
    }
    if (dirname(dir) === dir) return;
  }
}
