import { randomBytes } from 'node:crypto';
import { CtscopeError, throwIfAborted } from '../errors.js';
import type { BufferInput } from '../ingest/load.js';
import { boundaryOf, buildMultipart, parseMultipart } from './multipart.js';
import { onAbort } from '../io/abort.js';
import { checkOptions, is, type OptionRule } from '../io/options-check.js';
import { dicomParser } from '../dicom/dicom-parser.js';

export interface DicomWebOptions {
  /** Service root, e.g. http://127.0.0.1:8042/dicom-web (no trailing slash needed). */
  baseUrl: string;
  /** Bearer token sent as `Authorization: Bearer ...`; never printed (error messages redact it). */
  token?: string | undefined;
  /**
   * User name and password sent as HTTP Basic authentication (Orthanc's own login, for one); never printed. Not
   * with `token`. Over plain http they cross the network readable, as Basic credentials always do.
   */
  credentials?: { username: string; password: string } | undefined;
  signal?: AbortSignal | undefined;
  /** Idle timeout in ms (default 120000): for the answer's headers, then between chunks of its body. */
  timeoutMs?: number | undefined;
  /**
   * Most bytes one WADO-RS retrieval may bring (default 4 GiB): it is held in memory, so a larger study or series
   * is E_TOO_LARGE as soon as the answer passes this, not an exhausted heap.
   */
  maxRetrieveBytes?: number | undefined;
}

const sizeText = (bytes: number): string => (bytes >= 2 ** 20 ? `${(bytes / 2 ** 20).toFixed(0)} MiB` : `${bytes} bytes`);

const CLIENT_RULES: Readonly<Record<keyof DicomWebOptions, OptionRule>> = {
  baseUrl: is.string,
  token: is.where('a bearer token: visible ASCII characters, no spaces or line breaks', (v) => typeof v === 'string' && /^[\x21-\x7e]*$/.test(v)),
  credentials: is.where('{ username, password }: strings, the user name without a colon', (v) => {
    const c = v as { username?: unknown; password?: unknown } | null;
    return typeof c === 'object' && c !== null && typeof c.username === 'string' && c.username.length > 0 && !c.username.includes(':') && typeof c.password === 'string';
  }),
  signal: is.signal,
  timeoutMs: is.where('a positive number of milliseconds', (v) => typeof v === 'number' && v > 0 && v <= 2 ** 31 - 1),
  maxRetrieveBytes: is.where('a positive number of bytes', (v) => typeof v === 'number' && v > 0),
};

/** Default cap of one retrieval: several CT series of 300 slices each. */
export const DEFAULT_MAX_RETRIEVE_BYTES = 4 * 2 ** 30;

/** Per call: a signal that cancels this request only (the client's own signal cancels them all). */
export interface DicomWebCallOptions {
  signal?: AbortSignal | undefined;
}

/** A QIDO-RS result reduced to what a caller needs: UIDs and counts, no patient attributes. */
export interface QidoSeries {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  modality: string;
  seriesNumber: number | undefined;
  instances: number | undefined;
}

export interface QidoInstance {
  studyInstanceUid: string;
  seriesInstanceUid: string;
  sopInstanceUid: string;
  sopClassUid: string;
}

export interface StowResult {
  stored: string[];
  failed: Array<{ sopInstanceUid: string; reason: number | undefined }>;
}

type DicomJson = Record<string, { vr: string; Value?: unknown[] }>;

const first = (o: DicomJson, tag: string): unknown => o[tag]?.Value?.[0];
const str = (o: DicomJson, tag: string): string => {
  const v = first(o, tag);
  return typeof v === 'string' ? v : v === undefined ? '' : String(v);
};
const int = (o: DicomJson, tag: string): number | undefined => {
  const v = Number(first(o, tag));
  return Number.isFinite(v) && first(o, tag) !== undefined ? v : undefined;
};

/** An instance's SOP Instance UID, or undefined where its header cannot be read. */
function sopUidOf(bytes: Uint8Array): string | undefined {
  try {
    return dicomParser.parseDicom(bytes, { untilTag: 'x00080018' }).string('x00080018')?.trim() || undefined;
  } catch {
    return undefined;
  }
}

