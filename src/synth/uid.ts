import { createHash } from 'node:crypto';

/**
 * Deterministic DICOM UIDs under the "2.25" root (ISO/IEC 9834-8: a UUID written as one decimal integer).
 * The UUID is the first 128 bits of SHA-256 over a name (the generator, its options and the purpose),
 * marked as a version-8 (custom) RFC 9562 UUID. Same seed and options give the same UIDs; anything
 * else gives unrelated ones.
 */
export function uidFor(name: string): string {
  const b = createHash('sha256').update(`ctscope-synth:${name}`).digest().subarray(0, 16);
  b[6] = (b[6]! & 0x0f) | 0x80;
  b[8] = (b[8]! & 0x3f) | 0x80;
  return `2.25.${BigInt(`0x${b.toString('hex')}`).toString(10)}`;
}

/** UID identifying this implementation in the File Meta header. */
export const IMPLEMENTATION_CLASS_UID = uidFor('implementation');
export const IMPLEMENTATION_VERSION = 'CTSCOPE_SYNTH_1';
