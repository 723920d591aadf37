/**
 * Small kernels in hand-assembled WebAssembly (no toolchain needed at build time): a 4-wide SIMD
 * weighted sum of two float32 rows, a scalar gather-lerp along a row, and a T-tap gather. Used by the trilinear fast path
 * (separable-wasm.ts); the JS kernels remain the reference and the fallback.
 */

/** The slice of the WebAssembly JS API used here (the project's lib settings carry no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

// Opcodes used below (WebAssembly core + SIMD proposal, as shipped in V8).
const OP = {
  block: 0x02, loop: 0x03, br: 0x0c, brIf: 0x0d, end: 0x0b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, f32Load: 0x2a, f32Store: 0x38,
  i32Const: 0x41, f32Const: 0x43, i32GeU: 0x4f, i32Add: 0x6a, i32Shl: 0x74,
  f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94,
  simd: 0xfd,
} as const;
const SIMD = { v128Load: 0x00, v128Store: 0x0b, f32x4Splat: 0x13, f32x4Add: 0xe4, f32x4Mul: 0xe6 } as const;
const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b, func: 0x60 } as const;

function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}
const simd = (op: number): number[] => [OP.simd, ...uleb(op)];
const memarg = (alignLog2: number, offset = 0): number[] => [...uleb(alignLog2), ...uleb(offset)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

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

function moduleBytes(): Uint8Array {
  const types = vec([
    [T.func, ...vec([[T.i32], [T.i32], [T.i32], [T.f32], [T.f32], [T.i32]]), 0],
    [T.func, ...vec([[T.i32], [T.i32], [T.i32], [T.i32], [T.i32]]), 0],
    [T.func, ...vec([[T.i32], [T.i32], [T.i32], [T.i32], [T.i32], [T.i32]]), 0],
  ]);
  const funcs = vec([[0], [1], [2]]);
  const memory = vec([[0x00, 1]]); // min 1 page, no max
  const exports = vec([
    [...name('memory'), 0x02, 0],
    [...name('lerpRows'), 0x00, 0],
    [...name('gatherLerp'), 0x00, 1],
    [...name('gatherTaps'), 0x00, 2],
  ]);
  const bodies = [lerpRowsBody(), gatherLerpBody(), gatherTapsBody()].map((b) => [...uleb(b.length), ...b]);
  const code = vec(bodies);
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(3, funcs), ...section(5, memory), ...section(7, exports), ...section(10, code),
  ]);
}

export interface WasmKernels {
  memory: WasmMemory;
  lerpRows(dst: number, a: number, b: number, w0: number, w1: number, n: number): void;
  gatherLerp(dst: number, row: number, idx: number, w: number, n: number): void;
  gatherTaps(dst: number, row: number, idx: number, w: number, n: number, taps: number): void;
}

let compiled: object | null | undefined;

/** A fresh instance (own memory) per call; undefined where WebAssembly SIMD is unavailable. */
export function instantiateKernels(): WasmKernels | undefined {
  if (compiled === undefined) {
    try {
      const bytes = moduleBytes();
      compiled = WA && WA.validate(bytes) ? new WA.Module(bytes) : null;
    } catch {
      compiled = null;
    }
  }
  if (!compiled) return undefined;
  return new WA!.Instance(compiled, {}).exports as WasmKernels;
}
