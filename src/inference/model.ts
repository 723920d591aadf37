import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtscopeError } from '../errors.js';
import { readManifest, type FilledManifest } from './manifest.js';

/** A loaded model package: its validated manifest and the ONNX bytes whose sha256 matched. */
export interface ModelPackage {
  /** Folder holding manifest.json and the ONNX file. */
  dir: string;
  manifest: FilledManifest;
  modelPath: string;
  bytes: Uint8Array;
  /** The second stage (manifest `refine`) as a package of its own, run on crops; null without one. */
  refine: ModelPackage | null;
}

/**
 * The order in which this process started loading each package's weights: a newer load of a model file retires the
 * older's session. Kept by the bytes, which copies of a package (`{ ...pkg, manifest }`) share.
 */
const loadOrder = new WeakMap<Uint8Array, number>();
let loads = 0;

function numbered(pkg: ModelPackage, order = ++loads): ModelPackage {
  loadOrder.set(pkg.bytes, order);
  if (pkg.refine) loadOrder.set(pkg.refine.bytes, order);
  return pkg;
}

/** When this process loaded `pkg` (1, 2...), or 0 for a package it did not load (made by the host). */
export function loadedOrder(pkg: ModelPackage): number {
  return loadOrder.get(pkg.bytes) ?? 0;
}

export interface LoadModelOptions {
  /** Folders searched for bundled ids, in order; default: $CTSCOPE_MODELS then the package's models/. */
  searchDirs?: string[];
}

export function bundledModelsDir(): string {
  return fileURLToPath(new URL('../../models', import.meta.url));
}

function searchDirs(options: LoadModelOptions): string[] {
  if (options.searchDirs) return options.searchDirs;
  const env = process.env.CTSCOPE_MODELS;
  return [...(env ? env.split(':').filter(Boolean) : []), bundledModelsDir()];
}

const looksLikePath = (s: string): boolean => isAbsolute(s) || s.startsWith('.') || s.includes('/') || s.includes('\\');

/** Resolves `--model`: a package folder (or its manifest.json), or a bundled id. */
export function resolveModelDir(idOrPath: string, options: LoadModelOptions = {}): string {
  if (looksLikePath(idOrPath) || existsSync(join(idOrPath, 'manifest.json'))) {
    const p = resolve(idOrPath);
    const dir = p.endsWith('.json') && existsSync(p) && statSync(p).isFile() ? resolve(p, '..') : p;
    // The folder the user named, not a patient's file: said in the message, which is what the CLI prints.
    if (!existsSync(join(dir, 'manifest.json'))) throw new CtscopeError('E_NOT_FOUND', `no manifest.json in the model folder ${dir}`, { where: dir });
    return dir;
  }
  const dirs = searchDirs(options);
  for (const d of dirs) {
    const dir = join(d, idOrPath);
    if (existsSync(join(dir, 'manifest.json'))) return dir;
  }
  const ids = [...new Set(dirs.flatMap(modelIdsIn))].sort();
  throw new CtscopeError('E_NOT_FOUND', `model '${idOrPath}' is neither a model id (${ids.length ? `those found: ${ids.join(', ')}` : 'none found'}) nor a package folder (searched ${dirs.join(', ')})`);
}

/** Ids of the model packages in a search folder: its subfolders that hold a manifest.json. */
function modelIdsIn(dir: string): string[] {
  try {
    return readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory() && existsSync(join(dir, e.name, 'manifest.json'))).map((e) => e.name);
  } catch {
    return [];
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads an ONNX file of a package and checks it against the manifest's sha256 (E_MODEL). */
function readChecked(modelPath: string, sha256: string): Uint8Array {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(modelPath);
  } catch (e) {
    throw unreadable(modelPath, e);
  }
  checkDigest(modelPath, sha256Hex(bytes), sha256);
  return bytes;
}

const unreadable = (modelPath: string, e: unknown): CtscopeError =>
  new CtscopeError('E_MODEL', `cannot read the model file: ${(e as Error).message}`, { cause: e, where: modelPath });

function checkDigest(modelPath: string, actual: string, sha256: string): void {
  if (actual !== sha256) throw new CtscopeError('E_MODEL', `model file sha256 ${actual} does not match the manifest's ${sha256} (corrupt or replaced file)`, { where: modelPath });
}

/**
 * The second stage as a package of its own, so that it runs through the same runners and predictors: a
 * classifier (or a models/cascade.py ensemble) on S^3 crops with the first stage's channels, one score per crop. `read` gives its checked bytes.
 */
