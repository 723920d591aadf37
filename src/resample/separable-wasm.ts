import type { VoxelArray } from '../volume/types.js';
import type { SeparablePlan, VoxelType } from './plan.js';
import { buildAxisTable, linearPositions, type AxisTable } from './tables.js';
import { instantiateKernels, type WasmKernels } from './wasm.js';
import { ensureMemory } from '../wasm/assembler.js';
import { INT_RANGE } from './arrays.js';
import { evict } from './cache.js';

/** One kernel instance per thread; its memory only grows. */
let kernels: WasmKernels | null | undefined;
const up4 = (n: number): number => (n + 3) & ~3;
const up8 = (n: number): number => (n + 7) & ~7;

/** Whether a plan can take the WebAssembly path: every kernel but nearest (which is a pure copy in JS). */
export function wasmApplicable(plan: SeparablePlan, _outType: VoxelType): boolean {
  return plan.interp !== 'nearest' && plan.interpZ !== 'nearest' && process.env.CTSCOPE_NO_WASM === undefined;
}

/**
 * Separable slab on WebAssembly: the same pass structure and cache as the JS kernel (separable.ts),
 * computed in float32 in the kernel's own memory; each source slice is copied in (converted to
 * float32) once, each output slice copied out once. Row and slice blends are 4-wide SIMD; the gather
 * along rows is scalar (2 taps: lerp; more: tap loop). Returns false when WebAssembly is not
 * available, so the caller falls back to JS.
 */
