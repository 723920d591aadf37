import { readFileSync } from 'node:fs';
import { readInstance } from '../../src/dicom/parse.js';
import { decodeFrame, decodeFrameToHu } from '../../src/dicom/decode.js';
import type { DicomInstance, StoredPixels } from '../../src/dicom/types.js';
import { sharedPath } from '../helpers/shared-data.js';
import { isCtscopeError } from '../../src/errors.js';

export const CHEST = 'ct_chest_slice_transfer_syntaxes';
export const chest = (suffix = '') => sharedPath(CHEST, `CTImage.dcm${suffix}`);
export const chestTs = (name: string, uid: string) => chest(`_${name}_${uid}.dcm`);

export async function stored(path: string, frame = 0): Promise<{ values: StoredPixels; instance: DicomInstance }> {
  const { bytes, instance } = await readInstance(path);
  return { values: await decodeFrame(bytes, instance, frame), instance };
}

export async function hu(path: string, frame = 0, paddingHu?: number): Promise<Float32Array> {
  const { bytes, instance } = await readInstance(path);
  const out = new Float32Array(instance.rows * instance.columns);
  await decodeFrameToHu(bytes, instance, frame, out, 0, paddingHu !== undefined ? { paddingHu } : {});
  return out;
}

/** Number of differing samples and the largest absolute difference. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>): { differing: number; maxAbs: number } {
  if (a.length !== b.length) throw new Error(`length ${a.length} vs ${b.length}`);
  let differing = 0;
  let maxAbs = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d !== 0) differing++;
    if (d > maxAbs) maxAbs = d;
  }
  return { differing, maxAbs };
}

/** Voxels of a NIfTI-1 int16 file (352-byte header, data at vox_offset). */
export function readNiftiInt16(path: string): { dims: number[]; data: Int16Array } {
  const b = readFileSync(path);
  const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (dv.getInt32(0, true) !== 348) throw new Error('not a little-endian NIfTI-1 file');
  const dims = [1, 2, 3].map((i) => dv.getInt16(40 + 2 * i, true));
  if (dv.getInt16(70, true) !== 4) throw new Error('NIfTI datatype is not int16');
  const offset = dv.getFloat32(108, true);
  const n = dims[0]! * dims[1]! * dims[2]!;
  const data = new Int16Array(n);
  for (let i = 0; i < n; i++) data[i] = dv.getInt16(offset + 2 * i, true);
  return { dims, data };
}

export function range(a: ArrayLike<number>): [number, number] {
  let lo = Infinity;
  let hi = -Infinity;
  for (let i = 0; i < a.length; i++) {
    const v = a[i]!;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return [lo, hi];
}

/**
 * Siemens mosaic (tiles of tx x ty in a `columns`-wide image) to the tx x ty x nz stack dcm2niix
 * writes, rows bottom-up as NIfTI stores them.
 */
export function demosaic(values: ArrayLike<number>, columns: number, tx: number, ty: number, nz: number): Int16Array {
  const perRow = Math.floor(columns / tx);
  const out = new Int16Array(tx * ty * nz);
  for (let z = 0; z < nz; z++) {
    const tr = Math.floor(z / perRow);
    const tc = z % perRow;
    for (let y = 0; y < ty; y++) {
      for (let x = 0; x < tx; x++) out[(z * ty + y) * tx + x] = values[(tr * ty + ty - 1 - y) * columns + tc * tx + x]!;
    }
  }
  return out;
}

/** The error code a call throws: its CtscopeError code, `uncoded: ...` for anything else, undefined if it returns. */
export function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isCtscopeError(e) ? e.code : `uncoded: ${String(e)}`;
  }
  return undefined;
}

/** codeOf for a promise. */
export async function codeOfAsync(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isCtscopeError(e) ? e.code : `uncoded: ${String(e)}`;
  }
  return undefined;
}
