import type { Geometry, Mat3, Vec3 } from '../volume/types.js';
import type { FilledSynthOptions, PatientPosition } from './options.js';
import type { Canvas } from './raster.js';

/**
 * Image row (i) and column (j) directions in LPS for each patient position (DICOM ImageOrientationPatient
 * of an axial scan). The scanner's display puts the table at the bottom, so prone flips both axes.
 */
const ORIENTATION: Record<PatientPosition, { row: Vec3; col: Vec3 }> = {
  HFS: { row: [1, 0, 0], col: [0, 1, 0] },
  FFS: { row: [-1, 0, 0], col: [0, 1, 0] },
  HFP: { row: [-1, 0, 0], col: [0, -1, 0] },
  FFP: { row: [1, 0, 0], col: [0, -1, 0] },
};

/** Geometry of the phantom grid whose centre voxel sits at `centre` (LPS mm). */
export function phantomGeometry(o: FilledSynthOptions, centre: Vec3): Geometry {
  const { row, col } = ORIENTATION[o.patientPosition];
  const kdir: Vec3 = [0, 0, o.sliceDirection];
  const dims: Vec3 = [o.cols, o.rows, o.slices];
  const [sx, sy, sz] = o.spacing;
  const hx = (dims[0] - 1) / 2, hy = (dims[1] - 1) / 2, hz = (dims[2] - 1) / 2;
  const origin: Vec3 = [0, 1, 2].map((a) => centre[a]! - row[a]! * sx * hx - col[a]! * sy * hy - kdir[a]! * sz * hz) as Vec3;
  const direction: Mat3 = [row[0], col[0], kdir[0], row[1], col[1], kdir[1], row[2], col[2], kdir[2]];
  return { dims, spacing: [sx, sy, sz], origin, direction };
}

/** A zero-filled canvas over an axis-aligned phantom geometry. */
export function makeCanvas(g: Geometry): Canvas {
  const [nx, ny, nz] = g.dims;
  const d = g.direction;
  const axis = (n: number, o: number, step: number): Float64Array => Float64Array.from({ length: n }, (_, i) => o + step * i);
  return {
    data: new Float32Array(nx * ny * nz),
    nx,
    ny,
    nz,
    X: axis(nx, g.origin[0], d[0] * g.spacing[0]),
    Y: axis(ny, g.origin[1], d[4] * g.spacing[1]),
    Z: axis(nz, g.origin[2], d[8] * g.spacing[2]),
    h: Math.min(g.spacing[0], g.spacing[1]),
  };
}
