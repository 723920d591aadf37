import type { Canvas } from './raster.js';
import { Rng } from './rng.js';

export interface ScannerEffects {
  /** Target noise sd in HU after blurring. */
  noise: number;
  /** Gaussian sigma in voxels along i, j, k (reconstruction kernel in-plane, slice profile along k). */
  sigma: [number, number, number];
  /** Value (HU) outside the reconstruction circle, or null to keep the image there. */
  outsideFov: number | null;
}

function kernel(sigma: number): Float32Array {
  if (sigma < 0.05) return Float32Array.of(1);
  // 2.5 sigma keeps 99 % of the weight with fewer taps; the kernel is renormalised.
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = new Float32Array(2 * r + 1);
  let s = 0;
  for (let t = -r; t <= r; t++) s += k[t + r] = Math.exp((-0.5 * t * t) / (sigma * sigma));
  for (let t = 0; t < k.length; t++) k[t]! /= s;
  return k;
}

const sumSq = (k: Float32Array): number => k.reduce((a, v) => a + v * v, 0);

/**
 * Scanner model: white noise is added first and then blurred together with the anatomy, so the noise gets
 * the texture (correlation) of the reconstruction kernel and the slice profile, as in real CT. The white
 * noise is pre-scaled by the kernels' noise gain, so the final sd equals `noise`.
 */
export function applyScanner(cv: Canvas, fx: ScannerEffects, seed: number): void {
  const kx = kernel(fx.sigma[0]), ky = kernel(fx.sigma[1]), kz = kernel(fx.sigma[2]);
  const gain = Math.sqrt(sumSq(kx) * sumSq(ky) * sumSq(kz));
  inPlane(cv, kx, ky, fx.noise > 0 ? noiseSource(fx.noise / gain, seed) : null);
  blurZ(cv, kz);
  if (fx.outsideFov !== null) maskFov(cv, fx.outsideFov);
}

/** Gaussian noise from a seeded table indexed by xorshift32: about one add per voxel. */
interface NoiseSource {
  table: Float32Array;
  state: number;
}

function noiseSource(sd: number, seed: number): NoiseSource {
  const rng = Rng.derive(seed, 'noise');
  const table = new Float32Array(1 << 16);
  for (let t = 0; t < table.length; t++) table[t] = rng.normal(0, sd);
  return { table, state: rng.u32() | 1 };
}

/**
 * Noise, then the in-plane kernel, one slice at a time (the slice stays in cache): rows are blurred
 * along x into a scratch plane, which is blurred along y back into the volume. Kernels are symmetric,
 * so each tap pair costs one multiply.
 */
