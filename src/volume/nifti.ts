import { readFile } from 'node:fs/promises';
import { createGzip, gunzipSync } from 'node:zlib';
import { CtscopeError } from '../errors.js';
import { writeFileAtomic } from '../io/atomic.js';
import { cross, dot, ijkToLps, normalize, scale, sub } from './affine.js';
import type { Geometry, Mat4, Vec3, Volume, VoxelArray } from './types.js';
import { onAbort } from '../io/abort.js';

/** dim[] is int16 in the NIfTI-1 header. */
export const NIFTI1_MAX_DIM = 32767;

/**
 * NIfTI-1 single file (.nii, or .nii.gz when the path ends in .gz), values in HU (scl_slope 1, inter 0).
 * NIfTI world space is RAS, ours is LPS: both affines are ours with the x and y rows negated.
 * - sform (code 1, scanner): the full voxel-to-world affine, sheared for gantry-tilted series.
 * - qform (code 1): the closest rigid one: i and j axes as stored, k along the image-plane normal,
 *   with pixdim[3] the slice separation along that normal (equal to spacing k without tilt).
 */
const HEADER_BYTES = 348;
const VOX_OFFSET = 352;
const DT_UINT8 = 2;
const DT_INT16 = 4;
const DT_FLOAT32 = 16;
const UNITS_MM = 2;
const XFORM_SCANNER = 1;

export interface NiftiWriteOptions {
  /** Free text for the 80-byte descrip field (never patient data). */
  description?: string;
  /** gzip level for .nii.gz (default 6). */
  gzipLevel?: number;
  /** Aborts the compression and the write (E_ABORTED); no file is left. */
  signal?: AbortSignal | undefined;
}

export async function writeNifti(path: string, volume: Volume, options: NiftiWriteOptions = {}): Promise<void> {
  const header = niftiHeader(volume, options.description ?? 'ctscope HU');
  const body = byteChunks(volume.data);
  if (path.toLowerCase().endsWith('.gz')) {
    const chunks = await gzipChunks([header, ...body], options.gzipLevel ?? 6, options.signal);
    await writeFileAtomic(path, chunks, options.signal);
  } else {
    await writeFileAtomic(path, [header, ...body], options.signal);
  }
}

/**
 * The voxels as byte views of at most `maxBytes` each. One view over the whole volume failed both ways at 4 GiB:
 * zlib takes a write's length as 32 bits (a float32 volume of 2^30 voxels was compressed as 0 bytes, and the
 * `.nii.gz` held only its header), and over 4 GiB no Uint8Array view can be made at all.
 */
export function byteChunks(data: VoxelArray, maxBytes = 16 << 20): Uint8Array[] {
  const step = Math.max(1, Math.floor(maxBytes / data.BYTES_PER_ELEMENT));
  const out: Uint8Array[] = [];
  for (let i = 0; i < data.length; i += step) {
    const part = data.subarray(i, Math.min(data.length, i + step));
    out.push(new Uint8Array(part.buffer, part.byteOffset, part.byteLength));
  }
  return out;
}

