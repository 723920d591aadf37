/**
 * A minimal WebAssembly module writer for the project's few hand-assembled SIMD kernels (no toolchain at
 * build time, no binary blobs in the repository). Each kernel module exports its memory and functions;
 * callers copy data in, run a kernel, copy results out. See resample/wasm.ts and dicom/hu-wasm.ts.
 */

/** The slice of the WebAssembly JS API used here (the project's lib settings carry no DOM types). */
export interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

export const PAGE_BYTES = 65536;

/** Core opcodes used by the kernels. */
export const OP = {
  block: 0x02, loop: 0x03, if: 0x04, else: 0x05, br: 0x0c, brIf: 0x0d, end: 0x0b, select: 0x1b,
  localGet: 0x20, localSet: 0x21, localTee: 0x22,
  i32Load: 0x28, f32Load: 0x2a, i32Load8U: 0x2d, f32Store: 0x38, i32Store8: 0x3a,
  i32Const: 0x41, f32Const: 0x43, i32LtU: 0x49, i32GtU: 0x4b, i32GeU: 0x4f,
  i32Add: 0x6a, i32Sub: 0x6b, i32Mul: 0x6c, i32Shl: 0x74, i32ShrU: 0x76,
  f32Add: 0x92, f32Sub: 0x93, f32Mul: 0x94,
  simd: 0xfd,
} as const;

/** SIMD opcodes (the fixed-width SIMD proposal as shipped in V8), emitted with `simd()`. */
export const SIMD = {
  v128Load: 0x00, v128Store: 0x0b,
  i16x8Splat: 0x10, i32x4Splat: 0x11, f32x4Splat: 0x13,
  i32x4LtS: 0x39, i32x4GtS: 0x3b, i32x4LeS: 0x3d, i32x4GeS: 0x3f,
  v128And: 0x4e, v128AndNot: 0x4f, v128Or: 0x50, v128Bitselect: 0x52, v128AnyTrue: 0x53,
  i16x8NarrowI32x4S: 0x85, i16x8Shl: 0x8b, i16x8ShrS: 0x8c, i16x8ShrU: 0x8d,
  i32x4ExtendLowI16x8S: 0xa7, i32x4ExtendHighI16x8S: 0xa8, i32x4ExtendLowI16x8U: 0xa9, i32x4ExtendHighI16x8U: 0xaa,
  f32x4Ge: 0x46, f32x4Floor: 0x68,
  i32x4Add: 0xae, i32x4Sub: 0xb1,
  f32x4Add: 0xe4, f32x4Sub: 0xe5, f32x4Mul: 0xe6, f32x4Min: 0xe8, f32x4Max: 0xe9,
  i32x4TruncSatF32x4S: 0xf8, f32x4ConvertI32x4S: 0xfa,
} as const;

/** Value types. */
export const T = { i32: 0x7f, f32: 0x7d, v128: 0x7b, func: 0x60 } as const;

export function uleb(n: number): number[] {
  const out: number[] = [];
  do {
    let b = n & 0x7f;
    n >>>= 7;
    if (n !== 0) b |= 0x80;
    out.push(b);
  } while (n !== 0);
  return out;
}

/** Signed LEB128 (i32.const immediates). */
export function sleb(n: number): number[] {
  const out: number[] = [];
  for (;;) {
    const b = n & 0x7f;
    n >>= 7;
    const done = (n === 0 && (b & 0x40) === 0) || (n === -1 && (b & 0x40) !== 0);
    out.push(done ? b : b | 0x80);
    if (done) return out;
  }
}

export const simd = (op: number): number[] => [OP.simd, ...uleb(op)];
export const memarg = (alignLog2: number, offset = 0): number[] => [...uleb(alignLog2), ...uleb(offset)];
export const vec = (items: number[][]): number[] => [...uleb(items.length), ...items.flat()];
export const localGet = (i: number): number[] => [OP.localGet, i];
export const localSet = (i: number): number[] => [OP.localSet, i];
export const i32Const = (n: number): number[] => [OP.i32Const, ...sleb(n)];
const section = (id: number, body: number[]): number[] => [id, ...uleb(body.length), ...body];
const name = (s: string): number[] => [...uleb(s.length), ...Array.from(s, (c) => c.charCodeAt(0))];

export interface KernelFunction {
  name: string;
  params: number[];
  results: number[];
  /** Local declarations and code, without the body's length prefix (ends with OP.end). */
  body: number[];
}

/** A module of the given functions (one type each) plus an exported, growable memory named `memory`. */
export function moduleBytes(funcs: KernelFunction[]): Uint8Array {
  const types = vec(funcs.map((f) => [T.func, ...vec(f.params.map((p) => [p])), ...vec(f.results.map((r) => [r]))]));
  const indices = vec(funcs.map((_, i) => [i]));
  const memory = vec([[0x00, 1]]); // min 1 page, no max
  const exports = vec([[...name('memory'), 0x02, 0], ...funcs.map((f, i) => [...name(f.name), 0x00, i])]);
  const code = vec(funcs.map((f) => [...uleb(f.body.length), ...f.body]));
  return new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, types), ...section(3, indices), ...section(5, memory), ...section(7, exports), ...section(10, code),
  ]);
}

/**
 * Compiles once and returns a factory of fresh instances (each with its own memory); the factory is
 * undefined where WebAssembly or its SIMD extension is unavailable, so callers keep their JS path.
 */
export function kernelFactory<K>(build: () => Uint8Array): () => K | undefined {
  let compiled: object | null | undefined;
  return () => {
    if (compiled === undefined) {
      try {
        const bytes = build();
        compiled = WA && WA.validate(bytes) ? new WA.Module(bytes) : null;
      } catch {
        compiled = null;
      }
    }
    if (!compiled) return undefined;
    return new WA!.Instance(compiled, {}).exports as K;
  };
}

/** Grows `memory` to hold at least `bytes`. */
export function ensureMemory(memory: WasmMemory, bytes: number): void {
  const have = memory.buffer.byteLength;
  if (bytes > have) memory.grow(Math.ceil((bytes - have) / PAGE_BYTES));
}
