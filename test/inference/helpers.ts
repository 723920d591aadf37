import { fileURLToPath } from 'node:url';
import type { CtVolume, Geometry, Mat3, Vec3 } from '../../src/volume/types.js';
import { voxelToLps } from '../../src/volume/affine.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/models/', import.meta.url));
export const fixture = (id: string): string => `${FIXTURES}${id}`;

export function grid(dims: Vec3, spacing: Vec3 = [1, 1, 1], origin: Vec3 = [0, 0, 0], direction: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1]): Geometry {
  return { dims, spacing, origin, direction };
}

/** Air-like background with Gaussian blobs (peak +amplitude HU) centred at LPS points. */
export function renderBlobs(g: Geometry, centers: Vec3[], sigmaMm = 2.5, background = -800, amplitude = 1000): Float32Array {
  const [nx, ny, nz] = g.dims;
  const out = new Float32Array(nx * ny * nz).fill(background);
  for (let k = 0; k < nz; k++)
    for (let j = 0; j < ny; j++)
      for (let i = 0; i < nx; i++) {
        const p = voxelToLps(g, [i, j, k]);
        let v = 0;
        for (const c of centers) v += Math.exp(-((p[0] - c[0]) ** 2 + (p[1] - c[1]) ** 2 + (p[2] - c[2]) ** 2) / (2 * sigmaMm * sigmaMm));
        out[i + nx * (j + ny * k)] += amplitude * v;
      }
  return out;
}

/** A CtVolume shell for a geometry: slice UIDs '1.2.826.0.1.<k>' and acquired positions along k. */
export function ctVolume(g: Geometry, data?: Float32Array): CtVolume {
  const n = g.dims[2];
  const positions = Array.from({ length: n }, (_, k) => voxelToLps(g, [0, 0, k]));
  return {
    data: data ?? new Float32Array(g.dims[0] * g.dims[1] * g.dims[2]),
    geometry: g,
    seriesInstanceUid: '1.2.826.0.1.9',
    studyInstanceUid: '1.2.826.0.1.8',
    sliceUids: Array.from({ length: n }, (_, k) => `1.2.826.0.1.${k}`),
    frameNumbers: new Array<number>(n).fill(1),
    instanceNumbers: new Array<number | null>(n).fill(null),
    slices: { positions, offsets: positions.map((_, k) => k * g.spacing[2]), uneven: false },
    tiltDeg: 0,
    problems: [],
  };
}

/** Rotation matrix (row-major) from Euler angles in degrees, about x then y then z. */
export function rotation(ax: number, ay: number, az: number): Mat3 {
  const [a, b, c] = [ax, ay, az].map((d) => (d * Math.PI) / 180) as Vec3;
  const rx = [1, 0, 0, 0, Math.cos(a), -Math.sin(a), 0, Math.sin(a), Math.cos(a)];
  const ry = [Math.cos(b), 0, Math.sin(b), 0, 1, 0, -Math.sin(b), 0, Math.cos(b)];
  const rz = [Math.cos(c), -Math.sin(c), 0, Math.sin(c), Math.cos(c), 0, 0, 0, 1];
  const mul = (p: number[], q: number[]): number[] => Array.from({ length: 9 }, (_, n) => p[Math.floor(n / 3) * 3]! * q[n % 3]! + p[Math.floor(n / 3) * 3 + 1]! * q[3 + (n % 3)]! + p[Math.floor(n / 3) * 3 + 2]! * q[6 + (n % 3)]!);
  return mul(rz, mul(ry, rx)) as Mat3;
}
