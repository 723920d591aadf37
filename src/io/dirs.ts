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
  try {
    await mkdir(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await stat(dir)).isDirectory()) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
    // The parent is missing: make it first, unless it exists (then this folder cannot be made there).
    if (await stat(dirname(dir)).then(() => true, () => false)) throw e;
    await ensureDir(dirname(dir));
    await mkdir(dir).catch((again: NodeJS.ErrnoException) => {
      if (again.code !== 'EEXIST') throw again;
    });
  }
}

/** ensureDir for synchronous callers (scripts, the benchmark's set-up). */
export function ensureDirSync(path: string): void {
  const dir = resolve(path);
  try {
    mkdirSync(dir);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && statSync(dir).isDirectory()) return;
    if (code !== 'ENOENT' || dirname(dir) === dir) throw e;
    let parentExists = true;
    try {
      statSync(dirname(dir));
    } catch {
      parentExists = false;
    }
    if (parentExists) throw e;
    ensureDirSync(dirname(dir));
    try {
      mkdirSync(dir);
    } catch (again) {
      if ((again as NodeJS.ErrnoException).code !== 'EEXIST') throw again;
    }
  }
}