/** A URL with any user:password removed, for messages. */
/**
 * A request's URL for an error's `where`: no credentials, and a query's keys without their values (a search may
 * be by PatientName, PatientID or PatientBirthDate, and hosts log `where`).
 */
function whereOf(url: string): string {
  try {
    const u = new URL(redactUrl(url));
    const keys = [...new Set(u.searchParams.keys())];
    u.search = '';
    return `${u.toString()}${keys.length ? `?${keys.map(encodeURIComponent).join('&')}` : ''}`;
  } catch {
    return '(invalid URL)';
  }
}

/** STOW-RS upload body, a MiB at a time: `onChunk` (the idle timer) runs as the connection takes each. */
function uploadStream(parts: readonly Buffer[], onChunk: () => void, onEnd: () => void): ReadableStream<Uint8Array> {
  let i = 0;
  let offset = 0;
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        while (i < parts.length && offset >= parts[i]!.length) {
          i++;
          offset = 0;
        }
        if (i >= parts.length) {
          onEnd();
          controller.close();
          return;
        }
        const p = parts[i]!;
        const n = Math.min(p.length - offset, UPLOAD_CHUNK);
        controller.enqueue(p.subarray(offset, offset + n));
        offset += n;
        onChunk();
      },
    },
    { highWaterMark: 0 },
  );
}
const UPLOAD_CHUNK = 1 << 20;
const STOW_ANSWER_LIMIT = 64 << 20;

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    return u.toString();
  } catch {
    return '(invalid URL)';
  }
}

const UID_RE = /^[0-9]+(\.[0-9]+)*$/;
/** Whether `uid` is a DICOM UID: digits and dots, at most 64 characters. */
export const isUid = (uid: string): boolean => UID_RE.test(uid) && uid.length <= 64;

/** E_USAGE unless `uid` is a DICOM UID; `what` names it in the message. */
export function checkUid(uid: string, what: string): string {
  if (!isUid(uid)) throw new CtscopeError('E_USAGE', `${what} '${uid.slice(0, 80)}' is not a DICOM UID`);
  return uid;
}

/** An answer whose headers have arrived; its body is read through `body()` or `text()` (once). */
interface Exchange {
  res: Response;
  body: () => AsyncGenerator<Uint8Array>;
  /** The answer as text; `cut` when it ran past `limit` bytes (the rest is not read). */
  text: (limit?: number) => Promise<{ text: string; cut: boolean }>;
  /** For an answer not read after all (wrong content type...): closes it and stops its timer. */
  cancel: () => Promise<void>;
}

/**
 * A small DICOMweb client: QIDO-RS searches, WADO-RS retrieval streamed part by part, STOW-RS storage.
 * Stateless apart from its options, so one client may serve concurrent requests.
 */
