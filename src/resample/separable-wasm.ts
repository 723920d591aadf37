import type { VoxelArray } from '../volume/types.js';
import type { SeparablePlan, VoxelType } from './plan.js';
import { buildAxisTable, inPlaneTable, type AxisTable } from './tables.js';
import { instantiateKernels, type WasmKernels } from './wasm.js';
import { ensureMemory } from '../wasm/assembler.js';
import { INT_RANGE, storedFill } from './arrays.js';
import { evict } from './cache.js';
import type { SliceClaims } from './claims.js';

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
export function resampleSeparableSlabWasm(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: SeparablePlan, claims: SliceClaims): boolean {
  if (kernels === undefined) kernels = instantiateKernels() ?? null;
  if (!kernels) return false;
  slab ??= new WasmSlab(kernels);
  slab.run(src, out, outType, plan, claims);
  return true;
}

const NO_VOXELS = new Float32Array(0);
const NO_TABLE = buildAxisTable([], 1, 'linear');

/**
 * The thread's one slab state, set up per call and emptied after it. Kept, not made per call: V8's
 * optimized code checks an object's hidden class, and a class only stays alive while some object
 * has it. Per-call state objects (or closures) all died at a worker's idle GC (which it runs to let go
 * of shared volumes), the optimized blend and plane code was thrown away with their classes, and the
 * next resample ran in the interpreter while it was optimized again on a background thread, taking
 * the other worker's core (the 2-worker run after an idle pause took 45-50 ms instead of 35-38).
 */
let slab: WasmSlab | undefined;

class WasmSlab {
  private src: VoxelArray = NO_VOXELS;
  private out: VoxelArray = NO_VOXELS;
  private plan: SeparablePlan | undefined;
  private nx = 0;
  private ny = 0;
  private mx = 0;
  private my = 0;
  private mz = 0;
  private plane = 0;
  private fill = 0;
  /** The fill as stored in the output type (rounded and clamped for integers). */
  private outFill = 0;
  private zt: AxisTable = NO_TABLE;
  private slots = 0;
  private planeStride = 0;
  // Float offsets of each region in the kernel memory (all multiples of 4 floats = 16 bytes).
  private readonly S = 0;
  private ROW = 0;
  private SLOT0 = 0;
  private OUT = 0;
  private TMP = 0;
  private XI = 0;
  private XW = 0;
  private I16 = 0;
  private i16In = false;
  private i16Out = false;
  private intRange: readonly [number, number] | undefined;
  private f32: Float32Array;
  private i32: Int32Array;
  private i16: Int16Array;
  private sharedX: AxisTable = NO_TABLE;
  private sharedY: AxisTable = NO_TABLE;
  private loadedX: AxisTable = NO_TABLE;
  /** Source slice -> cache slot. */
  private readonly cache = new Map<number, number>();

  constructor(private readonly K: WasmKernels) {
    this.f32 = new Float32Array(K.memory.buffer);
    this.i32 = new Int32Array(K.memory.buffer);
    this.i16 = new Int16Array(K.memory.buffer);
  }

  run(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: SeparablePlan, claims: SliceClaims): void {
    try {
      this.setUp(src, out, outType, plan);
      this.loop(claims);
    } finally {
      // Let go of the shared volumes and the plan; the state object itself stays.
      this.src = NO_VOXELS;
      this.out = NO_VOXELS;
      this.plan = undefined;
      this.zt = this.sharedX = this.sharedY = this.loadedX = NO_TABLE;
      this.cache.clear();
    }
  }

  private setUp(src: VoxelArray, out: VoxelArray, outType: VoxelType, plan: SeparablePlan): void {
    const [nx, ny, nz] = plan.srcDims;
    const [mx, my, mz] = plan.outDims;
    this.src = src;
    this.out = out;
    this.plan = plan;
    this.nx = nx;
    this.ny = ny;
    this.mx = mx;
    this.my = my;
    this.mz = mz;
    this.plane = mx * my;
    this.fill = plan.fill;
    this.outFill = storedFill(plan.fill, outType);
    this.zt = buildAxisTable(plan.zPos, nz, plan.interpZ, plan.sigma[2]);
    this.slots = this.zt.taps + 2;
    this.ROW = this.S + up8(nx * ny + 8);
    this.SLOT0 = this.ROW + up4(nx + 4);
    this.planeStride = up4(this.plane);
    this.OUT = this.SLOT0 + this.slots * this.planeStride;
    const xTaps = buildAxisTable([0], nx, plan.interp, plan.sigma[0]).taps;
    this.TMP = this.OUT + this.planeStride; // scratch for blends of planes and of source rows
    this.XI = this.TMP + Math.max(this.planeStride, up4(nx + 4));
    this.XW = this.XI + up4(xTaps * mx);
    // int16 staging (counted in floats, 2 voxels each): a source slice on its way in, an output slice on its way out.
    this.I16 = this.XW + up4(xTaps * mx);
    this.i16In = src instanceof Int16Array;
    this.i16Out = outType === 'int16';
    this.intRange = INT_RANGE[outType];
    const total = (this.I16 + up4(Math.max(this.i16In ? nx * ny : 0, this.i16Out ? this.plane : 0) / 2 + 8)) * 4;
    ensureMemory(this.K.memory, total);
    if (this.f32.buffer !== this.K.memory.buffer) {
      this.f32 = new Float32Array(this.K.memory.buffer);
      this.i32 = new Int32Array(this.K.memory.buffer);
      this.i16 = new Int16Array(this.K.memory.buffer);
    }
    this.loadedX = NO_TABLE;
    this.sharedX = plan.xShift ? NO_TABLE : inPlaneTable(plan, 'x', 0);
    this.sharedY = plan.yShift ? NO_TABLE : inPlaneTable(plan, 'y', 0);
  }

