import type { FindingsDocument } from '../pipeline/types.js';
import { getPool } from '../workers/pool.js';
import { CtscopeError, toCtscopeError } from '../errors.js';
import type { DcmjsDict } from './dcmjs.js';
import type { SrOptions } from './sr.js';

/** What the SR worker task receives: plain data (structured-cloneable). */
export interface SrTask {
  doc: FindingsDocument;
  elements: DcmjsDict;
  sopClasses: Array<[string, string]>;
  frameOfReferenceUid: string | undefined;
  options: SrOptions;
}

/**
 * Worker task: builds and serialises the SR (dcmjs is synchronous and takes ~2 ms per finding). dcmjs is
 * imported on first use: importing it costs about 50 ms, which every pool thread would otherwise pay at start,
 * decoding-only runs included.
 */
export async function srBytesTask(t: SrTask): Promise<Uint8Array> {
  const { srBytes } = await import('./sr.js');
  return srBytes(t.doc, { elements: t.elements, sopClasses: new Map(t.sopClasses), frameOfReferenceUid: t.frameOfReferenceUid, warnings: [] }, t.options);
}

/** Builds the SR on the shared worker pool so a host's event loop stays free. */
export async function srBytesOffThread(t: SrTask, signal?: AbortSignal): Promise<Uint8Array> {
  try {
    const out = (await getPool().run(t, { name: 'srBytesTask', ...(signal ? { signal } : {}) })) as Uint8Array;
    return out instanceof Uint8Array ? out : new Uint8Array(out as ArrayBufferLike);
  } catch (e) {
    // An abort says so in ctscope's words, not the worker library's ("The task has been aborted").
    if (signal?.aborted) throw new CtscopeError('E_ABORTED', 'building the DICOM SR was aborted', { cause: e, where: 'sr' });
    throw toCtscopeError(e, 'E_OUTPUT', 'building the DICOM SR failed', 'sr');
  }
}
