import type { FindingsDocument } from './document.js';
import { closedByHost, getPool, poolTaskError } from '../workers/pool.js';
import { CtscopeError, isCtscopeError, toCtscopeError } from '../errors.js';
import type { DcmjsDict } from './dcmjs.js';
import type { SrOptions } from './sr.js';
import type { SourceHeader } from './source.js';

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

/**
 * Worker task: the source header's attributes for the SR (`parseSourceHeader`), so that neither loading dcmjs
 * nor parsing runs on the host's thread.
 */
export async function sourceHeaderTask(part10: Uint8Array): Promise<SourceHeader> {
  const { parseSourceHeader } = await import('./source.js');
  return parseSourceHeader(part10);
}

/** Builds the SR on the shared worker pool so a host's event loop stays free. */
export async function srBytesOffThread(t: SrTask, signal?: AbortSignal): Promise<Uint8Array> {
  const out = await runSrTask<Uint8Array>('srBytesTask', t, 'building the DICOM SR', signal);
  return out instanceof Uint8Array ? out : new Uint8Array(out as ArrayBufferLike);
}

/** Parses the source header for the SR on the shared worker pool. */
export function sourceHeaderOffThread(part10: Uint8Array, signal?: AbortSignal): Promise<SourceHeader> {
  // A copy of the view alone, moved to the worker: cloning a view sends its whole ArrayBuffer, which may be a host's
  // large buffer.
  const copy = new Uint8Array(part10);
  return runSrTask<SourceHeader>('sourceHeaderTask', copy, 'reading the source header for the DICOM SR', signal, [copy.buffer]);
}

async function runSrTask<T>(name: string, task: unknown, what: string, signal: AbortSignal | undefined, transferList?: ArrayBuffer[]): Promise<T> {
  const pool = getPool();
  try {
    return (await pool.run(task, { name, ...(signal ? { signal } : {}), ...(transferList ? { transferList } : {}) })) as T;
  } catch (e) {
    // An abort says so in ctscope's words, not the worker library's ("The task has been aborted").
    if (signal?.aborted) throw new CtscopeError('E_ABORTED', `${what} was aborted`, { cause: e, where: 'sr' });
    if (isCtscopeError(e)) throw toCtscopeError(e, 'E_OUTPUT');
    if (closedByHost(pool)) throw poolTaskError(pool, e, `${what} failed`, 'sr');
    // dcmjs quotes the offending value in its messages, and the SR holds the patient's header: neither the value nor
    // the raw error (which a host might log) goes out.
    const text = e instanceof Error ? e.message : String(e);
    throw new CtscopeError('E_OUTPUT', `${what} failed: ${withoutValues(text)}`, { where: 'sr' });
  }
}

/** An error text with any quoted value ("value: ...") withheld. */
export function withoutValues(text: string): string {
  return text.replace(/\bvalue:.*?(?=, length:|$)/gis, 'value: (withheld)');
}
