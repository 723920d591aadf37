import { CtscopeError } from '../errors.js';
import type { Vec3 } from '../volume/types.js';
import { median, quantile } from '../io/stats.js';
import { Rng } from '../synth/rng.js';

/**
 * FROC evaluation the LUNA16 way: a finding hits a truth lesion when its centre lies within the lesion's
 * radius (never less than `minRadiusMm`); a lesion counts once, with the best score among its hits; a
 * finding that hits any lesion is never a false positive, however many hit the same lesion. The curve is
 * swept over every score; sensitivity at a false-positive rate is interpolated linearly between the curve's
 * points (which start at 0 FP, 0 sensitivity), and held at the last point beyond the curve's end.
 */

export interface TruthLesion {
  centerLps: Vec3;
  diameterMm: number;
  /** e.g. solid, part-solid, ground-glass, saccular. */
  type?: string;
}

export interface PredictedFinding {
  centerLps: Vec3;
  score: number;
  /** The finding's reported size, where it has one: scored against the lesion's for the lesions found. */
  diameterMm?: number;
}

export interface EvalCase {
  id: string;
  truths: TruthLesion[];
  findings: PredictedFinding[];
}

export interface FrocOptions {
  /** Smallest hit radius (mm): 2 for aneurysms, 0 for nodules. */
  minRadiusMm?: number;
  /** False positives per scan where sensitivity is read; default LUNA16's 1/8 .. 8. */
  fpRates?: number[];
  /** Size bands [lo, hi) in mm for the per-band table; the last band includes hi. */
  sizeBands?: [number, number][];
  /** Operating threshold for the per-band/type table and FP/scan. */
  threshold?: number;
  /** Bootstrap resamples of the scans for the 95 % intervals (as LUNA16's evaluation does); 0: none. Default 1000. */
  bootstrap?: number;
}

export interface FilledFrocOptions {
  minRadiusMm: number;
  fpRates: number[];
  sizeBands: [number, number][];
  threshold: number;
  bootstrap: number;
}

export const DEFAULT_BOOTSTRAP = 1000;
/** The resampling stream's seed: the same cases always give the same intervals. */
const BOOTSTRAP_SEED = 16;

export const LUNA_FP_RATES = [0.125, 0.25, 0.5, 1, 2, 4, 8];

export function fillFrocOptions(o: FrocOptions = {}): FilledFrocOptions {
  const f: FilledFrocOptions = {
    minRadiusMm: o.minRadiusMm ?? 0,
    fpRates: o.fpRates ? [...o.fpRates] : [...LUNA_FP_RATES],
    sizeBands: o.sizeBands ? o.sizeBands.map((b) => [b[0], b[1]] as [number, number]) : [],
    threshold: o.threshold ?? 0.5,
    bootstrap: o.bootstrap ?? DEFAULT_BOOTSTRAP,
  };
  if (!(f.minRadiusMm >= 0)) throw new CtscopeError('E_USAGE', `minRadiusMm must be >= 0, got ${f.minRadiusMm}`);
  if (f.fpRates.length === 0 || !f.fpRates.every((r) => r > 0)) throw new CtscopeError('E_USAGE', 'fpRates must be positive numbers');
  if (!(Number.isInteger(f.bootstrap) && f.bootstrap >= 0)) throw new CtscopeError('E_USAGE', `bootstrap must be a whole number >= 0, got ${f.bootstrap}`);
  return f;
}

export interface CurvePoint {
  threshold: number;
  fpPerScan: number;
  sensitivity: number;
}

export interface GroupStat {
  name: string;
  truths: number;
  hits: number;
  sensitivity: number | null;
}

/** How the sizes reported for the lesions found at the threshold compare with the truth (relative errors). */
export interface SizeAgreement {
  /** Lesions found whose best-scoring hit reports a diameter. */
  lesions: number;
  /** Median of |reported - true| / true, and of the signed error (negative: reported smaller). */
  medianAbsError: number;
  medianError: number;
  /** Share within 25 % of the true diameter. */
  within25: number;
}

/**
 * 95 % percentile intervals from resampling the scans with replacement (each resample as many scans as the
 * set): how far the figures could move on another set of this size, the main uncertainty on a few dozen scans.
 */
export interface FrocInterval {
  /** Resamples scored (those without a lesion are skipped). */
  resamples: number;
  cpm: [number, number];
  /** In the order of `sensitivities`. */
  sensitivities: [number, number][];
}

