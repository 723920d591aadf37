import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import dicomParser from 'dicom-parser';

/**
 * Reads a written phantom series back with dicom-parser (an independent reader), so tests check the
 * files rather than the writer's own idea of them. Geometry comes from IPP/IOP/PixelSpacing only.
 */
export interface ReadSeries {
  rows: number;
  cols: number;
  slices: number;
  /** HU after rescale, index i + cols * (j + rows * k) in file (InstanceNumber) order. */
  hu: Float32Array;
  ipp: [number, number, number][];
  row: [number, number, number];
  col: [number, number, number];
  /** [between columns (x), between rows (y)] */
  pixelSpacing: [number, number];
  tags: Record<string, string | number | undefined>;
}

export function readSeries(dir: string): ReadSeries {
  const files = readdirSync(dir).filter((f) => f.endsWith('.dcm'));
  const parsed = files.map((f) => {
    const bytes = new Uint8Array(readFileSync(join(dir, f)));
    return { bytes, ds: dicomParser.parseDicom(bytes) };
  });
  parsed.sort((a, b) => Number(a.ds.intString('x00200013')) - Number(b.ds.intString('x00200013')));
  const first = parsed[0]!.ds;
  const rows = first.uint16('x00280010')!, cols = first.uint16('x00280011')!;
  const iop = [0, 1, 2, 3, 4, 5].map((i) => first.floatString('x00200037', i)!);
  const ps = [first.floatString('x00280030', 0)!, first.floatString('x00280030', 1)!];
  const hu = new Float32Array(rows * cols * parsed.length);
  const ipp: [number, number, number][] = [];
  parsed.forEach(({ bytes, ds }, k) => {
    ipp.push([0, 1, 2].map((i) => ds.floatString('x00200032', i)!) as [number, number, number]);
    const slope = ds.floatString('x00281053') ?? 1, intercept = ds.floatString('x00281052') ?? 0;
    const signed = ds.uint16('x00280103') === 1;
    const el = ds.elements['x7fe00010']!;
    const buf = bytes.buffer.slice(bytes.byteOffset + el.dataOffset, bytes.byteOffset + el.dataOffset + el.length);
    const px = signed ? new Int16Array(buf) : new Uint16Array(buf);
    for (let i = 0; i < px.length; i++) hu[k * rows * cols + i] = px[i]! * slope + intercept;
  });
  return {
    rows,
    cols,
    slices: parsed.length,
    hu,
    ipp,
    row: [iop[0]!, iop[1]!, iop[2]!],
    col: [iop[3]!, iop[4]!, iop[5]!],
    pixelSpacing: [ps[1]!, ps[0]!],
    tags: {
      patientName: first.string('x00100010'),
      patientPosition: first.string('x00185100'),
      sopClass: first.string('x00080016'),
      transferSyntax: first.string('x00020010'),
      bitsStored: first.uint16('x00280101'),
      pixelRepresentation: first.uint16('x00280103'),
      intercept: first.floatString('x00281052'),
      modality: first.string('x00080060'),
      seriesUid: first.string('x0020000e'),
      studyUid: first.string('x0020000d'),
    },
  };
}

/** LPS -> continuous voxel index (i, j, k) from the files' own geometry (slices assumed evenly spaced). */
export function lpsToIndex(s: ReadSeries, p: readonly number[]): [number, number, number] {
  const o = s.ipp[0]!;
  const kStep = s.slices > 1 ? s.ipp[1]!.map((v, a) => v - o[a]!) : [0, 0, 1];
  // Solve o + i*sx*row + j*sy*col + k*kStep = p (3x3 system).
  const m = [0, 1, 2].map((a) => [s.row[a]! * s.pixelSpacing[0], s.col[a]! * s.pixelSpacing[1], kStep[a]!]);
  const b = [0, 1, 2].map((a) => p[a]! - o[a]!);
  const det = (q: number[][]): number =>
    q[0]![0]! * (q[1]![1]! * q[2]![2]! - q[1]![2]! * q[2]![1]!) - q[0]![1]! * (q[1]![0]! * q[2]![2]! - q[1]![2]! * q[2]![0]!) + q[0]![2]! * (q[1]![0]! * q[2]![1]! - q[1]![1]! * q[2]![0]!);
  const d = det(m);
  const solve = (c: number): number => det(m.map((r, a) => r.map((v, cc) => (cc === c ? b[a]! : v))));
  return [solve(0) / d, solve(1) / d, solve(2) / d];
}

/** Voxel index -> LPS from the files' geometry. */
export function indexToLps(s: ReadSeries, ijk: readonly number[]): [number, number, number] {
  const o = s.ipp[0]!;
  const kStep = s.slices > 1 ? s.ipp[1]!.map((v, a) => v - o[a]!) : [0, 0, 1];
  return [0, 1, 2].map((a) => o[a]! + ijk[0]! * s.pixelSpacing[0] * s.row[a]! + ijk[1]! * s.pixelSpacing[1] * s.col[a]! + ijk[2]! * kStep[a]!) as [number, number, number];
}