export class DicomWebClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  /** The Authorization header's value, and every form of the secrets in it that an error text might quote. */
  readonly #authorization: string | undefined;
  readonly #secrets: string[];
  readonly #signal: AbortSignal | undefined;
  readonly #timeoutMs: number;
  readonly #maxRetrieveBytes: number;

  constructor(options: DicomWebOptions) {
    // Checked and read once (getters too): a typo such as `tokn` or a timeout of 'abc' is E_USAGE here, not a
    // silent default or an odd failure on the first request.
    const o = checkOptions<DicomWebOptions>('DICOMweb client', options, CLIENT_RULES) as DicomWebOptions;
    if (typeof o.baseUrl !== 'string') throw new CtscopeError('E_USAGE', 'DICOMweb client option baseUrl is required (a string)');
    let u: URL;
    try {
      u = new URL(o.baseUrl);
    } catch {
      throw new CtscopeError('E_USAGE', `DICOMweb base URL is not a URL: ${redactUrl(o.baseUrl)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CtscopeError('E_USAGE', `DICOMweb base URL must be http or https (got ${u.protocol})`);
    if (u.username || u.password) throw new CtscopeError('E_USAGE', `DICOMweb base URL must not hold credentials (${redactUrl(o.baseUrl)}): give them as credentials (--credentials-file) or use a bearer token`);
    if (o.token && o.credentials) throw new CtscopeError('E_USAGE', 'DICOMweb client: give a bearer token or credentials (HTTP Basic), not both');
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#token = o.token || undefined;
    const basic = o.credentials ? Buffer.from(`${o.credentials.username}:${o.credentials.password}`, 'utf8').toString('base64') : undefined;
    this.#authorization = this.#token ? `Bearer ${this.#token}` : basic ? `Basic ${basic}` : undefined;
    // A short password is not blanked in quoted server text: blanking 'orthanc' in every word would show it.
    const password = o.credentials?.password;
    this.#secrets = [this.#token, basic, password && password.length >= 8 ? password : undefined].filter((x): x is string => !!x);
    this.#signal = o.signal;
    this.#timeoutMs = o.timeoutMs ?? 120_000;
    this.#maxRetrieveBytes = o.maxRetrieveBytes ?? DEFAULT_MAX_RETRIEVE_BYTES;
  }

  /** Never shows the token or password, whatever a caller logs. */
  toJSON(): { baseUrl: string; token: string | undefined; credentials: string | undefined } {
    return { baseUrl: redactUrl(this.baseUrl), token: this.#token ? '[redacted]' : undefined, credentials: this.#authorization?.startsWith('Basic ') ? '[redacted]' : undefined };
  }

  /**
   * One HTTP exchange. The timeout is an idle timeout: it runs while an upload is sent (restarting with each
   * MiB the connection takes), until the headers arrive, then again between chunks of the body, so a large
   * series on a slow link is not cut off, while a server that stalls is (E_IO). The exchange's own
   * AbortController holds the timer and the caller's signals: (a signal made by AbortSignal.any is only weakly
   * held once fetch has the headers, and a collected one never fires, so a stalled body hung for ever.) Read
   * the answer with `body()` or `text()`.
   */
  async #request(
    path: string,
    init: { method?: string; accept: string; body?: Buffer[]; contentType?: string; signal?: AbortSignal | undefined; answerStatus?: number; notFound?: 'series' },
  ): Promise<Exchange> {
    const url = `${this.baseUrl}${path}`;
    const where = whereOf(url);
    const ac = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      clearTimeout(timer);
      // Unref'd: a pending read keeps the process alive by itself; the timer alone must not.
      timer = setTimeout(() => {
        timedOut = true;
        ac.abort();
      }, this.#timeoutMs).unref();
    };
    const outer = [this.#signal, init.signal].filter((x): x is AbortSignal => x !== undefined);
    const unwatch = outer.map((sig) => onAbort(sig, () => ac.abort()));
    const finish = (): void => {
      clearTimeout(timer);
      for (const off of unwatch) off();
    };
    // Whatever ends the exchange early becomes a coded error: the caller's abort, the idle timeout, the network.
    const coded = (e: unknown, stage: string): CtscopeError => {
      if (outer.some((sig) => sig.aborted)) return new CtscopeError('E_ABORTED', 'DICOMweb request was aborted', { where });
      if (timedOut) return new CtscopeError('E_IO', `DICOMweb server ${stage}: nothing moved for ${this.#timeoutMs} ms`, { where });
      if (e instanceof CtscopeError) return e;
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (e as Error).message;
      // Node's fetch refuses the WHATWG "bad ports" (6000, 6665-6669, 10080...) before connecting.
      const hint =
        why === 'bad port'
          ? ' (Node refuses this port for HTTP; serve DICOMweb on another one)'
          : /SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER/.test(why ?? '')
            ? " (the server's certificate is not one Node trusts: a hospital's own CA can be given with NODE_EXTRA_CA_CERTS=ca.pem)"
            : '';
      return new CtscopeError('E_IO', `DICOMweb server ${stage}: ${this.#redact(why)}${hint}`, { where });
    };
    const headers: Record<string, string> = { Accept: init.accept };
    if (this.#authorization) headers.Authorization = this.#authorization;
    if (init.contentType) headers['Content-Type'] = init.contentType;
    const method = init.method ?? 'GET';
    const upload = { state: (init.body ? 'sending' : 'none') as 'none' | 'sending' | 'sent' };
    // A streamed body would go out chunked; some servers and proxies refuse that (411) or mishandle it, so the
    // length is given, as it was when the body was one buffer.
    if (init.body) headers['Content-Length'] = String(init.body.reduce((n, b) => n + b.length, 0));
    let res: Response;
    try {
      if (outer.some((sig) => sig.aborted)) throw new Error('aborted');
      arm();
      const body = init.body
        ? {
            body: uploadStream(init.body, arm, () => (upload.state = 'sent')),
            duplex: 'half' as const,
          }
        : {};
      // An upload is never re-sent to a redirect (fetch would turn a 301-303 POST into a body-less GET, whose
      // answer then read as "stored"): a redirected POST is an error naming where it was sent.
      res = await fetch(url, { method, headers, ...body, redirect: method === 'GET' ? 'follow' : 'manual', signal: ac.signal });
      arm(); // the headers are in: the body gets the whole idle time again
    } catch (e) {
      finish();
      // fetch reads the upload's first chunks before it connects: a refused or unresolved address is still unreachable.
      const code = (e as { cause?: { code?: string } }).cause?.code ?? '';
      const connecting = /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EHOSTUNREACH|ENETUNREACH|UND_ERR_CONNECT_TIMEOUT)$/.test(code);
      throw coded(e, connecting || upload.state === 'none' ? 'unreachable' : upload.state === 'sending' ? 'stopped taking the upload' : 'did not answer the upload');
    }
    const body = async function* (this: void): AsyncGenerator<Uint8Array> {
      try {
        if (!res.body) return;
        arm();
        for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
          arm();
          yield chunk;
        }
      } catch (e) {
        throw coded(e, 'stopped answering');
      } finally {
        finish();
      }
    };
    const text = async (limit = Infinity): Promise<{ text: string; cut: boolean }> => {
      const chunks: Uint8Array[] = [];
      let n = 0;
      for await (const c of body()) {
        chunks.push(c);
        n += c.byteLength;
        if (n > limit) break; // leaving the loop cancels the rest
      }
      return { text: Buffer.concat(chunks).subarray(0, limit).toString('utf8'), cut: n > limit };
    };
    // An error page's first KiB, for at most 2 s: a server may trickle it, or send its headers and stall.
    const readExcerpt = async (): Promise<string> => {
      const chunks: Uint8Array[] = [];
      let n = 0;
      const giveUp = setTimeout(() => ac.abort(), 2_000);
      try {
        for await (const c of body()) {
          chunks.push(c);
          n += c.byteLength;
          if (n >= 1024) break;
        }
      } catch (e) {
        // Only the caller's abort is passed on; a body that stalls or fails otherwise keeps what came.
        if (e instanceof CtscopeError && e.code === 'E_ABORTED') throw e;
      } finally {
        clearTimeout(giveUp);
      }
      return Buffer.concat(chunks).subarray(0, 1024).toString('utf8');
    };
    // An answer given up before its body is read: the stream is cancelled, the timer and listeners go.
    const cancel = async (): Promise<void> => {
      finish();
      await res.body?.cancel().catch(() => undefined);
    };
    // `answerStatus`: an error status whose body the caller reads itself (STOW-RS 409 lists what failed and why).
    if (res.status >= 300 && res.status < 400) {
      await cancel();
      const to = res.headers.get('location');
      let target = 'no Location given';
      if (to) {
        try {
          target = whereOf(new URL(to, url).toString());
        } catch {
          target = 'an address that is not a URL';
        }
      }
      throw new CtscopeError('E_IO', `DICOMweb: the server redirected the ${method} (HTTP ${res.status}) to ${target}; nothing was sent there: give that address as the base URL`, { where });
    }
    if (!res.ok && res.status !== init.answerStatus) {
      // A short excerpt is all an error message needs.
      // Secrets go before the white space is folded, which could split one a server echoes back.
      const raw = this.#redact(await readExcerpt()).replace(/\s+/g, ' ').trim();
      // A short excerpt, cut at a word: enough to tell a proxy's page from the archive's own message. It is kept
      // out of the message (an archive's error text may quote the patient's name or ID, and messages get printed)
      // and given as the error's `cause`, for a host that chooses to log it.
      const excerpt = raw.length > 200 ? `${raw.slice(0, 200).replace(/\s+\S*$/, '')} ...` : raw;
      const said = excerpt ? { cause: new Error(`server said: ${excerpt}`) } : {};
      // Only a retrieve's 404 means the series is not there; a search's or an upload's means the base URL is wrong.
      if (res.status === 404 && init.notFound === 'series')
        throw new CtscopeError('E_SERIES_NOT_FOUND', 'DICOMweb: not found (HTTP 404): no such study or series there, or the base URL is not the DICOMweb service root', { where, ...said });
      if (res.status === 404)
        throw new CtscopeError('E_IO', `DICOMweb: HTTP 404 Not Found for a ${method === 'GET' ? 'search: no such study there, or' : 'STOW-RS upload:'} the base URL is not the DICOMweb service root`, { where, ...said });
      if (res.status === 401 || res.status === 403) {
        // fetch sends no Authorization header to another origin (http -> https on the same host too).
        const elsewhere = res.redirected && res.url && new URL(res.url).origin !== new URL(url).origin ? new URL(res.url).origin : undefined;
        const hint = elsewhere && this.#authorization ? `the request was redirected to ${elsewhere}, where the credentials are not sent: give that address as the base URL` : this.#authHint(res.headers.get('www-authenticate'));
        throw new CtscopeError('E_IO', `DICOMweb: access denied (HTTP ${res.status}); ${hint}`, { where });
      }
      throw new CtscopeError('E_IO', `DICOMweb: HTTP ${res.status} ${res.statusText}`, { where, ...said });
    }
    return { res, body, text: (limit?: number) => text(limit), cancel };
  }

  /** A WADO-RS request whose answer must be multipart; any other answer is closed at once (E_IO). */
  async #multipart(path: string, signal: AbortSignal | undefined): Promise<Exchange & { boundary: string }> {
    const ex = await this.#request(path, { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*', signal, notFound: 'series' });
    try {
      // PS3.18 10.4.3: 206 is "some of the instances"; a series missing its first or last slices passes every
      // later check (the gaps are at the ends), so it is refused here.
      if (ex.res.status !== 200) throw new CtscopeError('E_IO', `DICOMweb: WADO-RS answered HTTP ${ex.res.status} ${ex.res.statusText}, not 200: only part of what was asked (or none of it) came`, { where: whereOf(ex.res.url || `${this.baseUrl}${path}`) });
      if (!ex.res.body) throw new CtscopeError('E_IO', 'DICOMweb: empty WADO-RS answer');
      return { ...ex, boundary: boundaryOf(ex.res.headers.get('content-type')) };
    } catch (e) {
      await ex.cancel();
      throw e;
    }
  }

  #redact(text: string): string {
    return this.#secrets.reduce((t, secret) => t.split(secret).join('[redacted]'), text);
  }

  /** What to do about a 401/403, from what was sent and the scheme the server asks for (WWW-Authenticate). */
  #authHint(challenge: string | null): string {
    const wants = /^\s*basic\b/i.test(challenge ?? '') ? 'basic' : /^\s*bearer\b/i.test(challenge ?? '') ? 'bearer' : undefined;
    const sent = this.#authorization?.startsWith('Basic ') ? 'basic' : this.#token ? 'bearer' : undefined;
    const askBasic = 'a user name and password (HTTP Basic: --credentials-file or CTSCOPE_DICOMWEB_CREDENTIALS)';
    const askBearer = 'a bearer token (--token-file or CTSCOPE_DICOMWEB_TOKEN)';
    if (sent && wants && sent !== wants) return `the server wants ${wants === 'basic' ? askBasic : askBearer}, not ${sent === 'basic' ? 'a user name and password' : 'a bearer token'}`;
    if (sent) return sent === 'basic' ? 'check the user name and password' : 'check the bearer token';
    if (wants === 'basic') return `the server wants ${askBasic}`;
    if (wants === 'bearer') return `the server wants ${askBearer}`;
    return `the server wants ${askBearer} or ${askBasic}`;
  }

  async #json(path: string, signal: AbortSignal | undefined): Promise<DicomJson[]> {
    const { text } = await (await this.#request(path, { accept: 'application/dicom+json', signal })).text();
    if (!text.trim()) return []; // some servers answer 204/empty for no match
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? (v as DicomJson[]) : [];
    } catch (e) {
      throw new CtscopeError('E_IO', 'DICOMweb: QIDO-RS answer is not JSON', { cause: e });
    }
  }

  /** QIDO-RS: series of a study (or all series when `study` is undefined). */
  async searchSeries(study?: string, query: Record<string, string> = {}, options: DicomWebCallOptions = {}): Promise<QidoSeries[]> {
    const q = new URLSearchParams(query).toString();
    const path = study ? `/studies/${checkUid(study, 'study')}/series` : '/series';
    const rows = await this.#json(`${path}${q ? `?${q}` : ''}`, options.signal);
    return rows.map((o) => ({
      studyInstanceUid: str(o, '0020000D') || (study ?? ''),
      seriesInstanceUid: str(o, '0020000E'),
      modality: str(o, '00080060'),
      seriesNumber: int(o, '00200011'),
      instances: int(o, '00201209'),
    }));
  }

  /** QIDO-RS: instances of a series. */
  async searchInstances(study: string, series: string, options: DicomWebCallOptions = {}): Promise<QidoInstance[]> {
    const rows = await this.#json(`/studies/${checkUid(study, 'study')}/series/${checkUid(series, 'series')}/instances`, options.signal);
    return rows.map((o) => ({
      studyInstanceUid: str(o, '0020000D') || study,
      seriesInstanceUid: str(o, '0020000E') || series,
      sopInstanceUid: str(o, '00080018'),
      sopClassUid: str(o, '00080016'),
    }));
  }

  /**
   * WADO-RS: every instance of a series (or of a study when `series` is undefined) as Part 10 bytes,
   * parsed from the multipart answer as it streams in. `onInstance` sees the count so far (given as the third
   * argument, or as `options.onInstance` next to a per-call `signal`).
   */
  async retrieve(study: string, series?: string, options?: ((count: number) => void) | (DicomWebCallOptions & { onInstance?: (count: number) => void })): Promise<BufferInput[]> {
    const o = typeof options === 'function' ? { onInstance: options } : (options ?? {});
    const onInstance = o.onInstance;
    const path = `/studies/${checkUid(study, 'study')}${series ? `/series/${checkUid(series, 'series')}` : ''}`;
    const { body, boundary } = await this.#multipart(path, o.signal);
    const out: BufferInput[] = [];
    for await (const part of parseMultipart(this.#capped(body(), series ? 'the series' : 'the study'), boundary)) {
      throwIfAborted(this.#signal, 'DICOMweb retrieval');
      throwIfAborted(o.signal, 'DICOMweb retrieval');
      const type = part.headers['content-type'] ?? 'application/dicom';
      if (!/application\/dicom/i.test(type)) continue;
      out.push({ name: `wado-${out.length + 1}.dcm`, bytes: part.body });
      onInstance?.(out.length);
    }
    if (out.length === 0) throw new CtscopeError('E_SERIES_NOT_FOUND', 'DICOMweb: the series has no instances');
    return out;
  }

  /** The answer's chunks, E_TOO_LARGE once they pass maxRetrieveBytes (leaving the loop cancels the rest). */
  async *#capped(chunks: AsyncIterable<Uint8Array>, what: string): AsyncGenerator<Uint8Array> {
    let n = 0;
    for await (const c of chunks) {
      n += c.byteLength;
      if (n > this.#maxRetrieveBytes)
        throw new CtscopeError('E_TOO_LARGE', `DICOMweb: ${what} is over ${sizeText(this.#maxRetrieveBytes)} (maxRetrieveBytes)${what === 'the study' ? '; name the series to retrieve' : ''}`);
      yield c;
    }
  }

  /** WADO-RS: one instance as Part 10 bytes. */
  async retrieveInstance(study: string, series: string, sop: string, options: DicomWebCallOptions = {}): Promise<Uint8Array> {
    const parts = await this.retrieveByPath(`/studies/${checkUid(study, 'study')}/series/${checkUid(series, 'series')}/instances/${checkUid(sop, 'instance')}`, options.signal);
    return parts[0]!;
  }

  private async retrieveByPath(path: string, signal: AbortSignal | undefined): Promise<Uint8Array[]> {
    const { body, boundary } = await this.#multipart(path, signal);
    const out: Uint8Array[] = [];
    for await (const part of parseMultipart(this.#capped(body(), 'the instance'), boundary)) out.push(part.body);
    if (out.length === 0) throw new CtscopeError('E_SERIES_NOT_FOUND', 'DICOMweb: no instance in the answer');
    return out;
  }

  /**
   * STOW-RS: stores Part 10 instances; E_IO when the server refuses any of them. `stored` is what the server
   * listed as stored; a 200 may list nothing (PS3.18 makes the list optional then), a 202 must list every one.
   */
  async store(instances: readonly Uint8Array[], study?: string, options: DicomWebCallOptions = {}): Promise<StowResult> {
    const boundary = `ctscope-${randomBytes(12).toString('hex')}`;
    const exchange = await this.#request(study ? `/studies/${checkUid(study, 'study')}` : '/studies', {
      method: 'POST',
      accept: 'application/dicom+json',
      contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
      body: buildMultipart(instances, boundary),
      signal: options.signal,
      answerStatus: 409,
    });
    const status = exchange.res.status;
    // The answer lists a UID and a retrieve URL per instance: about 320 bytes each, so 64 MiB is 200,000 of them.
    const { text, cut } = await exchange.text(STOW_ANSWER_LIMIT);
    if (cut) throw new CtscopeError('E_IO', `DICOMweb: STOW-RS answered HTTP ${status} with over ${sizeText(STOW_ANSWER_LIMIT)}; its list of stored instances could not be read`);
    let o: DicomJson = {};
    let json = text.trim() === '';
    try {
      if (!json) o = JSON.parse(text) as DicomJson;
      json = true;
    } catch {
      // Not JSON: checked below.
    }
    // A server may answer with DICOM XML (PS3.18 allows it) or nothing, and success is the HTTP status then; any
    // other page (a proxy's login or error page, answered 200) says nothing about the instances.
    const type = exchange.res.headers.get('content-type') ?? '';
    if (!json && status !== 409 && !/xml/i.test(type))
      throw new CtscopeError('E_IO', `DICOMweb: STOW-RS answered HTTP ${status} with ${type.split(';')[0] || 'an untyped body'}, not DICOM JSON: not a DICOMweb answer (a proxy's page?); the instances may not be stored`);
    const seq = (tag: string): DicomJson[] => {
      const v = o?.[tag]?.Value;
      return Array.isArray(v) ? v.filter((x): x is DicomJson => typeof x === 'object' && x !== null) : [];
    };
    const result: StowResult = {
      stored: seq('00081199').map((r) => str(r, '00081155')),
      failed: seq('00081198').map((r) => ({ sopInstanceUid: str(r, '00081155'), reason: int(r, '00081197') })),
    };
    // Reason codes are numbers from PS3.18 (0xA700 out of resources, 0xC122 referenced SOP class not supported...):
    // safe to print, unlike an archive's free text.
    const reasons = (): string => {
      const codes = [...new Set(result.failed.map((f) => (f.reason === undefined ? '?' : `0x${f.reason.toString(16).toUpperCase().padStart(4, '0')}`)))];
      return codes.length ? ` (reason ${codes.join(', ')})` : '';
    };
    if (status === 409 || result.failed.length) {
      const n = result.failed.length || instances.length;
      throw new CtscopeError('E_IO', `DICOMweb: STOW-RS refused ${n} of ${instances.length} instance(s)${status === 409 ? ' (HTTP 409)' : ''}${reasons()}`);
    }
    // 202 is "accepted with warnings or failures" (PS3.18 10.5.3): only the instances it lists as stored were.
    if (status === 202) {
      // By UID where the instance's own UID can be read, by count for the rest.
      const listed = new Set(result.stored);
      const unlisted = instances.map(sopUidOf).filter((uid) => uid !== undefined && !listed.has(uid)).length;
      const missing = Math.max(unlisted, instances.length - listed.size);
      if (missing > 0)
        throw new CtscopeError('E_IO', `DICOMweb: STOW-RS answered HTTP 202 and did not confirm ${missing} of ${instances.length} instance(s) as stored`);
    }
    return result;
  }
}
