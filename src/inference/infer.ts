import { insideRegion, organRegion, type Organ, type OrganRegion } from '../anatomy/region.js';
import { CtscopeError } from '../errors.js';
import type { CtVolume, Geometry, Vec3, Volume } from '../volume/types.js';
import { boxToCandidate, decodeBoxes, nms3d, type Box3 } from '../postprocess/boxes.js';
import type { Candidate } from '../postprocess/candidate.js';
import { connectedComponents } from '../postprocess/components.js';
import { measureLesion, type LesionMeasurement, type MeasureSpec } from '../postprocess/measure.js';
import { peakSearch } from '../postprocess/peaks.js';
import { abortableTurns, runToEnd, runWithTurns } from '../io/turns.js';
import { modelSize, toFinding, type Finding } from './findings.js';
import type { FilledManifest } from './manifest.js';
import type { ModelPackage } from './model.js';
import { sessionPredictor } from './predictor.js';
import { channelTransforms } from './preprocess.js';
import { refineCandidates, type RefineStats } from './refine.js';
import { acquireRunner, type ModelRunner, type RunnerOptions } from './runner.js';
import { fillWindowOptions, patchSelection, runPatches, slidingWindow, type BatchStats, type LevelMask, type PatchMask, type Predictor, type WindowOptions } from './window.js';

export interface InferOptions extends RunnerOptions {
  /** Use this runner instead of the shared one for the package. */
  runner?: ModelRunner;
  /** Overrides of the manifest's window settings. */
  overlap?: number;
  tta?: 'none' | 'flip';
  /** Patches per window step; default the manifest's batch size. */
  batchSize?: number;
  /**
   * Skip patches outside a mask: 'body' (HU > -500); 'organ', the manifest's organ region where it has one and
   * the organ is found (else the body); a byte per voxel; or none (default). With 'organ', `detect` also drops
   * candidates outside the region (and `runModel` drops boxes outside it before their NMS).
   */
  mask?: 'body' | 'organ' | PatchMask | null;
  /** Refuse a volume whose spacing differs from the manifest's by more than 1% (default true). */
  checkSpacing?: boolean;
  signal?: AbortSignal;
  /** Sliding-window progress: patches done of the total (see WindowOptions.onPatches). */
  onPatches?: (done: number, total: number) => void;
}

export interface InferenceStats extends BatchStats {
  provider: string;
  /** session.run calls and their total time (measured in the inference worker). */
  runs: number;
  runMs: number;
  wallMs: number;
  /** The second stage, where the model has one. */
  refine?: RefineStats;
  /** Boxes dropped outside an organ region given as the mask, before NMS (box models). */
  boxesOutsideRegion?: number;
  /** The organ region, where the manifest names one and the 'organ' mask was asked for. */
  region?: RegionStats;
}

export interface RegionStats {
  organ: Organ;
  /** false: the organ was not found and the body mask was used instead. */
  found: boolean;
  volumeMl: number;
  gateMl: number;
  /** First-stage candidates (heatmap maxima after suppression, components, boxes) dropped outside the region, before the candidate count. */
  dropped: number;
  ms: number;
}

export type ModelOutput =
  | { kind: 'heatmap' | 'segmentation'; map: Float32Array; geometry: Geometry; stats: InferenceStats }
  | { kind: 'boxes'; boxes: Box3[]; geometry: Geometry; stats: InferenceStats };

/** HU above which a voxel counts as body for the 'body' mask. */
const BODY_HU = -500;

/**
 * The patch mask `InferOptions.mask` asks for, and for 'organ' the region that was looked for (null where the
 * manifest names none); where the organ is not found, the mask is the body's.
 */
async function resolveMask(volume: Volume, m: FilledManifest, mask: InferOptions['mask'], signal: AbortSignal | undefined): Promise<{ mask: PatchMask | undefined; region: OrganRegion | null }> {
  if (mask === 'organ') {
    const region = m.region ? await runWithTurns(organRegion(volume, m.region), abortableTurns(signal, 'inference')) : null;
    return { mask: region?.found ? region : bodyLevel(volume), region };
  }
  return { mask: mask === 'body' ? bodyLevel(volume) : mask ?? undefined, region: null };
}

/** The body mask read from the grid in place: a byte-per-voxel copy would live through the whole window run. */
function bodyLevel(volume: Volume): LevelMask {
  return { data: volume.data, above: BODY_HU };
}

export function bodyMask(data: ArrayLike<number>, level = BODY_HU): Uint8Array {
  const m = new Uint8Array(data.length);
  for (let v = 0; v < data.length; v++) m[v] = data[v]! > level ? 1 : 0;
  return m;
}