function refinePackage(dir: string, m: FilledManifest, bytes: Uint8Array): ModelPackage {
  const r = m.refine!;
  const manifest: FilledManifest = {
    ...m,
    id: `${m.id}-refine`,
    file: r.file,
    sha256: r.sha256,
    input: { ...m.input, name: r.input, layout: 'NCDHW', patchSize: [r.patchSize, r.patchSize, r.patchSize], batch: { size: r.batch, fixed: false } },
    output: { ...m.output, kind: 'heatmap', name: r.output, activation: r.activation, channel: 0, boxes: null },
    window: { ...m.window, tta: 'none' },
    refine: null,
  };
  return { dir, manifest, modelPath: join(dir, r.file), bytes, refine: null };
}

/** Loads a package: validates the manifest (E_MANIFEST), reads the ONNX file(s) and checks their sha256 (E_MODEL). */
export function loadModel(idOrPath: string, options: LoadModelOptions = {}): ModelPackage {
  const dir = resolveModelDir(idOrPath, options);
  const manifest = readManifest(join(dir, 'manifest.json'));
  const modelPath = join(dir, manifest.file);
  const refine = manifest.refine ? refinePackage(dir, manifest, readChecked(join(dir, manifest.refine.file), manifest.refine.sha256)) : null;
  return numbered({ dir, manifest, modelPath, bytes: readChecked(modelPath, manifest.sha256), refine });
}

/**
 * Packages loaded by loadModelShared, by folder, with what their files looked like when read. A read in flight
 * is held; a finished package only weakly, so its bytes (which a session worker has copied by then) go once no
 * run holds them, rather than staying for the life of a host process.
 */
const shared = new Map<string, { stamp: string; pending?: Promise<ModelPackage>; done?: WeakRef<ModelPackage> }>();

/**
 * loadModel for a host's thread: the ONNX files are read asynchronously and hashed chunk by chunk between
 * event-loop turns (a 400 MB model read with readFileSync blocked a host for 1.4 s on every call), and only
 * once while the manifest and files are unchanged (size, mtime, inode) and some run still holds the package;
 * concurrent callers share the one read, and so one copy of the bytes. (A rewrite that keeps size and inode
 * within one file-system timestamp tick would go unnoticed until the package is read again.)
 */
export async function loadModelShared(idOrPath: string, options: LoadModelOptions = {}): Promise<ModelPackage> {
  const dir = resolveModelDir(idOrPath, options);
  const manifest = readManifest(join(dir, 'manifest.json'));
  const files = [manifest.file, ...(manifest.refine ? [manifest.refine.file] : [])];
  const stats = await Promise.all(files.map((f) => stat(join(dir, f)).catch(() => null)));
  const stamp = JSON.stringify([manifest, stats.map((st) => st && [st.size, st.mtimeMs, st.ino])]);
  const hit = shared.get(dir);
  if (hit && hit.stamp === stamp) {
    const kept = hit.pending ?? hit.done?.deref();
    if (kept) return kept;
  }
  // Numbered when the read starts: a slow read of the old files must not finish as the newer load.
  const order = ++loads;
  const pkg = (async (): Promise<ModelPackage> => {
    const modelPath = join(dir, manifest.file);
    const [bytes, refineBytes] = await Promise.all([
      readCheckedAsync(modelPath, manifest.sha256),
      manifest.refine ? readCheckedAsync(join(dir, manifest.refine.file), manifest.refine.sha256) : null,
    ]);
    return numbered({ dir, manifest, modelPath, bytes, refine: refineBytes ? refinePackage(dir, manifest, refineBytes) : null }, order);
  })();
  const entry: { stamp: string; pending?: Promise<ModelPackage>; done?: WeakRef<ModelPackage> } = { stamp, pending: pkg };
  shared.set(dir, entry);
  pkg.then(
    (p) => {
      delete entry.pending;
      entry.done = new WeakRef(p);
    },
    () => {
      if (shared.get(dir) === entry) shared.delete(dir);
    },
  );
  return pkg;
}

/** Bytes read (and hashed) per step of readCheckedAsync. */
const READ_STEP = 4 << 20;

/** readChecked without blocking: reads into one buffer in 4 MiB steps, hashing each as it arrives. */
async function readCheckedAsync(modelPath: string, sha256: string): Promise<Uint8Array> {
  const hash = createHash('sha256');
  let bytes: Uint8Array;
  try {
    const fh = await open(modelPath, 'r');
    try {
      const { size } = await fh.stat();
      bytes = new Uint8Array(size);
      for (let at = 0; at < size; ) {
        const { bytesRead } = await fh.read(bytes, at, Math.min(READ_STEP, size - at), at);
        if (bytesRead === 0) throw new Error(`file ended at byte ${at} of ${size}`);
        hash.update(bytes.subarray(at, at + bytesRead));
        at += bytesRead;
      }
    } finally {
      await fh.close();
    }
  } catch (e) {
    throw unreadable(modelPath, e);
  }
  checkDigest(modelPath, hash.digest('hex'), sha256);
  return bytes;
}
