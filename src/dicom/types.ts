import type { Vec3 } from '../volume/types.js';

/** Where an instance's bytes come from. Paths are what the user gave; buffers are numbered. Never a tag value. */
export type SourceRef = string;

/** Geometry and rescale of one frame (single-frame images have exactly one). */
export interface FrameMeta {
  /** ImagePositionPatient (LPS mm) of the frame's first pixel, if present. */
  imagePositionPatient?: Vec3;
  /** ImageOrientationPatient as stored: row direction then column direction (LPS; near unit, checked by the slice layout). */
  imageOrientationPatient?: [number, number, number, number, number, number];
  /** PixelSpacing as stored: [row spacing (between rows, along j), column spacing (along i)] mm. */
  pixelSpacing?: [number, number];
  sliceThickness?: number;
  rescaleSlope: number;
  rescaleIntercept: number;
}

/** Byte range of one encoded frame inside the instance's bytes (encapsulated: may be several fragments). */
export interface FrameBytes {
  /** Absolute byte ranges [offset, length] into the instance's buffer, concatenated in order. */
  ranges: Array<[number, number]>;
}

/** Header of one DICOM instance: everything grouping, ordering and decoding need, parsed once. */
export interface DicomInstance {
  source: SourceRef;
  /** Total size of the instance's bytes. */
  byteLength: number;
  transferSyntaxUid: string;
  /** True when the file had a 128-byte preamble and DICM magic. */
  hasPreamble: boolean;
  /** True when group 0002 (File Meta) was present. */
  hasFileMeta: boolean;

  sopClassUid: string;
  sopInstanceUid: string;
  studyInstanceUid: string;
  seriesInstanceUid: string;
  seriesNumber?: number;
  instanceNumber?: number;
  acquisitionNumber?: number;
  modality: string;
  seriesDescription?: string;
  /** ImageType values, upper case (e.g. ['ORIGINAL', 'PRIMARY', 'AXIAL']). */
  imageType: string[];
  manufacturer?: string;
  /** (0018,1120) as stored, degrees; the geometry is the authority, this is for reporting. */
  gantryDetectorTilt?: number;
  convolutionKernel?: string;

  rows: number;
  columns: number;
  numberOfFrames: number;
  samplesPerPixel: number;
  photometricInterpretation: string;
  planarConfiguration: number;
  bitsAllocated: number;
  bitsStored: number;
  highBit: number;
  pixelRepresentation: 0 | 1;
  pixelPaddingValue?: number;
  pixelPaddingRangeLimit?: number;

  /** Per-frame geometry/rescale; functional groups for enhanced multi-frame, top level otherwise. */
  frames: FrameMeta[];
  /** Location of pixel data; absent for header-only instances (e.g. structured reports). */
  pixelData?: {
    encapsulated: boolean;
    /** Offset and length of the (7FE0,0010) value in the instance's bytes. */
    offset: number;
    length: number;
  };
  /** Recoverable oddities noticed while parsing (never patient data). */
  warnings: string[];
  /**
   * Offset of the first data set element after any preamble and File Meta. For Deflated syntax the
   * pixel data offsets index the buffer "bytes[0, dataSetOffset) + inflated data set" (see dicom/deflate.ts).
   */
  dataSetOffset?: number;
  /**
   * Extended Offset Table (7FE0,0001): for each frame, the offset of its fragment's item tag counted
   * like Basic Offset Table entries. Present only when it has one entry per frame.
   */
  extendedOffsets?: number[];
}

/**
 * Decoded stored values of one frame, after BitsStored masking and sign extension,
 * before rescale. Int32 covers every case (signed and unsigned up to 16 bits, 32-bit unsigned is rejected).
 */
export type StoredPixels = Int16Array | Uint16Array | Int32Array | Uint8Array;