/** The 352-byte header (348 + an empty extension flag) for a volume. */
export function niftiHeader(volume: Volume, description: string): Uint8Array {
  const g = volume.geometry;
  const expected = g.dims[0] * g.dims[1] * g.dims[2];
  if (volume.data.length !== expected) throw new CtscopeError('E_OUTPUT', `volume has ${volume.data.length} voxels, geometry says ${expected}`);
  // Each voxel type as itself: a uint8 volume (a resample with outType 'uint8') was labelled int16 over its bytes.
  const type = volume.data instanceof Float32Array ? { code: DT_FLOAT32, bits: 32 } : volume.data instanceof Uint8Array ? { code: DT_UINT8, bits: 8 } : { code: DT_INT16, bits: 16 };
  const buf = new ArrayBuffer(VOX_OFFSET);
  const v = new DataView(buf);
  const le = true;
  v.setInt32(0, HEADER_BYTES, le);
  v.setUint8(38, 'r'.charCodeAt(0));
  const dims = [3, g.dims[0], g.dims[1], g.dims[2], 1, 1, 1, 1];
  dims.forEach((x, i) => {
    if (x > NIFTI1_MAX_DIM) throw new CtscopeError('E_TOO_LARGE', `dimension ${x} does not fit NIfTI-1 (max ${NIFTI1_MAX_DIM})`);
    v.setInt16(40 + 2 * i, x, le);
  });
  v.setInt16(70, type.code, le);
  v.setInt16(72, type.bits, le);

  const q = rigidQform(g);
  const s = lpsToRas(ijkToLps(g));
  checkWritableGeometry(g, q, s);
  const pixdim = [q.qfac, g.spacing[0], g.spacing[1], q.sliceStep, 0, 0, 0, 0];
  pixdim.forEach((x, i) => v.setFloat32(76 + 4 * i, x, le));
  v.setFloat32(108, VOX_OFFSET, le);
  v.setFloat32(112, 1, le);
  v.setFloat32(116, 0, le);
  v.setUint8(123, UNITS_MM);
  writeText(v, 148, 80, description);
  v.setInt16(252, XFORM_SCANNER, le);
  v.setInt16(254, XFORM_SCANNER, le);
  v.setFloat32(256, q.b, le);
  v.setFloat32(260, q.c, le);
  v.setFloat32(264, q.d, le);
  v.setFloat32(268, q.offset[0], le);
  v.setFloat32(272, q.offset[1], le);
  v.setFloat32(276, q.offset[2], le);
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) v.setFloat32(280 + 16 * r + 4 * c, s[r * 4 + c]!, le);
  writeText(v, 344, 4, 'n+1');
  return new Uint8Array(buf);
}

/**
 * E_GEOMETRY unless every spacing, offset and affine entry is a finite float32 and the affine is not singular:
 * a reader given Inf or a zero slice step cannot place a voxel, and the file would look written.
 */
function checkWritableGeometry(g: Geometry, q: Qform, sform: Mat4): void {
  const values = [g.spacing[0], g.spacing[1], g.spacing[2], q.sliceStep, q.b, q.c, q.d, ...q.offset, ...sform.slice(0, 12)];
  if (!values.every((x) => Number.isFinite(Math.fround(x))))
    throw new CtscopeError('E_GEOMETRY', `the volume's geometry (spacing ${g.spacing.join(' x ')} mm, origin ${g.origin.join(', ')}) does not fit a NIfTI header's float32 fields`);
  const f = (i: number): number => Math.fround(sform[i]!);
  const det = f(0) * (f(5) * f(10) - f(6) * f(9)) - f(1) * (f(4) * f(10) - f(6) * f(8)) + f(2) * (f(4) * f(9) - f(5) * f(8));
  if (!(Math.fround(q.sliceStep) > 0 && Math.fround(g.spacing[0]) > 0 && Math.fround(g.spacing[1]) > 0) || det === 0 || !Number.isFinite(det))
    throw new CtscopeError('E_GEOMETRY', `the volume's affine is singular in float32 (spacing ${g.spacing.join(' x ')} mm): a NIfTI reader could not place its voxels`);
}

/** Negates the x and y rows: LPS <-> RAS (its own inverse). */
export function lpsToRas(m: Mat4): Mat4 {
  return m.map((x, i) => (i < 8 ? -x : x));
}

interface Qform {
  b: number;
  c: number;
  d: number;
  qfac: 1 | -1;
  offset: Vec3;
  sliceStep: number;
}

