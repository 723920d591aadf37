import { readdir, stat, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CtscopeError, throwIfAborted } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { readSmallFile } from '../io/small-file.js';
import { asOnlyWriter, isLostLock, type FolderTurn } from '../io/folder-lock.js';
import type { FindingsDocument, OutputName } from './document.js';
import { keyImage, type KeyImageSource } from './key-image.js';
import { reportHtml, type KeyImageRef } from './report.js';

const IMAGE_LANES = 4;

export const FILE_NAMES = { json: 'findings.json', sr: 'sr.dcm', report: 'report.html' } as const;

export interface WriteHooks {
  /** Runs just before findings.json is written (to stamp the total time). */
  beforeJson?: () => void;
  /**
   * Runs once every file is in place, still inside the write: an abort it causes (a host's progress callback
   * that throws aborts its run) takes the outputs back like any failure.
   */
  afterWrite?: () => void;
  /** Checked between files; an abort ends the write like a failure. */
  signal?: AbortSignal | undefined;
}

/**
 * Writes the requested outputs into `outDir`, each file atomically (temporary file, then rename), and
 * findings.json last: when it exists, everything it lists is complete. When anything fails (disk full,
 * no permission, abort), the files this call already wrote are removed again, and the folder too when
 * this call made it; no temporary file stays, so a failed run leaves no partial result set behind; the
 * error is E_OUTPUT (or E_ABORTED). A folder holds one run: an earlier run's outputs there (the files its
 * findings.json or run index names) are removed before anything is written, so old key images or another
 * patient's SR never sit beside new findings. The run index is written first, naming every file to come, so
 * this holds after a run killed outright too.
 */
export async function writeOutputs(
  outDir: string,
  doc: FindingsDocument,
  volume: KeyImageSource,
  sr: Uint8Array | undefined,
  outputs: readonly OutputName[],
  hooks: WriteHooks = {},
): Promise<string[]> {
  const dir = resolve(outDir);
  // Before anything is touched (an earlier run's outputs included).
  throwIfAborted(hooks.signal, 'writing outputs');
  // One run's set at a time: a second run into this folder waits (in this process) or is refused (another one).
  return asOnlyWriter(
    dir,
    async (turn) => {
      // Names in completion order, for the clean-up of a failed run, which happens before the next writer's turn.
      const written: string[] = [];
      // No file replaces another run's once the lock is lost (this process paused past LOCK_STALE_MS): checked
      // just before each rename, not only before findings.json.
      const put = async (name: string, data: Uint8Array | string): Promise<void> => {
        throwIfAborted(hooks.signal, 'writing outputs');
        await writeFileAtomic(join(dir, name), data, undefined, turn.assertHeld);
        written.push(name);
      };
      try {
        await withdrawEarlierRun(dir, turn.assertHeld);
        // The run index comes first and names every file this run will write, so that whatever a run killed
        // outright leaves is listed, and the next run into the folder withdraws it.
        await put(RUN_INDEX, JSON.stringify({ files: plannedFiles(doc, sr, outputs) }) + '\n');
        const listed = await writeAll(doc, volume, sr, outputs, hooks, put);
        hooks.afterWrite?.();
        throwIfAborted(hooks.signal, 'writing outputs');
        return listed.map((n) => join(dir, n));
      } catch (e) {
        // With the lock lost, the folder may be another run's now: its files (under the same names) stay, whatever
        // ended this run (a Ctrl-C right after the pause, too). The run index goes last, so it lists what is left.
        if (!isLostLock(e) && stillHeld(turn)) {
          await Promise.all(written.filter((n) => n !== RUN_INDEX).map((n) => unlink(join(dir, n)).catch(() => undefined)));
          if (written.includes(RUN_INDEX)) await unlink(join(dir, RUN_INDEX)).catch(() => undefined);
        }
        throw e;
      }
    },
    hooks.signal,
  );
}

function stillHeld(turn: FolderTurn): boolean {
  try {
    turn.assertHeld();
    return true;
  } catch {
    return false;
  }
}

/**
 * Before the run's work: each name the outputs take in `dir` that exists already must be a regular file (an
 * earlier run's, replaced), or the write would fail only after the inference, with the earlier results withdrawn.
 */
export async function checkOutputNames(dir: string, outputs: readonly OutputName[]): Promise<void> {
  const keyImages = outputs.includes('report') ? (await readdir(dir).catch(() => [] as string[])).filter((n) => /^key-\d+\.png$/.test(n)) : [];
  for (const name of [RUN_INDEX, ...outputs.map((o) => FILE_NAMES[o]), ...keyImages]) {
    const st = await stat(join(dir, name)).catch(() => undefined);
    if (st && !st.isFile()) {
      throw new CtscopeError('E_OUTPUT', `the output folder holds a ${st.isDirectory() ? 'folder' : 'device, pipe or socket'} named ${name}, where ctscope writes a file; remove it or choose another folder`, { where: dir });
    }
  }
}