function checkInputs(volume: Volume, m: FilledManifest, runner: ModelRunner, check: boolean): void {
  const g = volume.geometry;
  if (volume.data.length !== g.dims[0] * g.dims[1] * g.dims[2]) throw new CtscopeError('E_GEOMETRY', `volume has ${volume.data.length} voxels, its dims say ${g.dims.join('x')}`);
  if (check && g.spacing.some((s, a) => Math.abs(s - m.input.spacing[a]!) > 0.01 * m.input.spacing[a]!)) {
    throw new CtscopeError('E_GEOMETRY', `volume spacing ${g.spacing.map((s) => s.toFixed(3)).join('x')} mm differs from model '${m.id}' spacing ${m.input.spacing.join('x')} mm: resample first`);
  }
  const input = m.input.name ? runner.inputs.find((i) => i.name === m.input.name) : runner.inputs[0];
  if (!input) throw new CtscopeError('E_MODEL', `model has no input named '${m.input.name}' (inputs: ${runner.inputs.map((i) => i.name).join(', ')})`);
  if (input.type !== m.input.dtype) throw new CtscopeError('E_MODEL', `model input '${input.name}' is ${input.type}, the manifest says ${m.input.dtype}`);
  const ch = input.shape[1];
  if (typeof ch === 'number' && ch !== m.input.channels.length) throw new CtscopeError('E_MODEL', `model input '${input.name}' takes ${ch} channels, the manifest lists ${m.input.channels.length}`);
  const spatial = m.input.layout === 'NCWHD' ? m.input.patchSize : [...m.input.patchSize].reverse();
  input.shape.slice(2).forEach((d, a) => {
    if (typeof d === 'number' && d !== spatial[a]) throw new CtscopeError('E_MODEL', `model input '${input.name}' has fixed shape [${input.shape.join(', ')}], which does not fit patch size ${m.input.patchSize.join('x')}`);
  });
  if (input.shape.length !== 5) throw new CtscopeError('E_MODEL', `model input '${input.name}' has ${input.shape.length} dimensions; 5 (N, C, spatial x3) expected`);
  checkOutputNames(m, runner);
}

/** The outputs the manifest names must exist: a wrong name was found only after the first batch (or, in a second stage, after the whole first). */
function checkOutputNames(m: FilledManifest, runner: ModelRunner): void {
  const named = m.output.kind === 'boxes' && m.output.boxes ? [m.output.boxes.scores, m.output.boxes.deltas] : m.output.name ? [m.output.name] : [];
  const missing = named.find((n) => !runner.outputs.some((o) => o.name === n));
  if (missing !== undefined) throw new CtscopeError('E_MODEL', `model '${m.id}' has no output named '${missing}' (outputs: ${runner.outputs.map((o) => o.name).join(', ')})`);
}

/** A second stage's session, made, held and checked (input and output names) before the first stage runs. */
async function refineRunner(pkg: ModelPackage, options: InferOptions): Promise<{ runner: ModelRunner; release: () => void }> {
  const held = await acquireRunner(pkg, options, options.signal);
  const m = pkg.manifest;
  try {
    if (m.input.name && !held.runner.inputs.some((i) => i.name === m.input.name)) {
      throw new CtscopeError('E_MODEL', `second stage '${m.file}' has no input named '${m.input.name}' (inputs: ${held.runner.inputs.map((i) => i.name).join(', ')})`);
    }
    checkOutputNames(m, held.runner);
  } catch (e) {
    held.release();
    throw e;
  }
  return held;
}

/**
 * Runs a model over a volume already on the model's grid (spacing of the manifest): sliding window with
 * blending for dense outputs, per-patch decoding plus global 3-D NMS for box outputs.
 */
export async function runModel(volume: Volume, pkg: ModelPackage, options: InferOptions = {}): Promise<ModelOutput> {
  const t0 = performance.now();
  const { runner, release } = options.runner ? { runner: options.runner, release: options.runner.hold() } : await acquireRunner(pkg, options, options.signal);
  try {
    return await runHeld(volume, pkg, runner, options, t0);
  } finally {
    release();
  }
}

