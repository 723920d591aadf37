import type { VoxelArray } from '../volume/types.js';
import { CtscopeError } from '../errors.js';
import type { VoxelType } from './plan.js';

type Ctor = Int16ArrayConstructor | Float32ArrayConstructor | Uint8ArrayConstructor;

/** Typed-array constructor per voxel type name. */
export const VOXEL_CTORS: Readonly<Record<VoxelType, Ctor>> = Object.freeze({
  int16: Int16Array,
  float32: Float32Array,
  uint8: Uint8Array,
});

/** Integer output range per type (float32 is not clamped). */
export const INT_RANGE: Readonly<Partial<Record<VoxelType, [number, number]>>> = Object.freeze({
  int16: [-32768, 32767],
  uint8: [0, 255],
});

export function voxelTypeOf(a: VoxelArray): VoxelType {
  if (a instanceof Int16Array) return 'int16';
  if (a instanceof Float32Array) return 'float32';
  if (a instanceof Uint8Array) return 'uint8';
  throw new CtscopeError('E_INTERNAL', 'unsupported voxel array type');
}

/** A view of `length` voxels of `type` over `buffer` from `byteOffset`. */
export function viewOf(type: VoxelType, buffer: ArrayBufferLike, byteOffset: number, length: number): VoxelArray {
  return new VOXEL_CTORS[type](buffer as ArrayBuffer, byteOffset, length) as VoxelArray;
}

/** Allocates `length` voxels, over a SharedArrayBuffer when `shared` (so workers write in place). */
export function allocVoxels(type: VoxelType, length: number, shared: boolean): VoxelArray {
  const C = VOXEL_CTORS[type];
  if (!shared) return new C(length) as VoxelArray;
  return new C(new SharedArrayBuffer(length * C.BYTES_PER_ELEMENT) as unknown as ArrayBuffer) as VoxelArray;
}

/** The array itself when it already lives on a SharedArrayBuffer, else one copy into a new one. */
export function ensureShared(a: VoxelArray): VoxelArray {
  if (a.buffer instanceof SharedArrayBuffer) return a;
  const s = allocVoxels(voxelTypeOf(a), a.length, true);
  s.set(a as never);
  return s;
}

/**
 * The fill value as stored in an output of `type`: rounded and clamped to an integer type's range, as every
 * interpolated voxel is (a raw -1 written into uint8 would wrap to 255, a valid label).
 */
export function storedFill(fill: number, type: VoxelType): number {
  const range = INT_RANGE[type];
  if (!range) return fill;
  const r = Math.round(fill);
  return r < range[0] ? range[0] : r > range[1] ? range[1] : r;
}