/** Quaternion of the orthonormalised direction (RAS), qfac for handedness, k step along the normal. */
export function rigidQform(g: Geometry): Qform {
  const m = g.direction;
  const flip = (v: Vec3): Vec3 => [-v[0], -v[1], v[2]];
  const i = normalize(flip([m[0], m[3], m[6]]));
  const jRaw = flip([m[1], m[4], m[7]]);
  const j = normalize(sub(jRaw, scale(i, dot(jRaw, i))));
  const k = flip([m[2], m[5], m[8]]);
  const n = cross(i, j);
  const along = dot(k, n);
  const qfac: 1 | -1 = along < 0 ? -1 : 1;
  // Rotation with columns i, j, i x j (proper: det +1). A left-handed grid keeps this n: readers multiply the
  // third column by qfac themselves, so flipping n here as well would mirror the image.
  const r11 = i[0], r12 = j[0], r13 = n[0];
  const r21 = i[1], r22 = j[1], r23 = n[1];
  const r31 = i[2], r32 = j[2], r33 = n[2];
  let a: number, b: number, c: number, d: number;
  const trace = r11 + r22 + r33;
  if (trace > 0) {
    a = 0.5 * Math.sqrt(1 + trace);
    b = (r32 - r23) / (4 * a);
    c = (r13 - r31) / (4 * a);
    d = (r21 - r12) / (4 * a);
  } else if (r11 > r22 && r11 > r33) {
    b = 0.5 * Math.sqrt(1 + r11 - r22 - r33);
    a = (r32 - r23) / (4 * b);
    c = (r12 + r21) / (4 * b);
    d = (r13 + r31) / (4 * b);
  } else if (r22 > r33) {
    c = 0.5 * Math.sqrt(1 + r22 - r11 - r33);
    a = (r13 - r31) / (4 * c);
    b = (r12 + r21) / (4 * c);
    d = (r23 + r32) / (4 * c);
  } else {
    d = 0.5 * Math.sqrt(1 + r33 - r11 - r22);
    a = (r21 - r12) / (4 * d);
    b = (r13 + r31) / (4 * d);
    c = (r23 + r32) / (4 * d);
  }
  if (a < 0) {
    b = -b;
    c = -c;
    d = -d;
  }
  const o = g.origin;
  return { b, c, d, qfac, offset: [-o[0], -o[1], o[2]], sliceStep: Math.abs(along) * g.spacing[2] };
}

function writeText(v: DataView, at: number, size: number, text: string): void {
  const ascii = text.replace(/[^\x20-\x7e]/g, '?').slice(0, size - 1);
  for (let i = 0; i < ascii.length; i++) v.setUint8(at + i, ascii.charCodeAt(i));
}

/** gzip on libuv's thread pool; an abort destroys the stream at once (seconds of work for a large volume). */
function gzipChunks(parts: Uint8Array[], level: number, signal?: AbortSignal): Promise<Uint8Array[]> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new CtscopeError('E_ABORTED', 'compressing was aborted'));
    const gz = createGzip({ level });
    const out: Uint8Array[] = [];
    const stop = (): void => {
      gz.destroy();
      reject(new CtscopeError('E_ABORTED', 'compressing was aborted'));
    };
    const settle = signal ? onAbort(signal, stop) : (): void => undefined;
    gz.on('data', (c: Uint8Array) => out.push(c));
    gz.on('end', () => {
      settle();
      resolve(out);
    });
    gz.on('error', (e) => {
      settle();
      reject(new CtscopeError('E_OUTPUT', `gzip failed: ${e.message}`, { cause: e }));
    });
    for (const p of parts) gz.write(p);
    gz.end();
  });
}

/** A NIfTI-1 file read back (little-endian, single file); enough for tests and round trips. */
export interface NiftiImage {
  dims: number[];
  pixdim: number[];
  datatype: number;
  voxOffset: number;
  sclSlope: number;
  sclInter: number;
  xyztUnits: number;
  qformCode: number;
  sformCode: number;
  quatern: [number, number, number];
  qoffset: Vec3;
  /** sform rows as a 4x4 row-major matrix (RAS). */
  sform: Mat4;
  description: string;
  /** Stored values in the file's type. */
  data: Int16Array | Float32Array | Uint8Array | Int8Array | Uint16Array | Int32Array | Float64Array;
}

const READERS: Record<number, { bytes: number; make: (b: ArrayBuffer, o: number, n: number) => NiftiImage['data'] }> = {
  2: { bytes: 1, make: (b, o, n) => new Uint8Array(b, o, n) },
  4: { bytes: 2, make: (b, o, n) => new Int16Array(b, o, n) },
  8: { bytes: 4, make: (b, o, n) => new Int32Array(b, o, n) },
  16: { bytes: 4, make: (b, o, n) => new Float32Array(b, o, n) },
  64: { bytes: 8, make: (b, o, n) => new Float64Array(b, o, n) },
  256: { bytes: 1, make: (b, o, n) => new Int8Array(b, o, n) },
  512: { bytes: 2, make: (b, o, n) => new Uint16Array(b, o, n) },
};

