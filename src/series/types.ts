import type { DicomInstance } from '../dicom/types.js';
import type { ErrorCode } from '../errors.js';
import type { Geometry, Vec3 } from '../volume/types.js';
import type { LayoutOptions } from './layout.js';

/** Stable names for the non-fatal problems a series can have; the message says the details. */
export type ProblemKind =
  | 'duplicate-slices'
  | 'missing-slices'
  | 'uneven-spacing'
  | 'gantry-tilt'
  | 'non-collinear'
  | 'pixel-spacing-varies'
  | 'no-pixel-spacing'
  | 'no-geometry'
  | 'no-position'
  | 'header-repaired'
  | 'saturated';

export interface SeriesProblem {
  kind: ProblemKind;
  message: string;
}

/** One slice of a series: a frame of an instance (frame 0 for single-frame images). */
export interface SliceRef {
  instance: DicomInstance;
  /** 0-based frame index within the instance. */
  frameIndex: number;
}

/** Slices in k order with the exact geometry measured from their positions. */
export interface SliceLayout {
  /** Slices in k order (ascending along the slice normal), duplicates removed. */
  slices: SliceRef[];
  geometry: Geometry;
  /** Unit normal of the image plane (row x column direction), LPS. */
  normal: Vec3;
  /** ImagePositionPatient of each slice in k order. */
  positions: Vec3[];
  /** Distance of each slice from the first along the normal, mm (offsets[0] = 0). */
  offsets: number[];
  /** Median distance between neighbouring slices along the normal (0 for one slice). */
  medianStep: number;
  uneven: boolean;
  /** Angle between the normal and the slice-to-slice vector, degrees (0 when orthogonal). */
  tiltDeg: number;
  problems: SeriesProblem[];
  /** The options it was laid out with (a volume that leaves out broken slices lays the rest out the same way). */
  options: LayoutOptions;
}

/** Why a series may not be the primary volume. `reject` never is; `demote` only when nothing better exists. */
export interface Verdict {
  rule: string;
  severity: 'reject' | 'demote';
  reason: string;
}

/** One series (or sub-series split by orientation, size or ImageType) of the indexed input. */
export interface SeriesEntry {
  /** Selectable id: the SeriesInstanceUID, or `<uid>.2`, `<uid>.3`... for further sub-series. */
  id: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  seriesNumber: number | undefined;
  modality: string;
  description: string | undefined;
  imageType: string[];
  sopClassUids: string[];
  rows: number;
  columns: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  transferSyntaxes: string[];
  /** Instances (files) of the sub-series, in source order. */
  instances: DicomInstance[];
  /** Frames over all instances (before duplicates are removed). */
  frameCount: number;
  /** Present when the slice geometry could be measured. */
  layout: SliceLayout | undefined;
  /** Why the geometry could not be measured, when `layout` is absent. */
  layoutError: string | undefined;
  verdicts: Verdict[];
  primary: boolean;
  /** Why it is (or is not) the primary volume. */
  reason: string;
}

/** A file that was not indexed, with the coded reason. */
export interface SkippedFile {
  path: string;
  code: ErrorCode;
  message: string;
  /**
   * The input named this file itself (an in-memory buffer, or a file path given on its own) rather than it
   * being found in a folder: a non-DICOM file there is worth a warning, one beside the images is not.
   */
  named?: boolean;
  /** A DICOM object that is no image (an SR, a DICOMDIR, a key object selection): expected in a study, not warned about. */
  notImage?: boolean;
}

/** Everything found in the input: series (primary first, then by series number), the choice, skipped files. */
export interface StudyIndex {
  series: SeriesEntry[];
  /** Id of the primary series, absent when no series qualifies. */
  primaryId: string | undefined;
  /** The rule that picked it, or why nothing was picked. */
  primaryReason: string;
  skipped: SkippedFile[];
  /** Number of input files (or buffers) looked at. */
  inputCount: number;
}
