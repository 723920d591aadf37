import { inflateRawSync } from 'node:zlib';
import { CtscopeError } from '../errors.js';

/** Inflated data sets larger than this are refused (a deflate bomb, not a CT slice). */
export const MAX_INFLATED_BYTES = 2 ** 31 - 1;

const cache = new WeakMap<Uint8Array, Uint8Array>();

/**
 * Deflated Explicit VR LE: the bytes before `start` (preamble + meta) followed by the inflated data set,
 * so offsets found while parsing index this buffer. Cached per input buffer.
 */
export function inflateDataSet(bytes: Uint8Array, start: number, where: string): Uint8Array {
  const hit = cache.get(bytes);
  if (hit) return hit;
  let inflated: Buffer;
  try {
    inflated = inflateRawSync(bytes.subarray(start), { maxOutputLength: MAX_INFLATED_BYTES - start });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'Z_BUF_ERROR') throw new CtscopeError('E_TRUNCATED', 'deflated data set ends early', { cause: e, where });
    if (code === 'ERR_BUFFER_TOO_LARGE') throw new CtscopeError('E_TOO_LARGE', 'deflated data set inflates beyond 2 GiB', { cause: e, where });
    throw new CtscopeError('E_BAD_DICOM', `deflated data set does not inflate: ${(e as Error).message}`, { cause: e, where });
  }
  const out = new Uint8Array(start + inflated.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(inflated, start);
  cache.set(bytes, out);
  return out;
}
