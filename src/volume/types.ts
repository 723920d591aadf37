/**
 * The data model every stage after ingest works on.
 *
 * Conventions (the same as DICOM and ITK, not NIfTI):
 * - Patient coordinates are LPS millimetres: +x to the patient's Left, +y Posterior, +z Superior.
 * - Voxel index (i, j, k): i runs along a row (DICOM column index), j down the columns (row index),
 *   k across slices. Memory order is i fastest, then j, then k: `index = i + nx * (j + ny * k)`.
 * - `origin` is the LPS centre of voxel (0, 0, 0).
 */
/** Air in Hounsfield units: what padding, the space outside a field of view and a patch past the volume's edge read as. */
export const AIR_HU = -1024;

/** 2^30 voxels: 2 GiB as int16 (e.g. 512 x 512 x 4096), 4 GiB as float32. The default cap on a loaded series and on every grid made from one. */
export const DEFAULT_MAX_VOXELS = 2 ** 30;

export type Vec3 = [number, number, number];

/** 3x3 matrix, row-major: `m[r * 3 + c]`. */
export type Mat3 = [number, number, number, number, number, number, number, number, number];

/** 4x4 matrix, row-major: `m[r * 4 + c]`; the last row is [0, 0, 0, 1] for affines. */
export type Mat4 = number[];

export interface Geometry {
  /** Voxel counts along i, j, k. */
  dims: Vec3;
  /** Distance in mm between neighbouring voxel centres along i, j, k. */
  spacing: Vec3;
  /** LPS position (mm) of the centre of voxel (0, 0, 0). */
  origin: Vec3;
  /**
   * Unit vectors of the i, j and k axes in LPS, as the columns of a row-major 3x3 matrix
   * (`direction[r * 3 + c]` is component r of axis c). Columns i and j are the DICOM row and column
   * directions. Column k is the measured slice-to-slice direction: for gantry-tilted series it is not
   * orthogonal to i and j (the affine is sheared), which is exact, not an approximation.
   */
  direction: Mat3;
}

export type VoxelArray = Int16Array | Float32Array | Uint8Array;

export interface Volume<T extends VoxelArray = VoxelArray> {
  /** Voxel values in `index = i + nx * (j + ny * k)` order. CT volumes hold Hounsfield units. */
  data: T;
  geometry: Geometry;
}

/** Where a series' slices really are, when that differs from a uniform grid. */
export interface SliceGeometry {
  /** LPS ImagePositionPatient of each slice, in k order. */
  positions: Vec3[];
  /** Signed distance of each slice along the slice normal (mm), in k order. */
  offsets: number[];
  /** True when neighbouring offsets differ by more than the tolerance. */
  uneven: boolean;
}

/** A CT volume assembled from a DICOM series: HU values, exact geometry, and the link back to the images. */
export interface CtVolume extends Volume<Int16Array | Float32Array> {
  seriesInstanceUid: string;
  studyInstanceUid: string;
  /** SOPInstanceUID of every slice, in k order (for a multi-frame image: the same UID, see `frameNumbers`). */
  sliceUids: string[];
  /** 1-based frame number within its instance for each slice (1 for single-frame images). */
  frameNumbers: number[];
  /** InstanceNumber (0020,0013) of each slice's image, the number a PACS viewer shows; null where absent. */
  instanceNumbers: Array<number | null>;
  /** Slice positions as acquired (uneven spacing is kept here; the grid above uses their mean step). */
  slices: SliceGeometry;
  /** Gantry/detector tilt in degrees derived from the geometry (0 for orthogonal stacks). */
  tiltDeg: number;
  /** Non-fatal problems found while assembling (duplicates, gaps, uneven spacing, tilt...). */
  problems: string[];
}
