/**
 * One fuzz case: pick a corpus entry and a mutation from the case seed, then run the library on the
 * damaged bytes the way a user would (parse + decode the first and last frames, or index and load a small series).
 */
import { decodeFrame } from '../dicom/decode.js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseInstance, readHeader } from '../dicom/parse.js';
import { isCtscopeError } from '../errors.js';
import type { DicomInstance } from '../dicom/types.js';
import { loadSeries, scanStudy, type BufferInput } from '../ingest/load.js';
import { hash32, Rng } from '../synth/rng.js';
import { mutate, type MutationKind } from './mutate.js';

export interface CorpusEntry {
  name: string;
  bytes: Uint8Array;
}

export interface Corpus {
  files: readonly CorpusEntry[];
  /** Slices of one small generated series, for study-level cases. */
  series: readonly CorpusEntry[];
}

export type Outcome = 'ok' | 'coded' | 'uncoded' | 'timeout' | 'memory' | 'crash';
export const OUTCOMES: readonly Outcome[] = ['ok', 'coded', 'uncoded', 'timeout', 'memory', 'crash'];

export interface CasePlan {
  index: number;
  seed: number;
  /** Corpus entry name (for study cases, the mutated slice). */
  input: string;
  kind: MutationKind;
  /** How the damaged bytes reach the library: parse a buffer, read a file header, or index a study. */
  via: CaseVia;
}

export type CaseVia = 'bytes' | 'file' | 'study';

export interface CaseResult extends CasePlan {
  outcome: Outcome;
  code?: string;
  /** First lines of the stack for uncoded errors. */
  detail?: string;
  ms: number;
}

/** Every STUDY_EVERY-th case indexes and loads the generated series with one slice damaged. */
export const STUDY_EVERY = 25;
/** Every FILE_EVERY-th case goes through a temporary file and the incremental header reader. */
export const FILE_EVERY = 10;

export function caseSeed(runSeed: number, index: number): number {
  return hash32(`ctscope-fuzz:${runSeed >>> 0}:${index}`);
}

/** What case `index` of a run does; cheap, so the runner can name a case that killed its worker. */
export function planCase(corpus: Corpus, runSeed: number, index: number): { plan: CasePlan; bytes: Uint8Array; slice: number } {
  const seed = caseSeed(runSeed, index);
  const r = new Rng(seed);
  const study = corpus.series.length > 0 && index % STUDY_EVERY === STUDY_EVERY - 1;
  const via: CaseVia = study ? 'study' : index % FILE_EVERY === FILE_EVERY - 1 ? 'file' : 'bytes';
  const pool = study ? corpus.series : corpus.files.length > 0 ? corpus.files : corpus.series;
  const slice = r.int(0, pool.length - 1);
  const entry = pool[slice]!;
  const m = mutate(entry.bytes, r.u32());
  return { plan: { index, seed, input: entry.name, kind: m.kind, via }, bytes: m.bytes, slice };
}

async function parseAndDecode(bytes: Uint8Array, label: string): Promise<void> {
  await decodeFirstAndLast(bytes, parseInstance(bytes, label));
}

/**
 * Frame 0, and the last frame of a multi-frame image: a damaged offset table or fragment list often spares the
 * first frame and breaks a later one.
 */
async function decodeFirstAndLast(bytes: Uint8Array, inst: DicomInstance): Promise<void> {
  if (inst.numberOfFrames === 0 || inst.pixelData === undefined) return;
  await decodeFrame(bytes, inst, 0);
  if (inst.numberOfFrames > 1) await decodeFrame(bytes, inst, inst.numberOfFrames - 1);
}

/** The path-based route: header read in growing chunks, then the whole file for the pixels. */
async function fileCase(bytes: Uint8Array, index: number, scratchDir: string): Promise<void> {
  const path = join(scratchDir, `case-${index}.dcm`);
  try {
    writeFileSync(path, bytes);
    await decodeFirstAndLast(new Uint8Array(readFileSync(path)), await readHeader(path));
  } finally {
    rmSync(path, { force: true });
  }
}

async function studyCase(corpus: Corpus, bytes: Uint8Array, slice: number, seed: number): Promise<void> {
  const buffers: BufferInput[] = corpus.series.map((e, n) => ({ name: e.name, bytes: n === slice ? bytes : e.bytes }));
  await scanStudy(buffers);
  // Loading decodes in the shared pool; a quarter of the study cases is enough to cover it.
  if (seed % 4 === 0) await loadSeries(buffers, { threads: 1 });
}

function classify(e: unknown): { outcome: Outcome; code?: string; detail?: string } {
  if (isCtscopeError(e)) return { outcome: 'coded', code: e.code };
  const text = e instanceof Error ? (e.stack ?? e.message) : String(e);
  return { outcome: 'uncoded', detail: text.split('\n').slice(0, 6).join('\n') };
}

/**
 * Runs case `index` in this thread. Never throws. File cases write their bytes into `scratchDir`, a folder the run
 * owns and removes at its end: a case's own cleanup never runs when its worker is terminated (a timeout).
 */
export async function runCase(corpus: Corpus, runSeed: number, index: number, scratchDir: string): Promise<CaseResult> {
  const { plan, bytes, slice } = planCase(corpus, runSeed, index);
  const t0 = performance.now();
  let result: { outcome: Outcome; code?: string; detail?: string };
  try {
    if (plan.via === 'study') await studyCase(corpus, bytes, slice, plan.seed);
    else if (plan.via === 'file') await fileCase(bytes, index, scratchDir);
    else await parseAndDecode(bytes, `fuzz-${index}`);
    result = { outcome: 'ok' };
  } catch (e) {
    result = classify(e);
  }
  return { ...plan, ...result, ms: performance.now() - t0 };
}