export async function readNifti(path: string): Promise<NiftiImage> {
  let raw: Uint8Array = await readFile(path);
  if (raw[0] === 0x1f && raw[1] === 0x8b) raw = gunzipSync(raw);
  return parseNifti(raw);
}

export function parseNifti(raw: Uint8Array): NiftiImage {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.byteLength < HEADER_BYTES || v.getInt32(0, true) !== HEADER_BYTES)
    throw new CtscopeError('E_BAD_DICOM', 'not a little-endian NIfTI-1 file');
  const le = true;
  const dims = Array.from({ length: 8 }, (_, i) => v.getInt16(40 + 2 * i, le));
  const pixdim = Array.from({ length: 8 }, (_, i) => v.getFloat32(76 + 4 * i, le));
  const datatype = v.getInt16(70, le);
  const voxOffset = v.getFloat32(108, le);
  const reader = READERS[datatype];
  if (!reader) throw new CtscopeError('E_UNSUPPORTED_PIXELS', `NIfTI datatype ${datatype} not supported by this reader`);
  let count = 1;
  for (let i = 1; i <= dims[0]!; i++) count *= dims[i]!;
  // Copy so the typed array is aligned whatever the file offset.
  const body = new Uint8Array(count * reader.bytes);
  body.set(raw.subarray(voxOffset, voxOffset + count * reader.bytes));
  if (raw.byteLength < voxOffset + count * reader.bytes) throw new CtscopeError('E_TRUNCATED', 'NIfTI data shorter than its dimensions');
  const sform: Mat4 = [];
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) sform.push(v.getFloat32(280 + 16 * r + 4 * c, le));
  sform.push(0, 0, 0, 1);
  let description = '';
  for (let i = 0; i < 80 && raw[148 + i]; i++) description += String.fromCharCode(raw[148 + i]!);
  return {
    dims,
    pixdim,
    datatype,
    voxOffset,
    sclSlope: v.getFloat32(112, le),
    sclInter: v.getFloat32(116, le),
    xyztUnits: v.getUint8(123),
    qformCode: v.getInt16(252, le),
    sformCode: v.getInt16(254, le),
    quatern: [v.getFloat32(256, le), v.getFloat32(260, le), v.getFloat32(264, le)],
    qoffset: [v.getFloat32(268, le), v.getFloat32(272, le), v.getFloat32(276, le)],
    sform,
    description,
    data: reader.make(body.buffer, 0, count),
  };
}

/** The qform of an image as a 4x4 RAS affine (NIfTI-1 method 2). */
export function qformMatrix(img: NiftiImage): Mat4 {
  const [b, c, d] = img.quatern;
  const a = Math.sqrt(Math.max(0, 1 - (b * b + c * c + d * d)));
  const R = [
    a * a + b * b - c * c - d * d, 2 * (b * c - a * d), 2 * (b * d + a * c),
    2 * (b * c + a * d), a * a + c * c - b * b - d * d, 2 * (c * d - a * b),
    2 * (b * d - a * c), 2 * (c * d + a * b), a * a + d * d - c * c - b * b,
  ];
  const qfac = img.pixdim[0]! < 0 ? -1 : 1;
  const s = [img.pixdim[1]!, img.pixdim[2]!, img.pixdim[3]! * qfac];
  const out: Mat4 = [];
  for (let r = 0; r < 3; r++) {
    for (let col = 0; col < 3; col++) out.push(R[r * 3 + col]! * s[col]!);
    out.push(img.qoffset[r]!);
  }
  out.push(0, 0, 0, 1);
  return out;
}

/** Value at voxel (i, j, k) with scl_slope/scl_inter applied (slope 0 means none, per the standard). */
export function niftiValue(img: NiftiImage, i: number, j: number, k: number): number {
  const raw = img.data[i + img.dims[1]! * (j + img.dims[2]! * k)]!;
  return img.sclSlope !== 0 && Number.isFinite(img.sclSlope) ? raw * img.sclSlope + img.sclInter : raw;
}