async function runHeld(volume: Volume, pkg: ModelPackage, runner: ModelRunner, options: InferOptions, t0: number): Promise<ModelOutput> {
  const m = pkg.manifest;
  checkInputs(volume, m, runner, options.checkSpacing ?? true);
  const runsBefore = runner.stats.runs, msBefore = runner.stats.runMs;
  const dense = m.output.name || runner.outputs[0]!.name;
  const predictor: Predictor = sessionPredictor(runner, m, dense, options.tta ?? m.window.tta, options.signal ?? undefined);
  const { mask } = await resolveMask(volume, m, options.mask, options.signal);
  const region = mask && 'organ' in mask ? (mask as OrganRegion) : null;
  const w: WindowOptions = {
    patchSize: m.input.patchSize,
    overlap: options.overlap ?? m.window.overlap,
    blend: m.window.blend,
    sigmaScale: m.window.sigmaScale,
    margin: m.window.margin,
    batchSize: options.batchSize ?? m.input.batch.size,
    padHu: m.window.padHu,
    ...(mask ? { mask } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.onPatches ? { onPatches: options.onPatches } : {}),
  };
  const source = { data: volume.data, dims: volume.geometry.dims, transforms: channelTransforms(m.input.channels) };
  const finish = (s: BatchStats): InferenceStats => ({
    ...s,
    provider: runner.provider,
    runs: runner.stats.runs - runsBefore,
    runMs: runner.stats.runMs - msBefore,
    wallMs: performance.now() - t0,
  });
  if (m.output.kind !== 'boxes') {
    const { maps, stats } = await slidingWindow(source, w, predictor, dense, [m.output.channel]);
    return { kind: m.output.kind, map: maps[0]!, geometry: volume.geometry, stats: finish(stats) };
  }
  const spec = m.output.boxes!;
  const o = fillWindowOptions(w);
  const found: Box3[] = [];
  const stats = await runPatches(source, o, await runWithTurns(patchSelection(source.dims, o)), predictor, (patches, out) => {
    const scores = out[spec.scores], deltas = out[spec.deltas];
    if (patches.length === 0) return;
    if (!scores || !deltas) throw new CtscopeError('E_INFERENCE', `box model outputs '${spec.scores}' and '${spec.deltas}' expected, got ${Object.keys(out).join(', ')}`);
    const [, a, fd, fh, fw] = scores.dims as [number, number, number, number, number];
    if (a !== spec.anchors.length || deltas.dims[1] !== a * 6) throw new CtscopeError('E_INFERENCE', `box outputs have ${a} anchors and ${deltas.dims[1]} delta channels; the manifest lists ${spec.anchors.length} anchors`);
    const cells = fd * fh * fw;
    patches.forEach((p, n) => {
      const boxes = decodeBoxes(scores.data, deltas.data, [fw, fh, fd], { ...spec, threshold: m.thresholds.score }, p.start, n * a * cells, n * a * 6 * cells);
      // A box belongs to the patch whose valid region holds its centre, so overlaps do not double it.
      for (const b of boxes) if (b.center.every((c, ax) => c >= p.validLo[ax]! - 0.5 && c < p.validHi[ax]! - 0.5)) found.push(b);
    });
  });
  // Boxes outside the organ region go before NMS, so they neither suppress boxes inside it nor take their places.
  const inside = region ? found.filter((b) => insideRegion(region, b.center)) : found;
  const done = finish(stats);
  if (region) done.boxesOutsideRegion = found.length - inside.length;
  // With a size floor the cap comes after it (outputDecoding): small boxes must not take the places of larger ones.
  const cap = m.thresholds.minDiameterMm > 0 ? undefined : m.thresholds.maxFindings;
  return { kind: 'boxes', boxes: nms3d(inside, spec.nmsIou, cap), geometry: volume.geometry, stats: done };
}

/**
 * Model output to candidates in the model grid, with the manifest's decoding parameters. With a second
 * stage, these are the candidates it re-scores: its own floor and count, not the final threshold.
 */
export function decodeOutput(out: ModelOutput, m: FilledManifest, accept?: (c: Vec3) => boolean): Candidate[] {
  return runToEnd(outputDecoding(out, m, accept));
}

/**
 * decodeOutput as steps for runWithTurns (the peak search over a whole heatmap takes about 0.1 s). With
 * `accept`, only candidates at grid positions it accepts are kept, before the count limit.
 */
export function* outputDecoding(out: ModelOutput, m: FilledManifest, accept?: (c: Vec3) => boolean): Generator<void, Candidate[]> {
  if (m.refine) m = { ...m, thresholds: { ...m.thresholds, score: m.refine.candidateScore, maxFindings: m.refine.candidates } };
  const spacing: Vec3 = out.geometry.spacing;
  let candidates: Candidate[];
  if (out.kind === 'boxes') candidates = out.boxes.map(boxToCandidate);
  else if (out.kind === 'heatmap') {
    const peaks = { threshold: m.thresholds.score, spacing, minDistanceMm: m.output.heatmap.minDistanceMm, sizeLevel: m.output.heatmap.sizeLevel, maxPeaks: m.thresholds.maxFindings };
    candidates = yield* peakSearch({ data: out.map, dims: out.geometry.dims }, accept ? { ...peaks, accept: (i, j, k) => accept([i, j, k]) } : peaks);
  } else candidates = connectedComponents({ data: out.map, dims: out.geometry.dims }, { threshold: m.thresholds.score });
  // Where the size is measured on the image (manifest `measure`), minDiameterMm is compared with that, after it, and
  // the count limit then too, so that small components do not take the places of larger ones (peaks come capped).
  const later = sizeFilterAfterMeasuring(m, out);
  // The diameter the finding will report (a box's mean side, a region's equivalent sphere).
  const minDiameter = later ? 0 : m.thresholds.minDiameterMm;
  const kept = candidates.filter((c) => (minDiameter === 0 || modelSize(c, out.geometry).diameterMm >= minDiameter) && (out.kind !== 'segmentation' || !accept || accept(c.center)));
  return later && out.kind === 'segmentation' && !m.refine ? kept : kept.slice(0, m.thresholds.maxFindings);
}

