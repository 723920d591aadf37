/**
 * Small kernels in hand-assembled WebAssembly (no toolchain needed at build time): a 4-wide SIMD
 * weighted sum of two float32 rows, a scalar gather-lerp along a row, and a T-tap gather. Used by the trilinear fast path
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

function build(): Uint8Array {
  return moduleBytes([
    { name: 'lerpRows', params: [T.i32, T.i32, T.i32, T.f32, T.f32, T.i32], results: [], body: lerpRowsBody() },
    { name: 'gatherLerp', params: [T.i32, T.i32, T.i32, T.i32, T.i32], results: [], body: gatherLerpBody() },
    { name: 'gatherTaps', params: [T.i32, T.i32, T.i32, T.i32, T.i32, T.i32], results: [], body: gatherTapsBody() },
  ]);
}

export interface WasmKernels {
  memory: WasmMemory;
  lerpRows(dst: number, a: number, b: number, w0: number, w1: number, n: number): void;
  gatherLerp(dst: number, row: number, idx: number, w: number, n: number): void;
  gatherTaps(dst: number, row: number, idx: number, w: number, n: number, taps: number): void;
}

/** A fresh instance (own memory) per call; undefined where WebAssembly SIMD is unavailable. */
export const instantiateKernels = kernelFactory<WasmKernels>(build);
