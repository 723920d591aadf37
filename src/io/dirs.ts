import { randomBytes } from 'node:crypto';
import { lstat, mkdir, rmdir, stat, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { CtscopeError } from '../errors.js';

/** Bytes a file name may have on the file systems ctscope writes to (NAME_MAX on Linux and macOS). */
export const NAME_MAX = 255;

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
 * ensureDir for a write that may fail: returns an undo that removes the folders this call made (deepest
 * first, each only while empty), so a failed or aborted write leaves no new empty folder behind.
 */
export async function ensureDirUndoable(path: string): Promise<() => Promise<void>> {
  const missing: string[] = [];
  for (let d = resolve(path); !(await lstat(d).then(() => true, () => false)); d = dirname(d)) {
    missing.push(d);
    if (dirname(d) === d) break;
  }
  await ensureDir(path);
  return async () => {
    for (const d of missing) await rmdir(d).catch(() => undefined);
  };
}

/**
 * An existing output path must be a regular file (or a link to one) to be replaced: renaming over a device,
 * a pipe or a socket would replace the node itself (as root, `--out /dev/full` became a JSON file).
 */
export async function checkReplaceable(path: string, what: string): Promise<void> {
  const st = await stat(path).catch(() => undefined);
  if (st?.isDirectory()) throw new CtscopeError('E_OUTPUT', `${what} is a folder; give a file name`, { where: path });
  if (st && !st.isFile()) throw new CtscopeError('E_OUTPUT', `${what} exists and is not a regular file (a device, pipe or socket); give a file path`, { where: path });
}

/**
 * Before minutes of work that write into `dir` (made when missing): the closest path above it that exists must
 * be a folder, and that folder must take new entries; else E_OUTPUT at once rather than after the run. The
 * probe is real (make the first missing folder and remove it again, or create and delete an empty file),
 * because permission bits say nothing for root, a read-only mount or /proc. Nothing is left behind, so a run
 * that fails later leaves no empty folder; writeFileAtomic makes the folder when it writes.
 */
export async function checkOutDir(dir: string, what: string): Promise<void> {
  const full = resolve(dir);
  let firstMissing: string | undefined;
  for (let d = full; ; d = dirname(d)) {
    const st = await stat(d).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) throw new CtscopeError('E_OUTPUT', d === full ? `${what} exists and is not a folder` : `${what} is below a file (${d}), not a folder`, { where: dir });
      break;
    }
    // A link to nothing: making the folder fails (EEXIST), and only after the run's work.
    if ((await lstat(d).catch(() => undefined))?.isSymbolicLink()) {
      throw new CtscopeError('E_OUTPUT', `${what} ${d === full ? 'is' : 'is below'} a symbolic link to a missing path (${d})`, { where: dir });
    }
    firstMissing = d;
    if (dirname(d) === d) break;
  }
  try {
    if (firstMissing !== undefined) {
      await mkdir(firstMissing);
      // Someone else may be filling it already (two runs into one new folder): theirs to keep, then.
      await rmdir(firstMissing).catch(() => undefined);
    } else {
      const probe = join(full, `.ctscope-probe-${process.pid}-${randomBytes(4).toString('hex')}`);
      await writeFile(probe, '', { flag: 'wx' });
      await unlink(probe);
    }
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return;
    throw new CtscopeError('E_OUTPUT', `${what} cannot be written: ${dir} (${code ?? String(e)})`, { where: dir, cause: e });
  }
}

/** checkOutDir for one output file: the path must be a regular file if it exists, and its folder must take new entries. */
export async function checkOutFile(path: string, what: string): Promise<void> {
  const full = resolve(path);
  // Checked here, not found out by the write after the run: no file system takes a longer name.
  if (Buffer.byteLength(basename(full)) > NAME_MAX) throw new CtscopeError('E_OUTPUT', `${what} has a file name longer than ${NAME_MAX} bytes`, { where: path });
  await checkReplaceable(full, what);
  await checkOutDir(dirname(full), `the folder of ${what}`);
}