function measuredSizes(m: FilledManifest, out: ModelOutput): MeasureSpec | null {
  return m.measure && out.kind !== 'boxes' ? m.measure : null;
}

function sizeFilterAfterMeasuring(m: FilledManifest, out: ModelOutput): boolean {
  return measuredSizes(m, out) !== null && m.thresholds.minDiameterMm > 0;
}

function* measuring(grid: Volume, candidates: readonly Candidate[], spec: MeasureSpec): Generator<void, (LesionMeasurement | null)[]> {
  const out: (LesionMeasurement | null)[] = [];
  for (const c of candidates) {
    out.push(measureLesion(grid, c.center, spec));
    yield;
  }
  return out;
}

export interface DetectResult {
  findings: Finding[];
  /** Which model produced them (for reports and provenance). */
  model: { id: string; version: string; task: FilledManifest['task']; licence: string };
  stats: InferenceStats;
}

/**
 * Model grid volume in, findings out: `volume` is the series resampled to the model's spacing, `original`
 * the CtVolume it came from (findings carry centres in its voxels and the SOPInstanceUID of its nearest slice).
 */
export async function detect(volume: Volume, original: CtVolume, pkg: ModelPackage, options: InferOptions = {}): Promise<DetectResult> {
  const m = pkg.manifest;
  const tRegion = performance.now();
  const { mask, region } = await resolveMask(volume, m, options.mask, options.signal);
  const regionMs = performance.now() - tRegion;
  // Held from here to the second stage's end: weights updated meanwhile retire this session only after it.
  const refine = m.refine && pkg.refine ? await refineRunner(pkg.refine, options) : null;
  try {
    return await detectHeld(volume, original, pkg, options, mask, region, regionMs, refine?.runner ?? null);
  } finally {
    refine?.release();
  }
}

async function detectHeld(
  volume: Volume,
  original: CtVolume,
  pkg: ModelPackage,
  options: InferOptions,
  mask: PatchMask | undefined,
  region: OrganRegion | null,
  regionMs: number,
  refineSession: ModelRunner | null,
): Promise<DetectResult> {
  const m = pkg.manifest;
  const out = await runModel(volume, pkg, { ...options, mask: mask ?? null });
  const label = m.labels[out.kind === 'boxes' ? 0 : Math.min(m.output.channel, m.labels.length - 1)] ?? m.task;
  // The host's event loop gets turns during the peak search (see runWithTurns).
  // Candidates outside the organ region are dropped before the candidate count, so they take no second-stage slot.
  let dropped = 0;
  const accept = region?.found ? (c: Vec3): boolean => insideRegion(region, c) || (dropped++, false) : undefined;
  let candidates = await runWithTurns(outputDecoding(out, m, accept));
  const stats: InferenceStats = { ...out.stats };
  if (region) {
    stats.region = { organ: region.organ, found: region.found, volumeMl: Math.round(region.volumeMl), gateMl: Math.round(region.gateMl), dropped: dropped + (out.stats.boxesOutsideRegion ?? 0), ms: Math.round(regionMs) };
    stats.wallMs += regionMs;
  }
  if (m.refine && pkg.refine && refineSession) {
    const r = await refineCandidates(volume, candidates, pkg.refine, m.refine, { runner: refineSession, signal: options.signal });
    const above = r.candidates.filter((c) => c.score >= m.thresholds.score);
    candidates = sizeFilterAfterMeasuring(m, out) ? above : above.slice(0, m.thresholds.maxFindings);
    stats.refine = r.stats;
    stats.wallMs += r.stats.ms;
  }
  // Sizes measured on the image, where the manifest asks: the grid the model saw, at each finding's centre
  // (1-2 ms each, so the host gets turns between them).
  const spec = measuredSizes(m, out);
  const sizes = spec ? await runWithTurns(measuring(volume, candidates, spec), abortableTurns(options.signal, 'inference')) : [];
  let findings = candidates.map((c, i) => toFinding(c, out.geometry, original, m.task, label, sizes[i]));
  if (sizeFilterAfterMeasuring(m, out)) findings = findings.filter((f) => f.diameterMm >= m.thresholds.minDiameterMm).slice(0, m.thresholds.maxFindings);
  return { findings, model: { id: m.id, version: m.version, task: m.task, licence: m.licence }, stats };
}