export interface FrocResult {
  scans: number;
  truths: number;
  findings: number;
  /** Sensitivity at each requested FP/scan rate. */
  sensitivities: { fpPerScan: number; sensitivity: number }[];
  /** Mean of those sensitivities (competition performance metric). */
  cpm: number;
  /** Null when `bootstrap` is 0, there is only one scan, or no resample holds a lesion. */
  interval: FrocInterval | null;
  /** Best sensitivity reachable with every finding kept, and the FP/scan it costs. */
  maxSensitivity: number;
  fpPerScanAtMax: number;
  curve: CurvePoint[];
  atThreshold: {
    threshold: number;
    sensitivity: number | null;
    fpPerScan: number;
    bySize: GroupStat[];
    byType: GroupStat[];
    /** Null where no finding reports a diameter. */
    size: SizeAgreement | null;
  };
}

/** A curve event: a false positive, or a lesion first reached at its best score; `scan` indexes the cases. */
interface Scored {
  score: number;
  fp: boolean;
  scan: number;
}

const dist = (a: Vec3, b: Vec3): number => Math.hypot(a[0] - b[0], a[1] - b[1], a[2] - b[2]);

/**
 * Per lesion: best score among the findings that hit it (-Infinity if none) and that finding's diameter; the
 * false positives' scores.
 */
export function matchCase(c: EvalCase, minRadiusMm: number): { best: number[]; bestDiameter: (number | undefined)[]; fpScores: number[] } {
  const best = c.truths.map(() => -Infinity);
  const bestDiameter: (number | undefined)[] = c.truths.map(() => undefined);
  const fpScores: number[] = [];
  for (const f of c.findings) {
    let hit = false;
    c.truths.forEach((t, i) => {
      if (dist(f.centerLps, t.centerLps) <= Math.max(t.diameterMm / 2, minRadiusMm)) {
        hit = true;
        if (f.score > best[i]!) {
          best[i] = f.score;
          bestDiameter[i] = f.diameterMm;
        }
      }
    });
    if (!hit) fpScores.push(f.score);
  }
  return { best, bestDiameter, fpScores };
}

/** Linear interpolation of sensitivity at `fp` along the curve (points in threshold order, FP non-decreasing). */
export function sensitivityAt(curve: readonly CurvePoint[], fp: number): number {
  let a = 0;
  for (let i = 0; i < curve.length; i++) if (curve[i]!.fpPerScan <= fp) a = i;
  const p = curve[a]!;
  const q = curve[a + 1];
  if (!q) return p.sensitivity;
  const t = (fp - p.fpPerScan) / (q.fpPerScan - p.fpPerScan);
  return p.sensitivity + t * (q.sensitivity - p.sensitivity);
}

export function froc(cases: readonly EvalCase[], options: FrocOptions = {}): FrocResult {
  const o = fillFrocOptions(options);
  const scans = cases.length;
  if (scans === 0) throw new CtscopeError('E_USAGE', 'FROC needs at least one scan');
  const lesions: { best: number; diameterMm: number | undefined; t: TruthLesion }[] = [];
  const scored: Scored[] = [];
  let findings = 0;
  cases.forEach((c, scan) => {
    const { best, bestDiameter, fpScores } = matchCase(c, o.minRadiusMm);
    c.truths.forEach((t, i) => lesions.push({ best: best[i]!, diameterMm: bestDiameter[i], t }));
    for (const s of fpScores) scored.push({ score: s, fp: true, scan });
    for (const b of best) if (b > -Infinity) scored.push({ score: b, fp: false, scan });
    findings += c.findings.length;
  });
  // Swept from the highest score down.
  scored.sort((a, b) => b.score - a.score);
  const n = lesions.length;
  const curve = sweep(scored, new Float64Array(scans).fill(1), scans, n);
  const sensitivities = o.fpRates.map((r) => ({ fpPerScan: r, sensitivity: sensitivityAt(curve, r) }));
  const cpm = mean(sensitivities.map((s) => s.sensitivity));
  const last = curve[curve.length - 1]!;

  const hitAt = (l: { best: number }): boolean => l.best >= o.threshold;
  const group = (name: string, members: { best: number }[]): GroupStat => {
    const hits = members.filter(hitAt).length;
    return { name, truths: members.length, hits, sensitivity: members.length ? hits / members.length : null };
  };
  const bySize = o.sizeBands.map((b, i) => {
    const isLast = i === o.sizeBands.length - 1;
    return group(`${b[0]}-${b[1]} mm`, lesions.filter((l) => l.t.diameterMm >= b[0] && (l.t.diameterMm < b[1] || (isLast && l.t.diameterMm === b[1]))));
  });
  // Lesions outside the bands get rows of their own, only where there are any (they were counted nowhere).
  const lo = o.sizeBands[0]?.[0], hi = o.sizeBands.at(-1)?.[1];
  if (lo !== undefined && hi !== undefined) {
    const under = lesions.filter((l) => l.t.diameterMm < lo), over = lesions.filter((l) => l.t.diameterMm > hi);
    if (under.length) bySize.unshift(group(`under ${lo} mm`, under));
    if (over.length) bySize.push(group(`over ${hi} mm`, over));
  }
  const types = [...new Set(lesions.map((l) => l.t.type ?? 'unspecified'))].sort();
  const byType = types.map((t) => group(t, lesions.filter((l) => (l.t.type ?? 'unspecified') === t)));
  const fpAt = scored.filter((s) => s.fp && s.score >= o.threshold).length;
  const errors = lesions.filter((l) => hitAt(l) && l.diameterMm !== undefined).map((l) => (l.diameterMm! - l.t.diameterMm) / l.t.diameterMm);
  const size: SizeAgreement | null = errors.length
    ? { lesions: errors.length, medianAbsError: median(errors.map(Math.abs)), medianError: median(errors), within25: errors.filter((e) => Math.abs(e) <= 0.25).length / errors.length }
    : null;
  return {
    scans,
    truths: n,
    findings,
    sensitivities,
    cpm,
    interval: bootstrap(scored, cases.map((c) => c.truths.length), o),
    maxSensitivity: last.sensitivity,
    fpPerScanAtMax: last.fpPerScan,
    curve,
    atThreshold: {
      threshold: o.threshold,
      sensitivity: n ? lesions.filter(hitAt).length / n : null,
      fpPerScan: fpAt / scans,
      bySize,
      byType,
      size,
    },
  };
}