function inPlane(cv: Canvas, kx: Float32Array, ky: Float32Array, noise: NoiseSource | null): void {
  const { data, nx, ny, nz } = cv;
  const rx = (kx.length - 1) >> 1, ry = (ky.length - 1) >> 1;
  // Lines are padded by at least 3 so the unrolled 7-tap loop below never reads outside them.
  const pad = Math.max(rx, 3);
  const line = new Float32Array(nx + 2 * pad);
  const plane = new Float32Array(nx * ny);
  const table = noise?.table;
  let st = noise?.state ?? 1;
  // Noise is stronger at the centre of the field, where rays cross the most tissue: variance falls from
  // 1.3x at the centre to 0.7x at the edge of the reconstruction circle (mean 1 over the circle).
  const gainMap = new Float32Array(nx * ny);
  const cx = (nx - 1) / 2, cy = (ny - 1) / 2, R2 = (Math.min(nx, ny) / 2) ** 2;
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) gainMap[i + nx * j] = Math.sqrt(Math.max(0.5, 1.3 - (0.6 * ((i - cx) ** 2 + (j - cy) ** 2)) / R2));
  const k0 = kx[rx]!, k1 = kx[rx + 1] ?? 0, k2 = kx[rx + 2] ?? 0, k3 = kx[rx + 3] ?? 0;
  for (let z = 0; z < nz; z++) {
    const base = z * nx * ny;
    for (let j = 0; j < ny; j++) {
      const row = base + j * nx;
      if (table) {
        for (let i = 0; i < nx; i++) {
          st ^= st << 13;
          st ^= st >>> 17;
          st ^= st << 5;
          line[i + pad] = data[row + i]! + table[st >>> 16]! * gainMap[j * nx + i]!;
        }
      } else {
        for (let i = 0; i < nx; i++) line[i + pad] = data[row + i]!;
      }
      for (let t = 0; t < pad; t++) {
        line[t] = line[pad]!;
        line[nx + pad + t] = line[nx + pad - 1]!;
      }
      const out = j * nx;
      if (rx <= 3) {
        for (let i = 0; i < nx; i++) {
          const c = i + pad;
          plane[out + i] = k0 * line[c]! + k1 * (line[c - 1]! + line[c + 1]!) + k2 * (line[c - 2]! + line[c + 2]!) + k3 * (line[c - 3]! + line[c + 3]!);
        }
      } else {
        for (let i = 0; i < nx; i++) {
          const c = i + pad;
          let s = k0 * line[c]!;
          for (let t = 1; t <= rx; t++) s += kx[rx + t]! * (line[c - t]! + line[c + t]!);
          plane[out + i] = s;
        }
      }
    }
    if (ry === 0) {
      data.set(plane, base);
      continue;
    }
    const ky0 = ky[ry]!;
    for (let j = 0; j < ny; j++) {
      const out = base + j * nx, c = j * nx;
      for (let i = 0; i < nx; i++) data[out + i] = ky0 * plane[c + i]!;
      for (let t = 1; t <= ry; t++) {
        const up = Math.max(0, j - t) * nx, dn = Math.min(ny - 1, j + t) * nx, w = ky[ry + t]!;
        for (let i = 0; i < nx; i++) data[out + i]! += w * (plane[up + i]! + plane[dn + i]!);
      }
    }
  }
}

/** Slice-profile blur along k; originals of slices already overwritten wait in a ring of r planes. */
function blurZ(cv: Canvas, k: Float32Array): void {
  if (k.length === 1 || cv.nz === 1) return;
  const { data, nx, ny, nz } = cv;
  const r = (k.length - 1) >> 1;
  const n = nx * ny;
  const ring = Array.from({ length: r }, () => new Float32Array(n));
  const cur = new Float32Array(n);
  const src = (kk: number, z: number): Float32Array => {
    const c = Math.min(nz - 1, Math.max(0, kk));
    return c < z ? ring[c % r]! : data.subarray(c * n, c * n + n);
  };
  const k0 = k[r]!;
  for (let z = 0; z < nz; z++) {
    const here = data.subarray(z * n, z * n + n);
    for (let i = 0; i < n; i++) cur[i] = k0 * here[i]!;
    for (let t = 1; t <= r; t++) {
      const a = src(z - t, z), b = src(z + t, z), w = k[r + t]!;
      for (let i = 0; i < n; i++) cur[i]! += w * (a[i]! + b[i]!);
    }
    ring[z % r]!.set(here);
    here.set(cur);
  }
}

/** Voxels outside the inscribed reconstruction circle get a constant, as scanners write them. */
function maskFov(cv: Canvas, value: number): void {
  const { data, nx, ny, nz } = cv;
  const cx = (nx - 1) / 2, cy = (ny - 1) / 2, rr = (Math.min(nx, ny) / 2) ** 2;
  for (let j = 0; j < ny; j++) {
    const dy = j - cy;
    const half = rr - dy * dy;
    const span = half > 0 ? Math.sqrt(half) : -1;
    for (let z = 0; z < nz; z++) {
      const row = z * nx * ny + j * nx;
      for (let i = 0; i < nx; i++) if (Math.abs(i - cx) > span) data[row + i] = value;
    }
  }
}