  private loadX(xt: AxisTable): void {
    if (this.loadedX === xt) return;
    this.i32.set(xt.idx, this.XI);
    // Two taps (linear): the lerp kernel reads only the second weight; otherwise all, tap-major.
    if (xt.taps === 2) for (let I = 0; I < this.mx; I++) this.f32[this.XW + I] = xt.w[this.mx + I]!;
    else this.f32.set(xt.w, this.XW);
    this.loadedX = xt;
  }

  /** dst = sum over taps t of w(t) * (row idx(t) of the slice at `base`), n floats: pairs through the SIMD kernel. */
  private blendRows(dst: number, tab: AxisTable, o: number, base: number, n: number): void {
    const { K, nx, TMP } = this;
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
  }

  private slotOf(ks: number): number {
    const hit = this.cache.get(ks);
    if (hit !== undefined) return hit;
    const slot = this.cache.size < this.slots ? this.cache.size : evict(this.cache, ks);
    this.computePlane(ks, this.SLOT0 + slot * this.planeStride);
    this.cache.set(ks, slot);
    return slot;
  }

  /** Source slice `ks` resampled in-plane into the float plane at `dst`. */
  private computePlane(ks: number, dst: number): void {
    const { K, nx, ny, mx, my, f32, S, ROW, XI, XW, fill } = this;
    const xt = this.sharedX !== NO_TABLE ? this.sharedX : inPlaneTable(this.plan!, 'x', ks);
    const yt = this.sharedY !== NO_TABLE ? this.sharedY : inPlaneTable(this.plan!, 'y', ks);
    this.loadX(xt);
    const slice = this.src.subarray(ks * nx * ny, (ks + 1) * nx * ny);
    if (this.i16In) {
      // A plain copy, then the widening in SIMD (TypedArray.set converting element by element is slower).
      this.i16.set(slice as Int16Array, this.I16 * 2);
      K.i16ToF32(S * 4, this.I16 * 4, up8(nx * ny));
    } else f32.set(slice as never, S);
    const n4 = up4(nx);
    for (let J = 0; J < my; J++) {
      const d = dst + J * mx;
      if (yt.outside[J]) {
        f32.fill(fill, d, d + mx);
        continue;
      }
      this.blendRows(ROW, yt, J, S, n4);
      if (xt.taps === 2) K.gatherLerp(d * 4, ROW * 4, XI * 4, XW * 4, mx);
      else K.gatherTaps(d * 4, ROW * 4, XI * 4, XW * 4, mx, xt.taps);
      const ox = xt.outsideList;
      for (let q = 0; q < ox.length; q++) f32[d + ox[q]!] = fill;
    }
  }

  /** The float plane at `from` into output slice offset `o`: a straight copy, or rounded and clamped to an integer type. */
  private emit(from: number, o: number): void {
    const { out, f32, plane } = this;
    const range = this.intRange;
    if (!range) {
      out.set(f32.subarray(from, from + plane) as never, o);
      return;
    }
    if (this.i16Out) {
      this.K.f32ToI16(this.I16 * 4, from * 4, up8(plane));
      out.set(this.i16.subarray(this.I16 * 2, this.I16 * 2 + plane) as never, o);
      return;
    }
    const [lo, hi] = range;
    for (let v = 0; v < plane; v++) {
      const r = Math.round(f32[from + v]!);
      out[o + v] = r < lo ? lo : r > hi ? hi : r;
    }
  }

  private loop(claims: SliceClaims): void {
    const { K, zt, mz, plane, f32, OUT, TMP, SLOT0, planeStride } = this;
    const pw = up4(plane);
    const tapT = new Int32Array(zt.taps);
    const tapS = new Int32Array(zt.taps);
    for (let k = claims.next(); k >= 0; k = claims.next()) {
      const o = k * plane;
      if (zt.outside[k]) {
        this.out.fill(this.outFill, o, o + plane);
        continue;
      }
      // Only non-zero taps need their plane (and only they may evict from the cache).
      let n = 0;
      for (let t = 0; t < zt.taps; t++) if (zt.w[t * mz + k] !== 0) tapT[n++] = t;
      if (n === 1 && zt.w[tapT[0]! * mz + k] === 1) {
        this.emit(SLOT0 + this.slotOf(zt.idx[tapT[0]! * mz + k]!) * planeStride, o);
        continue;
      }
      for (let q = 0; q < n; q++) tapS[q] = SLOT0 + this.slotOf(zt.idx[tapT[q]! * mz + k]!) * planeStride;
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
      this.emit(OUT, o);
    }
  }
}
