/**
 * Small kernels in hand-assembled WebAssembly (no toolchain needed at build time): a 4-wide SIMD
 * weighted sum of two float32 rows, a scalar gather-lerp along a row, a T-tap gather, and the int16
 * conversions in and out (so an int16 HU volume costs no per-voxel JS on either side). Used by the trilinear fast path
 * (separable-wasm.ts); the JS kernels remain the reference and the fallback.
 */

import { OP, SIMD, T, kernelFactory, memarg, moduleBytes, simd, vec, type WasmMemory } from '../wasm/assembler.js';

/** lerpRows(dst, a, b, w0, w1, n): dst[i] = w0 * a[i] + w1 * b[i] for n floats (n a multiple of 4). */
function lerpRowsBody(): number[] {
  // params: 0 dst, 1 a, 2 b, 3 w0, 4 w1, 5 n; locals: 6 i, 7 end (i32), 8 vw0, 9 vw1 (v128)
  const g = (i: number): number[] => [OP.localGet, i];
  return [
    ...vec([[2, T.i32], [2, T.v128]]),
    ...g(5), OP.i32Const, 2, OP.i32Shl, OP.localSet, 7,
    ...g(3), ...simd(SIMD.f32x4Splat), OP.localSet, 8,
    ...g(4), ...simd(SIMD.f32x4Splat), OP.localSet, 9,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(6), ...g(7), OP.i32GeU, OP.brIf, 1,
    ...g(0), ...g(6), OP.i32Add,
    ...g(1), ...g(6), OP.i32Add, ...simd(SIMD.v128Load), ...memarg(2), ...g(8), ...simd(SIMD.f32x4Mul),
    ...g(2), ...g(6), OP.i32Add, ...simd(SIMD.v128Load), ...memarg(2), ...g(9), ...simd(SIMD.f32x4Mul),
    ...simd(SIMD.f32x4Add),
    ...simd(SIMD.v128Store), ...memarg(2),
    ...g(6), OP.i32Const, 16, OP.i32Add, OP.localSet, 6,
    OP.br, 0,
    OP.end, OP.end, OP.end,
  ];
}

/** gatherLerp(dst, row, idx, w, n): q = idx[I]; dst[I] = row[q] + w[I] * (row[q + 1] - row[q]). */
function gatherLerpBody(): number[] {
  // params: 0 dst, 1 row, 2 idx, 3 w, 4 n; locals: 5 I, 6 end, 7 q (i32), 8 a (f32)
  const g = (i: number): number[] => [OP.localGet, i];
  return [
    ...vec([[3, T.i32], [1, T.f32]]),
    ...g(4), OP.i32Const, 2, OP.i32Shl, OP.localSet, 6,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(5), ...g(6), OP.i32GeU, OP.brIf, 1,
    ...g(1), ...g(2), ...g(5), OP.i32Add, OP.i32Load, ...memarg(2), OP.i32Const, 2, OP.i32Shl, OP.i32Add, OP.localSet, 7,
    ...g(0), ...g(5), OP.i32Add,
    ...g(7), OP.f32Load, ...memarg(2), OP.localTee, 8,
    ...g(3), ...g(5), OP.i32Add, OP.f32Load, ...memarg(2),
    ...g(7), OP.f32Load, ...memarg(2, 4), ...g(8), OP.f32Sub,
    OP.f32Mul, OP.f32Add,
    OP.f32Store, ...memarg(2),
    ...g(5), OP.i32Const, 4, OP.i32Add, OP.localSet, 5,
    OP.br, 0,
    OP.end, OP.end, OP.end,
  ];
}

/** gatherTaps(dst, row, idx, w, n, T): dst[I] = sum_t w[t * n + I] * row[idx[t * n + I]] (tap-major tables). */
function gatherTapsBody(): number[] {
  // params: 0 dst, 1 row, 2 idx, 3 w, 4 n, 5 T; locals: 6 I, 7 end, 8 t, 9 off (i32), 10 s (f32)
  const g = (i: number): number[] => [OP.localGet, i];
  return [
    ...vec([[4, T.i32], [1, T.f32]]),
    ...g(4), OP.i32Const, 2, OP.i32Shl, OP.localSet, 7,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(6), ...g(7), OP.i32GeU, OP.brIf, 1,
    OP.f32Const, 0, 0, 0, 0, OP.localSet, 10,
    OP.i32Const, 0, OP.localSet, 8,
    ...g(6), OP.localSet, 9,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(8), ...g(5), OP.i32GeU, OP.brIf, 1,
    ...g(10),
    ...g(3), ...g(9), OP.i32Add, OP.f32Load, ...memarg(2),
    ...g(1), ...g(2), ...g(9), OP.i32Add, OP.i32Load, ...memarg(2), OP.i32Const, 2, OP.i32Shl, OP.i32Add, OP.f32Load, ...memarg(2),
    OP.f32Mul, OP.f32Add, OP.localSet, 10,
    ...g(9), ...g(7), OP.i32Add, OP.localSet, 9,
    ...g(8), OP.i32Const, 1, OP.i32Add, OP.localSet, 8,
    OP.br, 0,
    OP.end, OP.end,
    ...g(0), ...g(6), OP.i32Add, ...g(10), OP.f32Store, ...memarg(2),
    ...g(6), OP.i32Const, 4, OP.i32Add, OP.localSet, 6,
    OP.br, 0,
    OP.end, OP.end, OP.end,
  ];
}

