import type { Mat3, Vec3 } from '../volume/types.js';
import type { Canvas } from './raster.js';
import type { FilledSynthOptions, PatientPosition, SynthKind } from './options.js';

export type FindingType = 'solid' | 'part-solid' | 'ground-glass' | 'saccular';
export type FindingLocation = 'isolated' | 'juxta-pleural' | 'juxta-vascular' | 'bifurcation' | 'sidewall';

/** One lesion a detector should find. Centres are exact LPS mm of the drawn shape. */
export interface SynthFinding {
  kind: 'nodule' | 'aneurysm';
  centerLps: Vec3;
  diameterMm: number;
  type: FindingType;
  location: FindingLocation;
  shape: 'round' | 'irregular';
  /** HU the lesion was drawn with (before blur and noise); for part-solid, the ground-glass part. */
  hu: number;
  /** Anatomical site (lung lobe side, parent artery). */
  site: string;
}

/** Something lesion-like that is not a lesion: where a detector's false positives are expected. */
export interface HardNegative {
  kind: 'vessel-junction' | 'end-on-vessel' | 'loop' | 'tight-curve' | 'junction' | 'infundibulum' | 'calcification';
  centerLps: Vec3;
  sizeMm: number;
  site: string;
}

export interface SynthTruth {
  kind: SynthKind;
  seed: number;
  generatorVersion: string;
  series: {
    studyInstanceUid: string;
    seriesInstanceUid: string;
    frameOfReferenceUid: string;
    /** Voxel counts along i (columns), j (rows), k (slices, in InstanceNumber order). */
    dims: Vec3;
    spacing: Vec3;
    /** LPS centre of voxel (0,0,0) = ImagePositionPatient of instance 1. */
    origin: Vec3;
    direction: Mat3;
    patientPosition: PatientPosition;
    sliceThickness: number;
  };
  scanner: {
    noiseSd: number;
    blurSigmaMm: number;
    kernel: string;
    bitsStored: number;
    pixelRepresentation: 0 | 1;
    rescaleIntercept: number;
    outsideFovHu: number | null;
  };
  findings: SynthFinding[];
  hardNegatives: HardNegative[];
}

/** What a phantom's draw() planted. */
export interface Drawn {
  findings: SynthFinding[];
  hardNegatives: HardNegative[];
}

/** What a phantom kind contributes to a series. */
export interface Phantom {
  /** LPS point at the centre of the scanned grid. */
  centre: Vec3;
  bodyPart: string;
  description: string;
  window: { center: number; width: number };
  /**
   * Draws the anatomy and lesions; returns what was drawn and where. A generator that yields every few slices
   * of a shape (run it with runToEnd() from io/turns.ts), so a caller can pause between steps and stop.
   */
  draw(cv: Canvas): Generator<void, Drawn, void>;
}

export type PhantomFactory = (o: FilledSynthOptions) => Phantom;
