import type { BenchRow } from './harness.js';

/**
 * Regression guard. Absolute times on shared machines swing by tens of per cent, so a row is compared by its
 * ratio to an in-run baseline and fails only when that ratio grows past `tolerance` times the committed one.
 * The scalar loop is the basis: measured here it moved by about 3 % between runs, while the memcpy bandwidth
 * moved between 10 and 16 GB/s (memcpy ratios are still printed, for reading across machines).
 */
export interface BaselineEntry {
  stage: string;
  name: string;
  /** medianMs divided by the in-run baseline time (lower is better). */
  ratio: number;
  basis: 'memcpy' | 'scalar';
}

export interface BaselineFile {
  /** Machine the baselines were taken on, for the reader; the comparison itself is machine-neutral. */
  machine: string;
  tolerance: number;
  entries: BaselineEntry[];
}

export interface Regression {
  stage: string;
  name: string;
  baseline: number;
  /** The best of the row's ratio and its re-measured ones. */
  now: number;
  factor: number;
  /** How many times the row was measured (1 + its rechecks). */
  attempts: number;
}

export const DEFAULT_TOLERANCE = 2;

export function rowRatio(r: BenchRow): { ratio: number; basis: 'memcpy' | 'scalar' } | undefined {
  if (r.vsScalar !== undefined) return { ratio: r.vsScalar, basis: 'scalar' };
  if (r.vsMemcpy !== undefined) return { ratio: r.vsMemcpy, basis: 'memcpy' };
  return undefined;
}

export function toBaselines(rows: BenchRow[], machine: string, tolerance = DEFAULT_TOLERANCE): BaselineFile {
  const entries: BaselineEntry[] = [];
  for (const r of rows) {
    const x = rowRatio(r);
    if (x) entries.push({ stage: r.stage, name: r.name, ratio: Number(x.ratio.toPrecision(4)), basis: x.basis });
  }
  return { machine, tolerance, entries };
}

/**
 * Rows slower than `tolerance` x their baseline ratio. Rows without a baseline (new tasks) pass. A row measured
 * again counts by its best attempt: noise on a shared machine only ever slows a row, and a real slowdown of the
 * code shows in every attempt.
 */
export function findRegressions(rows: BenchRow[], baselines: BaselineFile, tolerance = baselines.tolerance): Regression[] {
  const out: Regression[] = [];
  for (const r of rows) {
    const base = baselines.entries.find((e) => e.stage === r.stage && e.name === r.name);
    const x = rowRatio(r);
    if (!base || !x || x.basis !== base.basis) continue;
    const best = Math.min(x.ratio, ...(r.rechecks ?? []));
    const factor = best / base.ratio;
    if (factor > tolerance) out.push({ stage: r.stage, name: r.name, baseline: base.ratio, now: best, factor, attempts: 1 + (r.rechecks?.length ?? 0) });
  }
  return out;
}

/**
 * First-touch page faults above this many microseconds per 4 KiB page make rows that fill fresh memory measure the
 * VM more than ctscope: the baselines were taken at about 0.5 us (a fresh 157 MB volume filled in 72 ms), and VMs of
 * the same kind have shown 12 us, where the faults alone take 3-4x the rows' compute.
 */
export const FAULT_CHECK_MAX_US = 2;

/** The rows a check can judge on this machine: where page faults are that slow, not those that fill fresh memory. */
export function checkableRows(rows: BenchRow[], faultUsPerPage: number): { checkable: BenchRow[]; skipped: BenchRow[] } {
  if (!(faultUsPerPage > FAULT_CHECK_MAX_US)) return { checkable: rows, skipped: [] };
  return { checkable: rows.filter((r) => !r.freshMemory), skipped: rows.filter((r) => r.freshMemory) };
}

/** Rows of this run that have a baseline of the same basis in the file (what a check really compares). */
export function comparedRows(rows: BenchRow[], baselines: BaselineFile): BenchRow[] {
  return rows.filter((r) => {
    const x = rowRatio(r);
    return x !== undefined && baselines.entries.some((e) => e.stage === r.stage && e.name === r.name && e.basis === x.basis);
  });
}

/** This run's baselines merged into an existing file: entries of rows this run did not measure are kept. */
export function mergeBaselines(previous: BaselineFile | undefined, next: BaselineFile): BaselineFile {
  if (!previous) return next;
  const key = (e: BaselineEntry): string => `${e.stage}\u0000${e.name}`;
  const fresh = new Set(next.entries.map(key));
  return { ...next, entries: [...previous.entries.filter((e) => !fresh.has(key(e))), ...next.entries] };
}

/** A tolerance or ratio a check can use: finite and above 0 (0, a negative or Infinity turns the guard off or on for all). */
const usable = (x: unknown): boolean => typeof x === 'number' && Number.isFinite(x) && x > 0;

/** Whether parsed JSON has the shape of a baselines file, with usable numbers. */
export function isBaselineFile(v: unknown): v is BaselineFile {
  const f = v as BaselineFile;
  return (
    typeof f === 'object' && f !== null && usable(f.tolerance) && Array.isArray(f.entries) &&
    f.entries.every((e) => typeof e?.stage === 'string' && typeof e.name === 'string' && usable(e.ratio) && (e.basis === 'memcpy' || e.basis === 'scalar'))
  );
}
