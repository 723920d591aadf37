import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/**
 * The conformance corpus lives beside the checkout in ../shared/data and is never copied in.
 * `CTSCOPE_SHARED_DATA` overrides the location.
 */
export const SHARED_DATA: string =
  process.env.CTSCOPE_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));

export const hasSharedData: boolean = existsSync(join(SHARED_DATA, 'README.md'));

export const SKIP_REASON = `../shared/data not found at ${SHARED_DATA}: conformance tests skipped (set CTSCOPE_SHARED_DATA)`;

if (!hasSharedData) console.warn(SKIP_REASON);

export function sharedPath(...parts: string[]): string {
  return join(SHARED_DATA, ...parts);
}
