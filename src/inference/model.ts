import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
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
    if (!existsSync(join(dir, 'manifest.json'))) throw new CtscopeError('E_NOT_FOUND', `no manifest.json in model folder`, { where: dir });
    return dir;
  }
  const dirs = searchDirs(options);
  for (const d of dirs) {
    const dir = join(d, idOrPath);
    if (existsSync(join(dir, 'manifest.json'))) return dir;
  }
  throw new CtscopeError('E_NOT_FOUND', `model '${idOrPath}' is neither a bundled model id nor a package folder (searched ${dirs.join(', ')})`);
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
    throw new CtscopeError('E_MODEL', `cannot read the model file: ${(e as Error).message}`, { cause: e, where: modelPath });
  }
  const actual = sha256Hex(bytes);
  if (actual !== sha256) {
    throw new CtscopeError('E_MODEL', `model file sha256 ${actual} does not match the manifest's ${sha256} (corrupt or replaced file)`, { where: modelPath });
  }
  return bytes;
}

/**
 * The second stage as a package of its own, so that it runs through the same runners and predictors: a
 * classifier on S^3 crops with the first stage's channels, one score per crop.
 */
function refinePackage(dir: string, m: FilledManifest): ModelPackage | null {
  const r = m.refine;
  if (!r) return null;
  const modelPath = join(dir, r.file);
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
  return { dir, manifest, modelPath, bytes: readChecked(modelPath, r.sha256), refine: null };
}

/** Loads a package: validates the manifest (E_MANIFEST), reads the ONNX file(s) and checks their sha256 (E_MODEL). */
export function loadModel(idOrPath: string, options: LoadModelOptions = {}): ModelPackage {
  const dir = resolveModelDir(idOrPath, options);
  const manifest = readManifest(join(dir, 'manifest.json'));
  const modelPath = join(dir, manifest.file);
  return { dir, manifest, modelPath, bytes: readChecked(modelPath, manifest.sha256), refine: refinePackage(dir, manifest) };
}