const mean = (xs: readonly number[]): number => xs.reduce((a, x) => a + x, 0) / xs.length;

/**
 * The FROC curve of score-sorted events with scan `i` counted `weight[i]` times (all 1: the set as it is;
 * a bootstrap resample otherwise), over `scans` scans holding `lesions` lesions in all. A point per distinct
 * score (findings with equal scores enter together) where the counts moved.
 */
function sweep(scored: readonly Scored[], weight: Float64Array, scans: number, lesions: number): CurvePoint[] {
  const curve: CurvePoint[] = [{ threshold: Infinity, fpPerScan: 0, sensitivity: 0 }];
  let tp = 0, fp = 0, moved = false;
  for (let i = 0; i < scored.length; i++) {
    const s = scored[i]!;
    const w = weight[s.scan]!;
    if (s.fp) fp += w;
    else tp += w;
    moved ||= w > 0;
    if (i + 1 < scored.length && scored[i + 1]!.score === s.score) continue;
    if (moved) curve.push({ threshold: s.score, fpPerScan: fp / scans, sensitivity: lesions ? tp / lesions : 0 });
    moved = false;
  }
  return curve;
}

/**
 * Percentile bootstrap over scans: each resample draws the set's number of scans with replacement (from one
 * seeded stream, scan by scan, so the intervals are reproducible), and is swept like the set itself.
 */
function bootstrap(scored: readonly Scored[], lesionsPerScan: readonly number[], o: FilledFrocOptions): FrocInterval | null {
  const scans = lesionsPerScan.length;
  if (o.bootstrap === 0 || scans < 2) return null;
  const rng = new Rng(BOOTSTRAP_SEED);
  const weight = new Float64Array(scans);
  const cpms: number[] = [];
  const sens: number[][] = o.fpRates.map(() => []);
  for (let b = 0; b < o.bootstrap; b++) {
    weight.fill(0);
    for (let i = 0; i < scans; i++) weight[rng.int(0, scans - 1)]!++;
    let lesions = 0;
    for (let i = 0; i < scans; i++) lesions += weight[i]! * lesionsPerScan[i]!;
    if (lesions === 0) continue;
    const curve = sweep(scored, weight, scans, lesions);
    const at = o.fpRates.map((r) => sensitivityAt(curve, r));
    at.forEach((v, k) => sens[k]!.push(v));
    cpms.push(mean(at));
  }
  if (cpms.length === 0) return null;
  const ci = (xs: number[]): [number, number] => [quantile(xs, 0.025), quantile(xs, 0.975)];
  return { resamples: cpms.length, cpm: ci(cpms), sensitivities: sens.map(ci) };
}

/** Per-task evaluation settings (bands as in the issue; aneurysms hit within at least 2 mm). */
export const TASK_EVAL: Readonly<Record<'nodule' | 'aneurysm', { minRadiusMm: number; sizeBands: [number, number][] }>> = {
  nodule: { minRadiusMm: 0, sizeBands: [[3, 6], [6, 10], [10, 20], [20, 30]] },
  aneurysm: { minRadiusMm: 2, sizeBands: [[2, 3], [3, 7], [7, 15]] },
};
