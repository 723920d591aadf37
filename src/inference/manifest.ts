import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Organ, RegionSpec } from '../anatomy/region.js';
import type { MeasureSpec } from '../postprocess/measure.js';
import { CtscopeError } from '../errors.js';
import { AIR_HU, type Vec3 } from '../volume/types.js';

/**
 * A model package's manifest (models/<id>/manifest.json), as written by its author. The JSON Schema in
 * models/schema/manifest.schema.json is the normative description; `FilledManifest` holds every default.
 */
export type ModelTask = 'nodule' | 'aneurysm' | 'other';
export type Normalisation = 'unit' | 'symmetric' | 'zscore' | 'none';
export type TensorLayout = 'NCDHW' | 'NCWHD';
export type ModelDtype = 'float32' | 'float16';
export type OutputKind = 'heatmap' | 'segmentation' | 'boxes';
export type Activation = 'none' | 'sigmoid' | 'softmax';

export interface ChannelSpec {
  /** HU range [low, high]; voxels are clipped to it. */
  window: [number, number];
  normalisation?: Normalisation;
  mean?: number;
  std?: number;
}

export interface BoxOutputSpec {
  scores: string;
  deltas: string;
  stride: Vec3;
  anchors: Vec3[];
  weights?: number[];
  anchorOffset?: Vec3;
  nmsIou?: number;
  maxDeltaLog?: number;
}

export interface ModelManifest {
  id: string;
  version: string;
  task: ModelTask;
  description?: string;
  licence: string;
  trainingData: string;
  file?: string;
  sha256: string;
  input: {
    name?: string;
    spacing: Vec3;
    orientation?: string;
    layout?: TensorLayout;
    patchSize: Vec3;
    channels: ChannelSpec[];
    dtype: ModelDtype;
    batch?: { size?: number; fixed?: boolean };
  };
  output: {
    kind: OutputKind;
    name?: string;
    activation?: Activation;
    channel?: number;
    heatmap?: { minDistanceMm?: number; sizeLevel?: number };
    boxes?: BoxOutputSpec;
  };
  window?: { overlap?: number; blend?: 'gaussian' | 'constant'; sigmaScale?: number; margin?: number; padHu?: number; tta?: 'none' | 'flip' };
  refine?: RefineSpec;
  /** Organ region: patches without it are skipped and candidates outside it dropped (see src/anatomy). */
  region?: { organ: Organ; closeMm?: number; marginMm?: number };
  /** Size of each finding measured on the image (see src/postprocess/measure.ts), not taken from the heatmap. */
  measure?: { method: 'half-max'; maxDiameterMm?: number; minContrastHu?: number };
  thresholds: { score: number; minDiameterMm?: number; maxFindings?: number };
  labels: string[];
}

/** How a candidate's final score comes from both stages' scores (see `RefineSpec.combine`). */
export type RefineCombine = 'refine' | 'geometric' | 'mean';
/** `RefineSpec.firstWeight` where the manifest gives none: both stages count alike. */
export const DEFAULT_FIRST_WEIGHT = 0.5;

/**
 * Second stage: a classifier, or another detector (models/cascade.py), that re-scores each first-stage candidate
 * from the cube of the grid around it.
 */
export interface RefineSpec {
  file: string;
  sha256: string;
  input?: string;
  output?: string;
  activation?: 'none' | 'sigmoid';
  /** Cube edge (grid voxels). */
  patchSize: number;
  /** First-stage candidates re-scored per scan, highest first. */
  candidates?: number;
  /** First-stage score a candidate needs to be re-scored. */
  candidateScore?: number;
  /**
   * Final score: the second stage's ('refine'), the geometric mean of both stages, or their weighted mean
   * ('mean', first stage weighted by `firstWeight`: the second stage can itself be a detector, so this is an
   * ensemble run only where the first stage found something).
   */
  combine?: RefineCombine;
  /** Weight of the first stage's score under combine 'mean' (0-1). */
  firstWeight?: number;
  batch?: number;
}

export type Filled<T> = { [K in keyof T]-?: T[K] };

export interface FilledChannelSpec extends Filled<ChannelSpec> {}
export interface FilledBoxOutputSpec extends Filled<BoxOutputSpec> {}
/** `input`/`output` are '' for the graph's first. */
export interface FilledRefineSpec extends Filled<RefineSpec> {}


