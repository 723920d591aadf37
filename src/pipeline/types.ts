import type { EpRequest } from '../inference/providers.js';
import type { DetectStage, FindingsDocument, OutputName } from '../outputs/document.js';

export interface DetectProgress {
  stage: DetectStage;
  done: number;
  total: number;
  /** Model id for the per-model stages (resample, infer). */
  model?: string;
}

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
  /**
   * Keep every finding down to this score (0-1), up to 200 per model, in place of each model's threshold and finding
   * cap: what a FROC curve needs (`ctscope eval --detect`). It replaces the threshold either way: a floor above a
   * model's threshold drops findings it would report. A two-stage model still re-scores only its `refine.candidates`
   * first-stage candidates above `refine.candidateScore`. Default: the models' own thresholds.
   */
  scoreFloor?: number | undefined;
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
  scoreFloor: number | undefined;
}

/** What `detect` returns. */
export interface DetectOutcome {
  document: FindingsDocument;
  /** Absolute paths written (empty without outDir). */
  files: string[];
  /** The DICOM SR (Part 10 bytes) when `outDir` or `sr` was set. */
  sr?: Uint8Array;
}