/** The most a findings.json or run index is read for its list of files (one of 200 findings is far smaller). */
const INDEX_MAX_BYTES = 64 * 2 ** 20;

/** Hidden list of the files a run wrote into its folder (findings.json lists them too, when written). */
export const RUN_INDEX = '.ctscope-outputs.json';

/** The names ctscope writes into an output folder. */
const OUTPUT_FILE = new RegExp(`^(${Object.values(FILE_NAMES).map((n) => n.replace('.', '\\.')).join('|')}|key-\\d+\\.png)$`);

/**
 * Removes an earlier run's outputs: its findings.json first (the index of the set), then the files it or the
 * run index lists, and only names ctscope writes, so nothing else in the folder is touched (not a report.html
 * of the user's own in a general folder, nor anything a tampered list names). A folder that cannot be read (a
 * write-only drop folder) has nothing to withdraw.
 */
async function withdrawEarlierRun(dir: string, assertHeld: () => void): Promise<void> {
  const listedIn = async (file: string): Promise<string[]> => {
    try {
      // An index is a few hundred bytes; anything else under its name (a FIFO, /dev/zero) is not read.
      const text = await readSmallFile(join(dir, file), INDEX_MAX_BYTES);
      if (text === undefined) return [];
      const files = (JSON.parse(text) as { files?: unknown }).files;
      return Array.isArray(files) ? files.filter((n): n is string => typeof n === 'string' && OUTPUT_FILE.test(n) && n !== FILE_NAMES.json) : [];
    } catch {
      return [];
    }
  };
  const names = [...new Set([...(await listedIn(FILE_NAMES.json)), ...(await listedIn(RUN_INDEX))])];
  for (const n of [FILE_NAMES.json, ...names, RUN_INDEX]) {
    // Once the lock is lost these may be the files of the run that took over.
    assertHeld();
    try {
      await unlink(join(dir, n));
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && !((n === FILE_NAMES.json || n === RUN_INDEX) && code === 'EACCES')) throw new CtscopeError('E_OUTPUT', `cannot remove the earlier run's ${n}: ${(e as Error).message}`, { cause: e, where: dir });
    }
  }
}

/** The files `writeAll` writes, in its order. */
function plannedFiles(doc: FindingsDocument, sr: Uint8Array | undefined, outputs: readonly OutputName[]): string[] {
  return [
    ...(outputs.includes('report') ? [...doc.findings.map((f) => keyImageName(f.n)), FILE_NAMES.report] : []),
    ...(outputs.includes('sr') && sr ? [FILE_NAMES.sr] : []),
    ...(outputs.includes('json') ? [FILE_NAMES.json] : []),
  ];
}

const keyImageName = (n: number): string => `key-${n}.png`;

async function writeAll(
  doc: FindingsDocument,
  volume: KeyImageSource,
  sr: Uint8Array | undefined,
  outputs: readonly OutputName[],
  hooks: WriteHooks,
  put: (name: string, data: Uint8Array | string) => Promise<void>,
): Promise<string[]> {
  const listed: string[] = [];
  if (outputs.includes('report')) {
    // sharp encodes on libuv's thread pool: a few images at once, in finding order in the page.
    const images: KeyImageRef[] = new Array(doc.findings.length);
    let next = 0;
    let failed = false;
    const lane = async (): Promise<void> => {
      while (!failed && next < doc.findings.length) {
        const at = next++;
        const f = doc.findings[at]!;
        const { png, width, height } = await keyImage(volume, f);
        const file = keyImageName(f.n);
        await put(file, png);
        images[at] = { n: f.n, file, width, height };
      }
    };
    // Every lane settles before a failure is thrown: a sibling's image that lands after the first error
    // must already be in `written` when the caller cleans up, or it would stay behind.
    const settled = await Promise.allSettled(
      Array.from({ length: Math.min(IMAGE_LANES, doc.findings.length) }, () =>
        lane().catch((e: unknown) => {
          failed = true;
          throw e;
        }),
      ),
    );
    const firstFailure = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (firstFailure) throw firstFailure.reason;
    await put(FILE_NAMES.report, reportHtml(doc, images));
    listed.push(...images.map((im) => im.file), FILE_NAMES.report);
  }
  if (outputs.includes('sr') && sr) {
    await put(FILE_NAMES.sr, sr);
    listed.push(FILE_NAMES.sr);
  }
  doc.files = [...listed];
  hooks.beforeJson?.();
  if (outputs.includes('json')) {
    await put(FILE_NAMES.json, JSON.stringify(doc, null, 2) + '\n');
    listed.push(FILE_NAMES.json);
  }
  return listed;
}
