import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { CtscopeError } from '../errors.js';
import type { Vec3 } from '../volume/types.js';
import type { EvalCase, PredictedFinding, TruthLesion } from './froc.js';

/** Lesion kinds the evaluation knows (truth.json `findings[].kind`, findings.json `findings[].kind`). */
export type EvalKind = 'nodule' | 'aneurysm';
export const EVAL_KINDS: readonly EvalKind[] = ['nodule', 'aneurysm'];

export interface CaseFiles {
  id: string;
  truthFile: string;
  predFile: string | null;
}

const isVec3 = (v: unknown): v is Vec3 => Array.isArray(v) && v.length === 3 && v.every((x) => typeof x === 'number' && Number.isFinite(x));

/** A truth or findings file: unreadable is E_IO, not JSON is E_BAD_INPUT; both name the file. */
function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new CtscopeError('E_IO', `cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, { cause: e, where: file });
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw bad(file, `not JSON (${(e as Error).message})`);
  }
}

const bad = (file: string, what: string): CtscopeError => new CtscopeError('E_BAD_INPUT', `${file}: ${what}`, { where: file });

/**
 * Case folders of `truthRoot` holding truth.json, paired with `predRoot/<same name>/findings.json`. Other folders
 * there (nested batches, a misnamed Truth.json) go to `ignored`, so a caller can say they were not scored.
 */
export function listCases(truthRoot: string, predRoot: string, ignored: string[] = []): CaseFiles[] {
  for (const [name, dir] of [['truth root', truthRoot], ['prediction root', predRoot]] as const) {
    if (!existsSync(dir) || !statSync(dir).isDirectory()) throw new CtscopeError('E_NOT_FOUND', `${name} is not a folder`, { where: dir });
  }
  const ids: string[] = [];
  for (const d of readdirSync(truthRoot).sort()) {
    if (existsSync(join(truthRoot, d, 'truth.json'))) ids.push(d);
    else if (statSync(join(truthRoot, d), { throwIfNoEntry: false })?.isDirectory()) ignored.push(d);
  }
  if (ids.length === 0) throw new CtscopeError('E_NOT_FOUND', 'no case folder with truth.json under the truth root', { where: truthRoot });
  return ids.map((id) => {
    const pred = join(predRoot, id, 'findings.json');
    return { id, truthFile: join(truthRoot, id, 'truth.json'), predFile: existsSync(pred) ? pred : null };
  });
}

/**
 * Truth lesions of one kind from a ctscope synth truth.json (or any file with `findings[]` of that shape); `parsed`:
 * its JSON, already read. A lesion without `kind` is of its scan's kind (`chest`: nodule, `cta`: aneurysm), and
 * E_BAD_INPUT where the file names no scan kind; a lesion eval cannot score goes to `onUnknown` (why, in words), never silently.
 */
export function readTruth(file: string, kind: EvalKind, parsed: unknown = readJson(file), onUnknown?: (why: string) => void): TruthLesion[] {
  const doc = parsed as { findings?: unknown; kind?: unknown };
  if (!doc || !Array.isArray(doc.findings)) throw bad(file, 'truth file has no findings array');
  const scanLesion = EVAL_KINDS.find((k) => SCAN_KIND[k] === doc.kind);
  const out: TruthLesion[] = [];
  for (const [n, f] of (doc.findings as Record<string, unknown>[]).entries()) {
    if (typeof f !== 'object' || f === null) throw bad(file, `truth finding ${n + 1} is not an object`);
    const its = f.kind ?? scanLesion;
    if (typeof its !== 'string') throw bad(file, `truth finding ${n + 1} has no kind (nodule or aneurysm), and the file names no scan kind (chest or cta) to take it from`);
    if (!(EVAL_KINDS as readonly string[]).includes(its)) onUnknown?.(notScored(its));
    // A lesion of the other kind in a scan of this kind is scored in neither FROC (each kind takes its own scans).
    else if (scanLesion && its !== scanLesion) onUnknown?.(`truth lesions of kind '${its}' in ${String(doc.kind)} scans, scored in neither FROC (each lesion kind is scored on its own scan kind)`);
    if (its !== kind) continue;
    if (!isVec3(f.centerLps) || typeof f.diameterMm !== 'number' || !(f.diameterMm > 0)) throw bad(file, `truth finding ${n + 1} needs centerLps [x,y,z] and diameterMm > 0`);
    out.push({ centerLps: f.centerLps, diameterMm: f.diameterMm, ...(typeof f.type === 'string' ? { type: f.type } : {}) });
  }
  return out;
}

/**
 * Findings of one kind from a findings.json ({ findings: [{ kind, score, centerLps }] }); `parsed`: its JSON, already
 * read. A kind eval does not score (a model of another task, `Nodule`) goes to `onUnknown`, said in words.
 */
export function readPredictions(file: string, kind: EvalKind, parsed: unknown = readJson(file), onUnknown?: (why: string) => void): PredictedFinding[] {
  const doc = parsed as { findings?: unknown };
  if (!doc || !Array.isArray(doc.findings)) throw bad(file, 'findings file has no findings array');
  const out: PredictedFinding[] = [];
  for (const [n, f] of (doc.findings as unknown[]).entries()) {
    if (typeof f !== 'object' || f === null) throw bad(file, `finding ${n + 1} is not an object`);
    const g = f as Record<string, unknown>;
    // A finding without a known kind cannot be scored: dropping it silently turned a broken file into a CPM of 0.
    if (typeof g.kind !== 'string') throw bad(file, `finding ${n + 1} has no kind (nodule or aneurysm)`);
    if (!(EVAL_KINDS as readonly string[]).includes(g.kind)) onUnknown?.(notScored(g.kind));
    if (g.kind !== kind) continue;
    if (!isVec3(g.centerLps) || typeof g.score !== 'number' || !Number.isFinite(g.score)) throw bad(file, `finding ${n + 1} needs centerLps [x,y,z] and a numeric score`);
    out.push({ centerLps: g.centerLps, score: g.score, ...(typeof g.diameterMm === 'number' && g.diameterMm > 0 && Number.isFinite(g.diameterMm) ? { diameterMm: g.diameterMm } : {}) });
  }
  return out;
}

/**
 * For a findings.json that is the whole document `detect` writes (it names its models), the highest score from
 * which its models kept findings (`models[].scoreThreshold`; null where it does not say, as before session 24);
 * undefined for any other file (eval's own).
 */
export function detectScoreFloor(file: string): number | null | undefined {
  const doc = readJson(file) as { schemaVersion?: unknown; models?: unknown } | null;
  if (typeof doc !== 'object' || doc === null || doc.schemaVersion === undefined || !Array.isArray(doc.models)) return undefined;
  const floors = (doc.models as { scoreThreshold?: unknown }[]).map((m) => m?.scoreThreshold);
  return floors.every((t): t is number => typeof t === 'number') && floors.length ? Math.max(...floors) : null;
}

const notScored = (kind: string): string => `lesions or findings of kind '${kind}', which eval does not score (it scores ${EVAL_KINDS.join(' and ')})`;

/** Phantom kind (truth.json `kind`) whose scans a lesion kind is scored on. */
export const SCAN_KIND: Readonly<Record<EvalKind, string>> = { nodule: 'chest', aneurysm: 'cta' };

/**
 * Whether a scan of kind `scan` (truth.json `kind`) counts for lesion kind `kind`: one of that kind's scans, or one
 * that names no scan kind ctscope knows (it counts for every lesion kind). One rule for scoring, for choosing
 * which models `eval --detect` runs on a case, and for which cases' files a run reads.
 */
export function scanCountsFor(scan: string | undefined, kind: EvalKind): boolean {
  return scan === undefined || !Object.values(SCAN_KIND).includes(scan) || scan === SCAN_KIND[kind];
}

/** The scan kind a truth.json names (chest, cta), or undefined where it names none. */
export function scanKindOf(truthFile: string): string | undefined {
  const kind = (readJson(truthFile) as { kind?: unknown } | null)?.kind;
  return typeof kind === 'string' ? kind : undefined;
}

/**
 * Cases of one kind. A truth.json that names its phantom kind (chest, cta) counts as a scan only for the
 * lesion kind of that phantom; one without `kind` counts for every lesion kind. A scan without lesions
 * still contributes its false positives; a case without findings.json has no findings.
 */
export function loadCases(files: readonly CaseFiles[], kind: EvalKind, onUnknown?: (file: string, why: string) => void): EvalCase[] {
  const out: EvalCase[] = [];
  for (const c of files) {
    const doc = readJson(c.truthFile) as { kind?: unknown } | null;
    if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) throw bad(c.truthFile, 'truth file is not a JSON object');
    if (!scanCountsFor(typeof doc.kind === 'string' ? doc.kind : undefined, kind)) continue;
    const pred = c.predFile ? readJson(c.predFile) : undefined;
    if (c.predFile) checkSameSeries(c.id, doc, pred);
    const truths = readTruth(c.truthFile, kind, doc, (k) => onUnknown?.(c.truthFile, k));
    out.push({ id: c.id, truths, findings: c.predFile ? readPredictions(c.predFile, kind, pred, (k) => onUnknown?.(c.predFile!, k)) : [] });
  }
  return out;
}

/**
 * Findings scored against the truth of another scan (prediction folders from another run, a case renamed) give a
 * FROC that looks plausible and is meaningless. Where both files name their SeriesInstanceUID (ctscope synth and
 * ctscope detect write it), they must agree. The UIDs are not printed: they identify a patient's study.
 */
function checkSameSeries(id: string, truth: unknown, pred: unknown): void {
  const uid = (doc: unknown): string | undefined => {
    const u = (doc as { series?: { seriesInstanceUid?: unknown } } | null)?.series?.seriesInstanceUid;
    return typeof u === 'string' && u !== '' ? u : undefined;
  };
  const t = uid(truth), p = uid(pred);
  if (t !== undefined && p !== undefined && t !== p)
    throw new CtscopeError('E_BAD_INPUT', `case ${id}: findings.json is for another series than truth.json (their SeriesInstanceUIDs differ); is the prediction root the one for this truth root?`, { where: id });
}