export function resampleSeparableSlabWasm(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: SeparablePlan, k0: number, k1: number): boolean {
  if (kernels === undefined) kernels = instantiateKernels() ?? null;
  const K = kernels;
  if (!K) return false;
  const [nx, ny, nz] = plan.srcDims;
  const [mx, my, mz] = plan.outDims;
  const plane = mx * my;
  const zt = buildAxisTable(plan.zPos, nz, plan.interpZ, plan.sigma[2]);
  const slots = zt.taps + 2;
  // Float offsets of each region (all multiples of 4 floats = 16 bytes).
  const S = 0;
  const ROW = S + up8(nx * ny + 8);
  const SLOT0 = ROW + up4(nx + 4);
  const planeStride = up4(plane);
  const OUT = SLOT0 + slots * planeStride;
  const xTaps = buildAxisTable([0], nx, plan.interp, plan.sigma[0]).taps;
  const TMP = OUT + planeStride; // scratch for blends of planes and of source rows
  const XI = TMP + Math.max(planeStride, up4(nx + 4));
  const XW = XI + up4(xTaps * mx);
  // int16 staging (counted in floats, 2 voxels each): a source slice on its way in, an output slice on its way out.
  const I16 = XW + up4(xTaps * mx);
  const i16In = src instanceof Int16Array;
  const i16Out = outType === 'int16';
  const total = (I16 + up4(Math.max(i16In ? nx * ny : 0, i16Out ? plane : 0) / 2 + 8)) * 4;
  ensureMemory(K.memory, total);
  const f32 = new Float32Array(K.memory.buffer);
  const i32 = new Int32Array(K.memory.buffer);
  const i16 = new Int16Array(K.memory.buffer);
  const fill = plan.fill;

  const shared = !plan.xShift;
  const xFor = (ks: number): AxisTable => buildAxisTable(linearPositions(mx, plan.x.start + (plan.xShift?.[ks] ?? 0), plan.x.step), nx, plan.interp, plan.sigma[0]);
  const yFor = (ks: number): AxisTable => buildAxisTable(linearPositions(my, plan.y.start + (plan.yShift?.[ks] ?? 0), plan.y.step), ny, plan.interp, plan.sigma[1]);
  const sharedY = plan.yShift ? undefined : yFor(0);
  let loadedX: AxisTable | undefined;
  const loadX = (xt: AxisTable): void => {
    if (loadedX === xt) return;
    i32.set(xt.idx, XI);
    // Two taps (linear): the lerp kernel reads only the second weight; otherwise all, tap-major.
    if (xt.taps === 2) for (let I = 0; I < mx; I++) f32[XW + I] = xt.w[mx + I]!;
    else f32.set(xt.w, XW);
    loadedX = xt;
  };
  const sharedX = shared ? xFor(0) : undefined;

  /**
   * dst = sum over taps t of w(t) * (row idx(t) of the slice at `base`), n floats: pairs through the SIMD
   * kernel. Rows are found from the table, not through a callback: a closure per row was 4 MB of garbage
   * per 300-slice resample.
   */
  const blendRows = (dst: number, tab: AxisTable, o: number, base: number, n: number): void => {
    const m = tab.m;
    for (let t = 0; t < tab.taps; t += 2) {
      const two = t + 1 < tab.taps;
      const w0 = tab.w[t * m + o]!;
      const w1 = two ? tab.w[(t + 1) * m + o]! : 0;
      const a = base + tab.idx[t * m + o]! * nx;
      const b = two ? base + tab.idx[(t + 1) * m + o]! * nx : a;
      if (t === 0) K.lerpRows(dst * 4, a * 4, b * 4, w0, w1, n);
      else {
        K.lerpRows(TMP * 4, a * 4, b * 4, w0, w1, n);
        K.lerpRows(dst * 4, dst * 4, TMP * 4, 1, 1, n);
      }
    }
  };

  const cache = new Map<number, number>(); // source slice -> slot
  const slotOf = (ks: number): number => {
    const hit = cache.get(ks);
    if (hit !== undefined) return hit;
    const slot = cache.size < slots ? cache.size : evict(cache, ks);
    computePlane(ks, SLOT0 + slot * planeStride);
    cache.set(ks, slot);
    return slot;
  };

  const computePlane = (ks: number, dst: number): void => {
    const xt = sharedX ?? xFor(ks);
    const yt = sharedY ?? yFor(ks);
    loadX(xt);
    const slice = src.subarray(ks * nx * ny, (ks + 1) * nx * ny);
    if (i16In) {
      // A plain copy, then the widening in SIMD (TypedArray.set converting element by element is slower).
      i16.set(slice as Int16Array, I16 * 2);
      K.i16ToF32(S * 4, I16 * 4, up8(nx * ny));
    } else f32.set(slice as never, S);
    const n4 = up4(nx);
    for (let J = 0; J < my; J++) {
      const d = dst + J * mx;
      if (yt.outside[J]) {
        f32.fill(fill, d, d + mx);
        continue;
      }
      blendRows(ROW, yt, J, S, n4);
      if (xt.taps === 2) K.gatherLerp(d * 4, ROW * 4, XI * 4, XW * 4, mx);
      else K.gatherTaps(d * 4, ROW * 4, XI * 4, XW * 4, mx, xt.taps);
      const ox = xt.outsideList;
      for (let q = 0; q < ox.length; q++) f32[d + ox[q]!] = fill;
    }
  };

  const pw = up4(plane);
  const tapT = new Int32Array(zt.taps);
  const tapS = new Int32Array(zt.taps);
  const range = INT_RANGE[outType];
  // Float output: a straight copy; integer output: round and clamp on the way out.
  const emit = (from: number, o: number): void => {
    if (!range) {
      out.set(f32.subarray(from, from + plane) as never, o);
      return;
    }
    if (i16Out) {
      K.f32ToI16(I16 * 4, from * 4, up8(plane));
      out.set(i16.subarray(I16 * 2, I16 * 2 + plane) as never, o);
      return;
    }
    const [lo, hi] = range;
    for (let v = 0; v < plane; v++) {
      const r = Math.round(f32[from + v]!);
      out[o + v] = r < lo ? lo : r > hi ? hi : r;
    }
  };
  for (let k = k0; k < k1; k++) {
    const o = k * plane;
    if (zt.outside[k]) {
      out.fill(fill, o, o + plane);
      continue;
    }
    // Only non-zero taps need their plane (and only they may evict from the cache).
    let n = 0;
    for (let t = 0; t < zt.taps; t++) if (zt.w[t * mz + k] !== 0) tapT[n++] = t;
    if (n === 1 && zt.w[tapT[0]! * mz + k] === 1) {
      emit(SLOT0 + slotOf(zt.idx[tapT[0]! * mz + k]!) * planeStride, o);
      continue;
    }
    for (let q = 0; q < n; q++) tapS[q] = SLOT0 + slotOf(zt.idx[tapT[q]! * mz + k]!) * planeStride;
    if (n === 0) f32.fill(0, OUT, OUT + plane);
    for (let q = 0; q < n; q += 2) {
      const w0 = zt.w[tapT[q]! * mz + k]!;
      const w1 = q + 1 < n ? zt.w[tapT[q + 1]! * mz + k]! : 0;
      const a = tapS[q]!, b = q + 1 < n ? tapS[q + 1]! : a;
      if (q === 0) K.lerpRows(OUT * 4, a * 4, b * 4, w0, w1, pw);
      else {
        K.lerpRows(TMP * 4, a * 4, b * 4, w0, w1, pw);
        K.lerpRows(OUT * 4, OUT * 4, TMP * 4, 1, 1, pw);
      }
    }
    emit(OUT, o);
  }
  return true;
}