/** i16ToF32(dst, src, n): dst[i] = src[i] (int16 to float32), n a multiple of 8. */
function i16ToF32Body(): number[] {
  // params: 0 dst, 1 src, 2 n; locals: 3 i (src bytes), 4 end (i32), 5 v (v128)
  const g = (i: number): number[] => [OP.localGet, i];
  const dstAt = [...g(0), ...g(3), OP.i32Const, 1, OP.i32Shl, OP.i32Add];
  return [
    ...vec([[2, T.i32], [1, T.v128]]),
    ...g(2), OP.i32Const, 1, OP.i32Shl, OP.localSet, 4,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(3), ...g(4), OP.i32GeU, OP.brIf, 1,
    ...dstAt,
    ...g(1), ...g(3), OP.i32Add, ...simd(SIMD.v128Load), ...memarg(1), OP.localTee, 5,
    ...simd(SIMD.i32x4ExtendLowI16x8S), ...simd(SIMD.f32x4ConvertI32x4S), ...simd(SIMD.v128Store), ...memarg(2),
    ...dstAt,
    ...g(5), ...simd(SIMD.i32x4ExtendHighI16x8S), ...simd(SIMD.f32x4ConvertI32x4S), ...simd(SIMD.v128Store), ...memarg(2, 16),
    ...g(3), OP.i32Const, 16, OP.i32Add, OP.localSet, 3,
    OP.br, 0,
    OP.end, OP.end, OP.end,
  ];
}

/**
 * f32ToI16(dst, src, n): dst[i] = Math.round(src[i]) clamped to int16 (ties toward +infinity, NaN to 0, as
 * the JS emit loop and a store into an Int16Array do), n a multiple of 8. Math.round(x) is
 * floor(x) + (x - floor(x) >= 0.5), where the subtraction is exact; the saturating narrow clamps.
 */
function f32ToI16Body(): number[] {
  // params: 0 dst, 1 src, 2 n; locals: 3 i (src bytes), 4 end (i32), 5 half, 6 lo, 7 hi, 8 x, 9 f (v128)
  const g = (i: number): number[] => [OP.localGet, i];
  const round4 = (offset: number): number[] => [
    ...g(1), ...g(3), OP.i32Add, ...simd(SIMD.v128Load), ...memarg(2, offset), OP.localTee, 8,
    ...simd(SIMD.f32x4Floor), OP.localTee, 9,
    // Keep the truncation in int32 range (the narrow saturates to int16 anyway).
    ...g(6), ...simd(SIMD.f32x4Max), ...g(7), ...simd(SIMD.f32x4Min), ...simd(SIMD.i32x4TruncSatF32x4S),
    ...g(8), ...g(9), ...simd(SIMD.f32x4Sub), ...g(5), ...simd(SIMD.f32x4Ge), // -1 where the fraction is >= 0.5
    ...simd(SIMD.i32x4Sub),
  ];
  const f32c = (x: number): number[] => [OP.f32Const, ...new Uint8Array(new Float32Array([x]).buffer)];
  return [
    ...vec([[2, T.i32], [5, T.v128]]),
    ...g(2), OP.i32Const, 2, OP.i32Shl, OP.localSet, 4,
    ...f32c(0.5), ...simd(SIMD.f32x4Splat), OP.localSet, 5,
    ...f32c(-65536), ...simd(SIMD.f32x4Splat), OP.localSet, 6,
    ...f32c(65536), ...simd(SIMD.f32x4Splat), OP.localSet, 7,
    OP.block, 0x40, OP.loop, 0x40,
    ...g(3), ...g(4), OP.i32GeU, OP.brIf, 1,
    ...g(0), ...g(3), OP.i32Const, 1, OP.i32ShrU, OP.i32Add,
    ...round4(0), ...round4(16), ...simd(SIMD.i16x8NarrowI32x4S),
    ...simd(SIMD.v128Store), ...memarg(1),
    ...g(3), OP.i32Const, 32, OP.i32Add, OP.localSet, 3,
    OP.br, 0,
    OP.end, OP.end, OP.end,
  ];
}

function build(): Uint8Array {
  return moduleBytes([
    { name: 'lerpRows', params: [T.i32, T.i32, T.i32, T.f32, T.f32, T.i32], results: [], body: lerpRowsBody() },
    { name: 'gatherLerp', params: [T.i32, T.i32, T.i32, T.i32, T.i32], results: [], body: gatherLerpBody() },
    { name: 'gatherTaps', params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32], results: [], body: gatherTapsBody() },
    { name: 'i16ToF32', params: [T.i32, T.i32, T.i32], results: [], body: i16ToF32Body() },
    { name: 'f32ToI16', params: [T.i32, T.i32, T.i32], results: [], body: f32ToI16Body() },
  ]);
}

export interface WasmKernels {
  memory: WasmMemory;
  lerpRows(dst: number, a: number, b: number, w0: number, w1: number, n: number): void;
  gatherLerp(dst: number, row: number, idx: number, w: number, n: number): void;
  gatherTaps(dst: number, row: number, idx: number, w: number, n: number, taps: number): void;
  i16ToF32(dst: number, src: number, n: number): void;
  f32ToI16(dst: number, src: number, n: number): void;
}

/** A fresh instance (own memory) per call; undefined where WebAssembly SIMD is unavailable. */
export const instantiateKernels = kernelFactory<WasmKernels>(build);