export interface FilledManifest {
  id: string;
  version: string;
  task: ModelTask;
  description: string;
  licence: string;
  trainingData: string;
  file: string;
  sha256: string;
  input: {
    /** Empty string: the graph's first input. */
    name: string;
    spacing: Vec3;
    orientation: string;
    layout: TensorLayout;
    patchSize: Vec3;
    channels: FilledChannelSpec[];
    dtype: ModelDtype;
    batch: { size: number; fixed: boolean };
  };
  output: {
    kind: OutputKind;
    name: string;
    activation: Activation;
    channel: number;
    heatmap: { minDistanceMm: number; sizeLevel: number };
    boxes: FilledBoxOutputSpec | null;
  };
  window: { overlap: number; blend: 'gaussian' | 'constant'; sigmaScale: number; margin: number; padHu: number; tta: 'none' | 'flip' };
  refine: FilledRefineSpec | null;
  region: RegionSpec | null;
  measure: MeasureSpec | null;
  thresholds: { score: number; minDiameterMm: number; maxFindings: number };
  labels: string[];
}

const SCHEMA_URL = new URL('../../models/schema/manifest.schema.json', import.meta.url);
/** Written by manifest-validator-build.ts at build time (absent when running from src, as the tests do). */
export const PRECOMPILED_VALIDATOR_URL = new URL('./manifest-validator.cjs', import.meta.url);
export const AJV_OPTIONS = { allErrors: false, strict: true, strictRequired: false } as const;
let validator: ValidateFunction | undefined;

export function readManifestSchema(): { text: string; sha256: string } {
  const text = readFileSync(fileURLToPath(SCHEMA_URL), 'utf8');
  return { text, sha256: createHash('sha256').update(text).digest('hex') };
}

/**
 * The build's precompiled validator while it was made from this schema; else Ajv compiles one here (100-150 ms
 * on the caller's thread, once per process).
 */
function getValidator(): ValidateFunction {
  if (validator) return validator;
  const { text, sha256 } = readManifestSchema();
  const load = createRequire(import.meta.url);
  try {
    const built = load(fileURLToPath(PRECOMPILED_VALIDATOR_URL)) as ValidateFunction & { schemaSha256?: string };
    if (built.schemaSha256 === sha256) return (validator = built);
  } catch {
    // Not built (running from src): compile below.
  }
  const { Ajv } = load('ajv') as typeof import('ajv');
  return (validator = new Ajv(AJV_OPTIONS).compile(JSON.parse(text) as object));
}

/** `/input/patchSize/2` -> `input.patchSize[2]`: the field as a user would name it. */
function fieldPath(e: ErrorObject): string {
  const parts = e.instancePath.split('/').slice(1).map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  if (e.keyword === 'required') parts.push(String((e.params as { missingProperty: string }).missingProperty));
  if (e.keyword === 'additionalProperties') parts.push(String((e.params as { additionalProperty: string }).additionalProperty));
  let out = '';
  for (const p of parts) out += /^\d+$/.test(p) ? `[${p}]` : out ? `.${p}` : p;
  return out || '(root)';
}

