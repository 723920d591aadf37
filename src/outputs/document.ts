/**
 * The findings document (findings.json, schemas/findings.schema.json) and the names it uses: what `detect`
 * returns and every output is written from. Outputs depend on it; it depends on nothing above inference.
 */
import type { Finding } from '../inference/findings.js';
import type { ModelTask, RefineCombine } from '../inference/manifest.js';
import type { Organ } from '../anatomy/region.js';
import type { Mat3, Vec3 } from '../volume/types.js';

/** Stages a detect run reports progress for, in the order they run. */
export type DetectStage = 'scan' | 'index' | 'decode' | 'resample' | 'infer' | 'outputs';
export const DETECT_STAGES: readonly DetectStage[] = ['scan', 'index', 'decode', 'resample', 'infer', 'outputs'];

/** Output files `detect` can write into `outDir`. */
export type OutputName = 'json' | 'sr' | 'report';
export const OUTPUT_NAMES: readonly OutputName[] = ['json', 'sr', 'report'];

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
  /** Findings were kept from this score up (the manifest's thresholds.score, or the run's scoreFloor), at most maxFindings. */
  scoreThreshold: number;
  maxFindings: number;
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

export const DISCLAIMER = 'Research software: synthetic phantoms only, not for clinical use. Findings are machine output that no clinician has reviewed.';
