import type { Geometry, Mat3, Vec3, Volume, VoxelArray } from '../volume/types.js';
import { voxelToLps } from '../volume/affine.js';
import { CtscopeError } from '../errors.js';
import type { PermutePlan } from './plan.js';
import { executePlan, type RunOptions } from './run.js';
import { checkVolume } from './resample.js';
import { voxelTypeOf } from './arrays.js';
import { runToEnd, runWithTurns } from '../io/turns.js';

export type AxisLetter = 'L' | 'R' | 'P' | 'A' | 'S' | 'I';
/**
 * An ITK-style orientation code: the direction toward which i, j and k increase, one letter per axis from
 * L/R, P/A and S/I, e.g. 'LPS' (DICOM, ITK), 'RAS' (NIfTI, MONAI), 'RAI', 'PIL'.
 */
export type Orientation = `${AxisLetter}${AxisLetter}${AxisLetter}`;

/** Per letter: the LPS world axis and the sign (+1 toward L/P/S). */
const LETTER: Readonly<Record<AxisLetter, [number, 1 | -1]>> = Object.freeze({ L: [0, 1], R: [0, -1], P: [1, 1], A: [1, -1], S: [2, 1], I: [2, -1] });
const CODE = /^(?=.*[LR])(?=.*[PA])(?=.*[SI])[LRPASI]{3}$/;

export function isOrientation(s: unknown): s is Orientation {
  return typeof s === 'string' && CODE.test(s);
}

/** Per output axis i, j, k: the LPS world axis it should follow and the sign. */
function targets(code: Orientation): ReadonlyArray<[number, 1 | -1]> {
  return [...code].map((c) => LETTER[c as AxisLetter]);
}

/**
 * The permutation and flips that bring a volume closest to `target`: each world axis takes the
 * source axis with the largest component on it (greedy over the largest entries, so it is a
 * permutation even for oblique data). No interpolation.
 */
export function orientationPlan(g: Geometry, target: Orientation): { plan: PermutePlan; geometry: Geometry } {
  const d = g.direction;
  const used = [false, false, false], taken = [false, false, false];
  const perm: number[] = [0, 0, 0];
  const flip = [false, false, false] as [boolean, boolean, boolean];
  const tgt = targets(target);
  for (let step = 0; step < 3; step++) {
    let best = -1, ba = 0, bc = 0;
    for (let a = 0; a < 3; a++) {
      if (taken[a]) continue;
      const row = tgt[a]![0];
      for (let c = 0; c < 3; c++) if (!used[c] && Math.abs(d[row * 3 + c]!) > best) (best = Math.abs(d[row * 3 + c]!)), (ba = a), (bc = c);
    }
    taken[ba] = true;
    used[bc] = true;
    perm[ba] = bc;
    flip[ba] = Math.sign(d[tgt[ba]![0] * 3 + bc]!) !== tgt[ba]![1];
  }
  const srcStart = [0, 0, 0] as Vec3;
  for (let a = 0; a < 3; a++) if (flip[a]) srcStart[perm[a]!] = g.dims[perm[a]!]! - 1;
  const direction = new Array<number>(9) as Mat3;
  for (let a = 0; a < 3; a++) for (let r = 0; r < 3; r++) direction[r * 3 + a] = (flip[a] ? -1 : 1) * d[r * 3 + perm[a]!]!;
  const geometry: Geometry = {
    dims: perm.map((c) => g.dims[c]!) as Vec3,
    spacing: perm.map((c) => g.spacing[c]!) as Vec3,
    origin: voxelToLps(g, srcStart),
    direction,
  };
  return { plan: { kind: 'permute', srcDims: [...g.dims] as Vec3, outDims: geometry.dims, perm: perm as Vec3, flip }, geometry };
}

/** Reorients by axis permutation and flips only: values are copied, geometry updated exactly. */
export async function reorient(volume: Volume, target: Orientation, options: RunOptions = {}): Promise<Volume> {
  if (!isOrientation(target)) throw new CtscopeError('E_USAGE', `Expected an orientation code such as LPS or RAS (one of L/R, P/A, S/I per axis) but received ${String(target)}`);
  checkVolume(volume);
  const { plan, geometry } = orientationPlan(volume.geometry, target);
  const data = await executePlan(volume.data, plan, voxelTypeOf(volume.data), options);
  return { data, geometry };
}

/**
 * Reverses a volume along the flagged axes in place: the flip-only case of reorienting (prone or feet-first
 * series into LPS), for a volume the caller owns. Needs no second volume, which matters when the first is large.
 */
export function flipInPlace(data: VoxelArray, dims: Vec3, flip: readonly [boolean, boolean, boolean]): void {
  runToEnd(flipping(data, dims, flip));
}

/** flipInPlace as steps (about one slice each) for runWithTurns: a whole CT volume takes tens of ms. */
export function* flipping(data: VoxelArray, dims: Vec3, flip: readonly [boolean, boolean, boolean]): Generator<void, void> {
  const [nx, ny, nz] = dims;
  const plane = nx * ny;
  if (flip[0]) {
    for (let row = 0; row < ny * nz; row++) {
      let a = row * nx, b = a + nx - 1;
      while (a < b) {
        const t = data[a]!;
        data[a++] = data[b]!;
        data[b--] = t;
      }
      if ((row + 1) % ny === 0) yield;
    }
  }
  function* swap(len: number, count: number, stride: number, base: (n: number) => number): Generator<void, void> {
    const tmp = data.slice(0, len);
    for (let n = 0; n < count; n++) {
      for (let q = 0; q < stride >> 1; q++) {
        const a = base(n) + q * len, b = base(n) + (stride - 1 - q) * len;
        tmp.set(data.subarray(a, a + len));
        data.copyWithin(a, b, b + len);
        data.set(tmp, b);
        if (len >= plane) yield;
      }
      if (len < plane) yield;
    }
  }
  if (flip[1]) yield* swap(nx, nz, ny, (k) => k * plane);
  if (flip[2]) yield* swap(plane, 1, nz, () => 0);
}

/**
 * Reorients a volume the caller owns and will not use again: flips happen in place; a permutation of axes
 * still needs a copy.
 */
export async function reorientOwned(volume: Volume, target: Orientation, options: RunOptions = {}): Promise<Volume> {
  const { plan, geometry } = orientationPlan(volume.geometry, target);
  if (plan.perm[0] !== 0 || plan.perm[1] !== 1 || plan.perm[2] !== 2) return reorient(volume, target, options);
  await runWithTurns(flipping(volume.data, volume.geometry.dims, plan.flip));
  return { data: volume.data, geometry };
}
