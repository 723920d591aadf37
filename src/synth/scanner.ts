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
 * noise is pre-scaled by the kernels' noise gain, so the final sd equals `noise`. One slice at a time, yielding
 * after each so a caller can let its event loop run.
 */
export function* scannerSteps(cv: Canvas, fx: ScannerEffects, seed: number): Generator<void, void, void> {
  const kx = kernel(fx.sigma[0]), ky = kernel(fx.sigma[1]), kz = kernel(fx.sigma[2]);
  // One slice has no z blur (blurZ skips it), so its noise must not be scaled up for one (it came out at 1.8 x).
  const gain = Math.sqrt(sumSq(kx) * sumSq(ky) * (cv.nz > 1 ? sumSq(kz) : 1));
  yield* inPlane(cv, kx, ky, fx.noise > 0 ? noiseSource(fx.noise / gain, seed) : null);
  yield* blurZ(cv, kz);
  if (fx.outsideFov !== null) yield* maskFov(cv, fx.outsideFov);
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
 * so each tap pair costs one multiply. Yields after each slice; the work is in plain functions, which
 * V8 optimises as it always did (a hot loop inside a generator may not be).
 */
function* inPlane(cv: Canvas, kx: Float32Array, ky: Float32Array, noise: NoiseSource | null): Generator<void, void, void> {
  const { nx, ny, nz } = cv;
  const rx = (kx.length - 1) >> 1;
  // Lines are padded by at least 3 so the unrolled 7-tap loop below never reads outside them.
  const pad = Math.max(rx, 3);
  const line = new Float32Array(nx + 2 * pad);
  const plane = new Float32Array(nx * ny);
  // Noise is stronger at the centre of the field, where rays cross the most tissue: variance falls from
  // 1.3x at the centre to 0.7x at the edge of the reconstruction circle (mean 1 over the circle).
  const gainMap = new Float32Array(nx * ny);
  const cx = (nx - 1) / 2, cy = (ny - 1) / 2, R2 = (Math.min(nx, ny) / 2) ** 2;
  for (let j = 0; j < ny; j++)
    for (let i = 0; i < nx; i++) gainMap[i + nx * j] = Math.sqrt(Math.max(0.5, 1.3 - (0.6 * ((i - cx) ** 2 + (j - cy) ** 2)) / R2));
  // The xorshift state runs on from slice to slice.
  let st = noise?.state ?? 1;
  for (let z = 0; z < nz; z++) {
    st = inPlaneSlice(cv, z, kx, ky, noise?.table, st, gainMap, line, plane);
    yield;
  }
}

/** inPlane for slice z; returns the noise generator's state after it. */
function inPlaneSlice(
  cv: Canvas, z: number, kx: Float32Array, ky: Float32Array, table: Float32Array | undefined, st: number,
  gainMap: Float32Array, line: Float32Array, plane: Float32Array,
): number {
  const { data, nx, ny } = cv;
  const rx = (kx.length - 1) >> 1, ry = (ky.length - 1) >> 1;
  const pad = (line.length - nx) >> 1;
  const k0 = kx[rx]!, k1 = kx[rx + 1] ?? 0, k2 = kx[rx + 2] ?? 0, k3 = kx[rx + 3] ?? 0;
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
    return st;
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
  return st;
}

/** Slice-profile blur along k; originals of slices already overwritten wait in a ring of r planes. */
function* blurZ(cv: Canvas, k: Float32Array): Generator<void, void, void> {
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
  for (let z = 0; z < nz; z++) {
    blurZSlice(data.subarray(z * n, z * n + n), z, k, src, cur);
    ring[z % r]!.set(data.subarray(z * n, z * n + n));
    data.set(cur, z * n);
    yield;
  }
}

/** blurZ's weighted sum for slice z into `cur`. */
function blurZSlice(here: Float32Array, z: number, k: Float32Array, src: (kk: number, z: number) => Float32Array, cur: Float32Array): void {
  const r = (k.length - 1) >> 1, n = cur.length;
  const k0 = k[r]!;
  for (let i = 0; i < n; i++) cur[i] = k0 * here[i]!;
  for (let t = 1; t <= r; t++) {
    const a = src(z - t, z), b = src(z + t, z), w = k[r + t]!;
    for (let i = 0; i < n; i++) cur[i]! += w * (a[i]! + b[i]!);
  }
}

/** Voxels outside the inscribed reconstruction circle get a constant, as scanners write them. */
function* maskFov(cv: Canvas, value: number): Generator<void, void, void> {
  const { data, nx, ny, nz } = cv;
  const cx = (nx - 1) / 2, cy = (ny - 1) / 2, rr = (Math.min(nx, ny) / 2) ** 2;
  const spans = new Float64Array(ny);
  for (let j = 0; j < ny; j++) {
    const dy = j - cy;
    const half = rr - dy * dy;
    spans[j] = half > 0 ? Math.sqrt(half) : -1;
  }
  // Slice by slice (a constant is written, so the order does not matter), to yield between slices.
  for (let z = 0; z < nz; z++) {
    maskFovSlice(data, z * nx * ny, nx, ny, cx, spans, value);
    yield;
  }
}

function maskFovSlice(data: Float32Array, base: number, nx: number, ny: number, cx: number, spans: Float64Array, value: number): void {
  for (let j = 0; j < ny; j++) {
    const row = base + j * nx, span = spans[j]!;
    for (let i = 0; i < nx; i++) if (Math.abs(i - cx) > span) data[row + i] = value;
  }
}
