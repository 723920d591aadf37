import type { Finding } from '../inference/findings.js';
import type { EpRequest } from '../inference/providers.js';
import type { ModelTask, RefineCombine } from '../inference/manifest.js';
import type { Organ } from '../anatomy/region.js';
import type { Mat3, Vec3 } from '../volume/types.js';

/** Stages a detect run reports progress for, in the order they run. */
export type DetectStage = 'scan' | 'index' | 'decode' | 'resample' | 'infer' | 'outputs';
export const DETECT_STAGES: readonly DetectStage[] = ['scan', 'index', 'decode', 'resample', 'infer', 'outputs'];

export interface DetectProgress {
  stage: DetectStage;
  done: number;
  total: number;
  /** Model id for the per-model stages (resample, infer). */
  model?: string;
}

/** Output files `detect` can write into `outDir`. */
export type OutputName = 'json' | 'sr' | 'report';
export const OUTPUT_NAMES: readonly OutputName[] = ['json', 'sr', 'report'];

export interface DetectOptions {
  /** Model ids (bundled under models/<id>) or package folders, run one after another on the same series. */
  models: string | readonly string[];
  /** Execution provider (default 'auto'). */
  ep?: EpRequest | undefined;
  /** GPU index for cuda/tensorrt/dml (default 0). */
  deviceId?: number | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: DetectProgress) => void) | undefined;
  /** Receives informational lines (chosen provider...); never patient data. */
  onLog?: ((line: string) => void) | undefined;
  /** Series to analyse instead of the primary CT series. */
  seriesUid?: string | undefined;
  /** When set, outputs are written here (created if missing), each file atomically, findings.json last. */
  outDir?: string | undefined;
  /** Which outputs to write into `outDir` (default all). */
  outputs?: readonly OutputName[] | undefined;
  /** Also return the SR bytes when no `outDir` is given (a PACS plugin stores them itself). */
  sr?: boolean | undefined;
  /** Decode/resample worker threads (default: the shared pool's size). */
  threads?: number | undefined;
  /** Largest series accepted, in voxels (default 2^30, as loadSeries); larger is E_TOO_LARGE before decoding. */
  maxVoxels?: number | undefined;
  /** intraOpNumThreads for the model sessions (default: the runner's choice). */
  sessionThreads?: number | undefined;
  /** Folders searched for bundled model ids (default $CTSCOPE_MODELS, then the package's models/). */
  modelDirs?: readonly string[] | undefined;
  /** Skip patches outside the body (HU > -500); default true. */
  bodyMask?: boolean | undefined;
  /**
   * Where a model names an organ region (the nodule model: lungs), skip patches outside it and drop candidates
   * whose centre lies outside it; default true. Where the organ is not found, the body mask is used instead.
   * `bodyMask: false` turns both off.
   */
  organMask?: boolean | undefined;
}

export interface FilledDetectOptions {
  models: string[];
  ep: EpRequest;
  deviceId: number;
  signal: AbortSignal | undefined;
  onProgress: (p: DetectProgress) => void;
  onLog: (line: string) => void;
  seriesUid: string | undefined;
  outDir: string | undefined;
  outputs: OutputName[];
  sr: boolean;
  threads: number | undefined;
  maxVoxels: number | undefined;
  sessionThreads: number | undefined;
  modelDirs: string[] | undefined;
  bodyMask: boolean;
  organMask: boolean;
}

/** The series a findings document describes: only UIDs and geometry, never patient attributes. */
export interface SeriesInfo {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  /**
   * The id `--series` / `seriesUid` selects it by: the SeriesInstanceUID, or `<uid>.2`, `<uid>.3`... where one
   * UID holds several stacks (another orientation, size or image type) and a later one was analysed.
   */
  id: string;
  frameOfReferenceUid: string | null;
  modality: string;
  dims: Vec3;
  spacing: Vec3;
  origin: Vec3;
  direction: Mat3;
  tiltDeg: number;
}

export interface ModelInfo {
  id: string;
  version: string;
  sha256: string;
  task: ModelTask;
  labels: string[];
  description: string;
  licence: string;
  trainingData: string;
  /** Execution provider that ran it. */
  provider: string;
  /** Grid the model saw: spacing (mm) and dims after resampling. */
  spacing: Vec3;
  dims: Vec3;
  patches: number;
  /** The second stage, where the model has one: its file's sha256, candidates re-scored, final-score rule (and the first stage's weight under 'mean'). */
  refine?: { sha256: string; candidates: number; combine: RefineCombine; firstWeight?: number };
  /** The organ region that gated the model, where it has one: found or not (then the body mask was used), its volume, candidates dropped. */
  region?: { organ: Organ; found: boolean; volumeMl: number; dropped: number };
}

/** One finding as published in findings.json (schemas/findings.schema.json): a `Finding` plus its number and model. */
export interface FindingRecord extends Finding {
  /** 1-based number, also the key image number (key-<n>.png) and the SR tracking identifier. */
  n: number;
  model: string;
}

export interface StageTiming {
  stage: DetectStage;
  model?: string;
  ms: number;
}

/** The content of findings.json, schemaVersion 1. */
export interface FindingsDocument {
  schemaVersion: 1;
  generator: { name: 'ctscope'; version: string };
  createdAt: string;
  series: SeriesInfo;
  /** The first (usually the only) model of the run: id, version and sha256 of its ONNX file. */
  model: Pick<ModelInfo, 'id' | 'version' | 'sha256'>;
  /** Every model of the run, with its details, in the order they ran. */
  models: ModelInfo[];
  findings: FindingRecord[];
  timings: { stages: StageTiming[]; totalMs: number };
  warnings: string[];
  /** Files written beside findings.json (relative names), when written to a folder. */
  files: string[];
  /** UIDs of the DICOM SR made in this run (absent when none was made). */
  sr?: { sopInstanceUid: string; seriesInstanceUid: string };
  disclaimer: string;
}

/** What `detect` returns. */
export interface DetectOutcome {
  document: FindingsDocument;
  /** Absolute paths written (empty without outDir). */
  files: string[];
  /** The DICOM SR (Part 10 bytes) when `outDir` or `sr` was set. */
  sr?: Uint8Array;
}

export const DISCLAIMER = 'Research software: synthetic phantoms only, not for clinical use. Findings are machine output that no clinician has reviewed.';
