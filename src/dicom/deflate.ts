import { inflateRawSync } from 'node:zlib';
import { CtscopeError } from '../errors.js';

/** Inflated data sets larger than this are refused (a deflate bomb, not a CT slice). */
export const MAX_INFLATED_BYTES = 2 ** 31 - 1;
/**
 * Nor more than this many times their deflated size, plus a little: CT pixels deflate a few times, padding and
 * air some tens of times, while a bomb of zeros reaches about 1000 (a 1.5 MB file took 35 s and 4.7 GB to refuse).
 */
export const MAX_INFLATE_RATIO = 200;
const RATIO_SLACK_BYTES = 64 * 2 ** 20;

const cache = new WeakMap<Uint8Array, Uint8Array>();

/**
 * Deflated Explicit VR LE: the bytes before `start` (preamble + meta) followed by the inflated data set,
 * so offsets found while parsing index this buffer. Cached per input buffer.
 */
export function inflateDataSet(bytes: Uint8Array, start: number, where: string): Uint8Array {
  const hit = cache.get(bytes);
  if (hit) return hit;
  let inflated: Buffer;
  const deflated = bytes.length - start;
  const limit = Math.min(MAX_INFLATED_BYTES - start, MAX_INFLATE_RATIO * deflated + RATIO_SLACK_BYTES);
  try {
    inflated = inflateRawSync(bytes.subarray(start), { maxOutputLength: limit });
  } catch (e) {
    const code = (e as { code?: string }).code;
    if (code === 'Z_BUF_ERROR') throw new CtscopeError('E_TRUNCATED', 'deflated data set ends early', { cause: e, where });
    if (code === 'ERR_BUFFER_TOO_LARGE') {
      const mib = Math.round(limit / 2 ** 20);
      throw new CtscopeError('E_TOO_LARGE', `deflated data set inflates beyond ${mib} MiB (${MAX_INFLATE_RATIO} times its ${(deflated / 2 ** 20).toFixed(1)} MiB and 64 MiB, at most 2 GiB): a deflate bomb, not an image`, { cause: e, where });
    }
    throw new CtscopeError('E_BAD_DICOM', `deflated data set does not inflate: ${(e as Error).message}`, { cause: e, where });
  }
  const out = new Uint8Array(start + inflated.length);
  out.set(bytes.subarray(0, start), 0);
  out.set(inflated, start);
  cache.set(bytes, out);
  return out;
}