function describe(e: ErrorObject): string {
  switch (e.keyword) {
    case 'required': return 'is required';
    case 'additionalProperties': return 'is not a known field';
    case 'enum': return `must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
    default: return e.message ?? 'is invalid';
  }
}

/** Checks a parsed manifest against the schema and the rules the schema cannot say; fills every default. */
export function validateManifest(raw: unknown, where?: string): FilledManifest {
  const validate = getValidator();
  if (!validate(raw)) {
    const e = validate.errors![0]!;
    const field = fieldPath(e);
    throw new CtscopeError('E_MANIFEST', `manifest field ${field} ${describe(e)}`, where !== undefined ? { where } : {});
  }
  const m = raw as ModelManifest;
  const bad = (field: string, why: string): never => {
    throw new CtscopeError('E_MANIFEST', `manifest field ${field} ${why}`, where !== undefined ? { where } : {});
  };
  m.input.channels.forEach((c, i) => {
    if (!(c.window[1] > c.window[0])) bad(`input.channels[${i}].window`, 'must be [low, high] with low < high');
    if (c.normalisation === 'zscore' && (c.mean === undefined || c.std === undefined)) bad(`input.channels[${i}]`, 'needs mean and std for zscore normalisation');
  });
  if (m.output.kind === 'boxes' && !m.output.boxes) bad('output.boxes', 'is required when output.kind is "boxes"');
  if (m.output.kind === 'boxes' && m.output.activation === 'softmax') bad('output.activation', 'must be "none" or "sigmoid" for box scores');
  if (m.refine && m.output.kind === 'boxes') bad('refine', 'applies to heatmap and segmentation outputs, not boxes');
  if (m.refine && m.refine.file === (m.file ?? 'model.onnx')) bad('refine.file', 'must name a different file than the first-stage model');
  const filled: FilledManifest = {
    id: m.id,
    version: m.version,
    task: m.task,
    description: m.description ?? '',
    licence: m.licence,
    trainingData: m.trainingData,
    file: m.file ?? 'model.onnx',
    sha256: m.sha256,
    input: {
      name: m.input.name ?? '',
      spacing: [...m.input.spacing],
      orientation: m.input.orientation ?? 'LPS',
      layout: m.input.layout ?? 'NCDHW',
      patchSize: [...m.input.patchSize],
      channels: m.input.channels.map((c) => ({ window: [c.window[0], c.window[1]], normalisation: c.normalisation ?? 'unit', mean: c.mean ?? 0, std: c.std ?? 1 })),
      dtype: m.input.dtype,
      batch: { size: m.input.batch?.size ?? 1, fixed: m.input.batch?.fixed ?? false },
    },
    output: {
      kind: m.output.kind,
      name: m.output.name ?? '',
      activation: m.output.activation ?? 'none',
      channel: m.output.channel ?? 0,
      heatmap: { minDistanceMm: m.output.heatmap?.minDistanceMm ?? 5, sizeLevel: m.output.heatmap?.sizeLevel ?? 0.5 },
      boxes: m.output.boxes
        ? {
            scores: m.output.boxes.scores,
            deltas: m.output.boxes.deltas,
            stride: [...m.output.boxes.stride],
            anchors: m.output.boxes.anchors.map((a) => [...a] as Vec3),
            weights: m.output.boxes.weights ?? [1, 1, 1, 1, 1, 1],
            anchorOffset: m.output.boxes.anchorOffset ?? (m.output.boxes.stride.map((s) => (s - 1) / 2) as Vec3),
            nmsIou: m.output.boxes.nmsIou ?? 0.1,
            maxDeltaLog: m.output.boxes.maxDeltaLog ?? Math.log(1000 / 16),
          }
        : null,
    },
    window: {
      overlap: m.window?.overlap ?? 0.25,
      blend: m.window?.blend ?? 'gaussian',
      sigmaScale: m.window?.sigmaScale ?? 0.125,
      margin: m.window?.margin ?? 0,
      padHu: m.window?.padHu ?? AIR_HU,
      tta: m.window?.tta ?? 'none',
    },
    refine: m.refine
      ? {
          file: m.refine.file,
          sha256: m.refine.sha256,
          input: m.refine.input ?? '',
          output: m.refine.output ?? '',
          activation: m.refine.activation ?? 'sigmoid',
          patchSize: m.refine.patchSize,
          candidates: m.refine.candidates ?? 200,
          candidateScore: m.refine.candidateScore ?? 0.02,
          combine: m.refine.combine ?? 'refine',
          firstWeight: m.refine.firstWeight ?? DEFAULT_FIRST_WEIGHT,
          batch: m.refine.batch ?? 32,
        }
      : null,
    region: m.region ? { organ: m.region.organ, closeMm: m.region.closeMm ?? 20, marginMm: m.region.marginMm ?? 6 } : null,
    measure: m.measure ? { maxDiameterMm: m.measure.maxDiameterMm ?? 40, minContrastHu: m.measure.minContrastHu ?? 100 } : null,
    thresholds: { score: m.thresholds.score, minDiameterMm: m.thresholds.minDiameterMm ?? 0, maxFindings: m.thresholds.maxFindings ?? 100 },
    labels: [...m.labels],
  };
  for (let a = 0; a < 3; a++) {
    if (2 * filled.window.margin >= filled.input.patchSize[a]) bad('window.margin', `must be less than half of input.patchSize[${a}]`);
  }
  return filled;
}

/** Reads and validates a manifest file. */
export function readManifest(path: string): FilledManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CtscopeError('E_MODEL', `cannot read model manifest: ${(e as Error).message}`, { cause: e, where: path });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new CtscopeError('E_MANIFEST', `manifest is not valid JSON: ${(e as Error).message}`, { cause: e, where: path });
  }
  return validateManifest(raw, path);
}
