import { readdir, realpath, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { CtscopeError } from '../errors.js';
import { definedOnly } from './fill.js';

export interface ScanOptions {
  /** Stop descending below this many folder levels (guards against pathological trees). */
  maxDepth?: number;
  signal?: AbortSignal;
}

export interface FilledScanOptions {
  maxDepth: number;
  signal: AbortSignal | undefined;
}

const DEFAULT_SCAN: FilledScanOptions = { maxDepth: 64, signal: undefined };

export interface ScanResult {
  /** Regular files found, sorted by path (so every later stage is deterministic), each real file once (links followed). */
  files: string[];
  /** Entries that could not be read (permission, broken link), with the reason. */
  unreadable: Array<{ path: string; message: string }>;
  /** The files among `files` that were given themselves, not found in a given folder. */
  named: Set<string>;
}

/**
 * Lists every regular file under the given paths, recursively. Names do not matter (DICOM files
 * often have no extension). Symbolic links are followed, but each real folder is visited once,
 * so link loops end. A path that does not exist is E_NOT_FOUND.
 */
export async function scanPaths(inputs: string | readonly string[], options: ScanOptions = {}): Promise<ScanResult> {
  const o: FilledScanOptions = { ...DEFAULT_SCAN, ...definedOnly(options) };
  const list = typeof inputs === 'string' ? [inputs] : inputs;
  const files = new Set<string>();
  const named = new Set<string>();
  // The real path of each file found, so that one file reached twice (two links, a link and the file) counts once.
  const realOf = new Map<string, string>();
  const unreadable: ScanResult['unreadable'] = [];
  const visited = new Set<string>();
  // Folders met below maxDepth, by real path: reported at the end unless reached less deep meanwhile.
  const tooDeep = new Map<string, string>();

  const walk = async (dir: string, depth: number): Promise<void> => {
    if (o.signal?.aborted) throw new CtscopeError('E_ABORTED', 'folder scan was aborted');
    let real: string;
    try {
      real = await realpath(dir);
    } catch (e) {
      unreadable.push({ path: dir, message: errText(e) });
      return;
    }
    if (visited.has(real)) return;
    // Said, not dropped silently: slices below it would be missing from their series without a word. Not marked
    // visited, so the folder is still searched where it is reached less deep (given itself, or through a link).
    if (depth > o.maxDepth) {
      if (!tooDeep.has(real)) tooDeep.set(real, dir);
      return;
    }
    visited.add(real);
    let entries;
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (e) {
      unreadable.push({ path: dir, message: errText(e) });
      return;
    }
    for (const entry of entries) {
      const p = join(dir, entry.name);
      if (entry.isDirectory()) await walk(p, depth + 1);
      else if (entry.isFile()) {
        files.add(p);
        realOf.set(p, join(real, entry.name));
      } else if (entry.isSymbolicLink()) {
        try {
          const s = await stat(p);
          if (s.isDirectory()) await walk(p, depth + 1);
          else if (s.isFile()) {
            files.add(p);
            realOf.set(p, await realpath(p));
          }
        } catch (e) {
          unreadable.push({ path: p, message: errText(e) });
        }
      }
    }
  };

  for (const input of list) {
    let s;
    try {
      s = await stat(input);
    } catch (e) {
      throw new CtscopeError('E_NOT_FOUND', `no such file or folder: ${input}`, { cause: e, where: input });
    }
    if (s.isDirectory()) await walk(input, 0);
    else if (s.isFile()) {
      files.add(input);
      named.add(input);
      realOf.set(input, await realpath(input).catch(() => input));
    } else throw new CtscopeError('E_NOT_FOUND', `not a file or folder: ${input}`, { where: input });
  }
  for (const [real, dir] of tooDeep) if (!visited.has(real)) unreadable.push({ path: dir, message: `more than ${o.maxDepth} folder levels deep, not searched` });
  const seen = new Set<string>();
  const unique = [...files].sort().filter((f) => {
    const r = realOf.get(f) ?? f;
    if (seen.has(r)) return false;
    seen.add(r);
    return true;
  });
  return { files: unique, unreadable, named };
}

function errText(e: unknown): string {
  const code = (e as { code?: unknown }).code;
  return typeof code === 'string' ? code : e instanceof Error ? e.message : String(e);
}
