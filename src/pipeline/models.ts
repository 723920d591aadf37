import { CtscopeError, isCtscopeError } from '../errors.js';
import { loadModelShared, type ModelPackage } from '../inference/model.js';

/** Model ids the project plans to bundle; asking for one before it ships gets a clear E_MODEL. */
export const PLANNED_MODELS: Readonly<Record<string, string>> = {
  nodule: 'lung nodule detector for chest CT',
  aneurysm: 'intracranial aneurysm detector for CTA',
};

/** Findings kept per model under a score floor: enough for a FROC curve to reach 8 false positives per scan and beyond. */
export const FLOOR_MAX_FINDINGS = 200;

/** The package with its score threshold lowered to `floor`, and room for FLOOR_MAX_FINDINGS findings (FROC curves). */
export function withScoreFloor(pkg: ModelPackage, floor: number): ModelPackage {
  const t = pkg.manifest.thresholds;
  return { ...pkg, manifest: { ...pkg.manifest, thresholds: { ...t, score: floor, maxFindings: floor < t.score ? FLOOR_MAX_FINDINGS : t.maxFindings } } };
}

/** Loads a model by bundled id or package folder (once per process, see loadModelShared); an unknown or unbundled id is E_MODEL. */
export async function loadModelPackage(idOrPath: string, searchDirs: string[] | undefined): Promise<ModelPackage> {
  try {
    return await loadModelShared(idOrPath, searchDirs ? { searchDirs } : {});
  } catch (e) {
    if (!isCtscopeError(e) || e.code !== 'E_NOT_FOUND') throw e;
    const planned = PLANNED_MODELS[idOrPath];
    if (planned)
      throw new CtscopeError('E_MODEL', `model '${idOrPath}' (${planned}) is not bundled yet: no trained weights ship with this version; pass a model package folder with --model <path>`, { cause: e });
    throw new CtscopeError('E_MODEL', e.message, { cause: e, ...(e.where !== undefined ? { where: e.where } : {}) });
  }
}
