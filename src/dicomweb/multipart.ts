import { CtscopeError } from '../errors.js';

export interface MultipartPart {
  headers: Record<string, string>;
  body: Uint8Array;
}

/** The boundary parameter of a multipart Content-Type, unquoted; E_IO when absent. */
export function boundaryOf(contentType: string | null): string {
  const m = /boundary=(?:"([^"]+)"|([^;\s]+))/i.exec(contentType ?? '');
  const b = m?.[1] ?? m?.[2];
  if (!b) throw new CtscopeError('E_IO', `DICOMweb response is not multipart (Content-Type: ${contentType ?? 'none'})`);
  return b;
}

function parseHeaders(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const c = line.indexOf(':');
    if (c > 0) out[line.slice(0, c).trim().toLowerCase()] = line.slice(c + 1).trim();
  }
  return out;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** A part's header block (Content-Type, Content-Location...) is a few hundred bytes; more is not a DICOMweb answer. */
const MAX_HEADER_BYTES = 64 * 1024;
/** The rest of a delimiter line (transport padding) before its CRLF. */
const MAX_PADDING_BYTES = 1024;

/**
 * Parses a multipart/related body as it streams in (RFC 2046): yields each part once its closing
 * delimiter arrives, holding only the part being received. Linear in the body size: bytes are searched
 * once, with a delimiter-sized overlap between chunks; a preamble is dropped as it is searched, and a part's
 * header block (64 KiB at most) or a delimiter line that does not end is E_IO, not a buffer rescanned for ever.
 */
export async function* parseMultipart(body: AsyncIterable<Uint8Array>, boundary: string): AsyncGenerator<MultipartPart> {
  const first = Buffer.from(`--${boundary}`);
  const delim = Buffer.from(`\r\n--${boundary}`);
  let state: 'preamble' | 'after-delimiter' | 'headers' | 'body' = 'preamble';
  let finished = false;
  let pending: Buffer = Buffer.alloc(0);
  let acc: Buffer[] = [];
  let headers: Record<string, string> = {};
  const iterator = body[Symbol.asyncIterator]();
  let ended = false;
  const more = async (): Promise<boolean> => {
    if (ended) return false;
    const r = await iterator.next();
    if (r.done) {
      ended = true;
      return false;
    }
    pending = pending.length ? Buffer.concat([pending, r.value]) : Buffer.from(r.value.buffer, r.value.byteOffset, r.value.byteLength);
    return true;
  };
  try {
    while (!finished) {
      if (state === 'preamble') {
        // The first delimiter may open the body without a leading CRLF.
        const at = pending.indexOf(first);
        if (at < 0) {
          // Only a delimiter's worth of the preamble can still hold the start of one.
          pending = Buffer.from(pending.subarray(Math.max(0, pending.length - (first.length - 1))));
          if (!(await more())) break;
          continue;
        }
        pending = pending.subarray(at + first.length);
        state = 'after-delimiter';
      } else if (state === 'after-delimiter') {
        if (pending.length < 2 && (await more())) continue;
        if (pending.length < 2) break;
        if (pending[0] === 0x2d && pending[1] === 0x2d) {
          finished = true;
          break;
        }
        const eol = pending.indexOf(CRLF);
        if (eol < 0) {
          if (pending.length > MAX_PADDING_BYTES) throw new CtscopeError('E_IO', 'DICOMweb multipart response: a part delimiter line does not end');
          if (!(await more())) break;
          continue;
        }
        pending = pending.subarray(eol + 2);
        state = 'headers';
      } else if (state === 'headers') {
        if (pending.subarray(0, 2).equals(CRLF)) {
          headers = {};
          pending = pending.subarray(2);
          state = 'body';
          continue;
        }
        const end = pending.indexOf(HEADER_END);
        if (end < 0) {
          if (pending.length > MAX_HEADER_BYTES) throw new CtscopeError('E_IO', `DICOMweb multipart response: a part's headers run over ${MAX_HEADER_BYTES / 1024} KiB`);
          if (!(await more())) break;
          continue;
        }
        headers = parseHeaders(pending.subarray(0, end).toString('latin1'));
        pending = pending.subarray(end + 4);
        state = 'body';
      } else {
        const at = pending.indexOf(delim);
        if (at >= 0) {
          acc.push(pending.subarray(0, at));
          const part = acc.length === 1 ? acc[0]! : Buffer.concat(acc);
          acc = [];
          pending = pending.subarray(at + delim.length);
          state = 'after-delimiter';
          yield { headers, body: new Uint8Array(part.buffer, part.byteOffset, part.byteLength) };
          continue;
        }
        // Keep a delimiter's worth of bytes: the delimiter may straddle two chunks.
        const keep = Math.min(pending.length, delim.length - 1);
        if (pending.length > keep) acc.push(pending.subarray(0, pending.length - keep));
        pending = Buffer.from(pending.subarray(pending.length - keep));
        if (!(await more())) break;
      }
    }
    if (!finished) throw new CtscopeError('E_IO', `DICOMweb multipart response ended early (${state === 'preamble' ? 'no part delimiter found' : 'inside a part'})`);
  } finally {
    // Stopping early (an error, the closing delimiter, a consumer that breaks off) releases the source too.
    if (!ended) await iterator.return?.();
  }
}

/** A multipart/related body from parts (STOW-RS). */
export function buildMultipart(parts: readonly Uint8Array[], boundary: string, contentType = 'application/dicom'): Buffer[] {
  const out: Buffer[] = [];
  for (const p of parts) {
    out.push(Buffer.from(`--${boundary}\r\nContent-Type: ${contentType}\r\n\r\n`));
    out.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    out.push(CRLF);
  }
  out.push(Buffer.from(`--${boundary}--\r\n`));
  return out;
}
