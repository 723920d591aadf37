import { createRequire } from 'node:module';
import type * as DicomParser from 'dicom-parser';

/**
 * dicom-parser ships a webpack UMD bundle whose named exports Node's ESM loader cannot see,
 * so load it through require; its bundled typings describe the same object.
 */
const require = createRequire(import.meta.url);
export const dicomParser = require('dicom-parser') as typeof DicomParser;
export type { DataSet, Element, ByteArrayParser } from 'dicom-parser';

/** dicom-parser throws strings; these mark reads past the end of the bytes (truncation, or a header read too short). */
export function isOverrunMessage(text: string): boolean {
  return /past end|overread|overrun|maxP ?osition|cannot be greater than or equal/i.test(text);
}

export function thrownText(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  if (typeof e === 'object' && e !== null && 'exception' in e) return thrownText((e as { exception: unknown }).exception);
  return String(e);
}
