import { randomBytes } from 'node:crypto';
import { CtscopeError, throwIfAborted } from '../errors.js';
import type { BufferInput } from '../ingest/load.js';
import { boundaryOf, buildMultipart, parseMultipart } from './multipart.js';

export interface DicomWebOptions {
  /** Service root, e.g. http://127.0.0.1:8042/dicom-web (no trailing slash needed). */
  baseUrl: string;
  /** Bearer token sent as `Authorization: Bearer ...`; never printed (error messages redact it). */
  token?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Per-request timeout in ms (default 120000). */
  timeoutMs?: number | undefined;
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

/** A URL with any user:password removed, for messages. */
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
function checkUid(uid: string, what: string): string {
  if (!UID_RE.test(uid) || uid.length > 64) throw new CtscopeError('E_USAGE', `${what} '${uid.slice(0, 80)}' is not a DICOM UID`);
  return uid;
}

/**
 * A small DICOMweb client: QIDO-RS searches, WADO-RS retrieval streamed part by part, STOW-RS storage.
 * Stateless apart from its options, so one client may serve concurrent requests.
 */
export class DicomWebClient {
  readonly baseUrl: string;
  readonly #token: string | undefined;
  readonly #signal: AbortSignal | undefined;
  readonly #timeoutMs: number;

  constructor(o: DicomWebOptions) {
    let u: URL;
    try {
      u = new URL(o.baseUrl);
    } catch {
      throw new CtscopeError('E_USAGE', `DICOMweb base URL is not a URL: ${redactUrl(o.baseUrl)}`);
    }
    if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new CtscopeError('E_USAGE', `DICOMweb base URL must be http or https (got ${u.protocol})`);
    if (u.username || u.password) throw new CtscopeError('E_USAGE', `DICOMweb base URL must not hold credentials (${redactUrl(o.baseUrl)}): use a bearer token`);
    this.baseUrl = o.baseUrl.replace(/\/+$/, '');
    this.#token = o.token || undefined;
    this.#signal = o.signal;
    this.#timeoutMs = o.timeoutMs ?? 120_000;
  }

  /** Never shows the token, whatever a caller logs. */
  toJSON(): { baseUrl: string; token: string | undefined } {
    return { baseUrl: redactUrl(this.baseUrl), token: this.#token ? '[redacted]' : undefined };
  }

  async #request(path: string, init: { method?: string; accept: string; body?: Buffer[]; contentType?: string; signal?: AbortSignal | undefined }): Promise<Response> {
    const url = `${this.baseUrl}${path}`;
    const signals = [AbortSignal.timeout(this.#timeoutMs), ...(this.#signal ? [this.#signal] : []), ...(init.signal ? [init.signal] : [])];
    const headers: Record<string, string> = { Accept: init.accept };
    if (this.#token) headers.Authorization = `Bearer ${this.#token}`;
    if (init.contentType) headers['Content-Type'] = init.contentType;
    let res: Response;
    try {
      res = await fetch(url, { method: init.method ?? 'GET', headers, ...(init.body ? { body: Buffer.concat(init.body) } : {}), signal: AbortSignal.any(signals) });
    } catch (e) {
      if (this.#signal?.aborted || init.signal?.aborted) throw new CtscopeError('E_ABORTED', 'DICOMweb request was aborted', { where: redactUrl(url) });
      const cause = (e as { cause?: { code?: string; message?: string } }).cause;
      const why = (e as Error).name === 'TimeoutError' ? `no answer within ${this.#timeoutMs} ms` : cause?.code ?? cause?.message ?? (e as Error).message;
      throw new CtscopeError('E_IO', `DICOMweb server unreachable: ${this.#redact(why)}`, { where: redactUrl(url) });
    }
    if (!res.ok) {
      const text = this.#redact((await res.text().catch(() => '')).slice(0, 200).replace(/\s+/g, ' '));
      if (res.status === 404) throw new CtscopeError('E_SERIES_NOT_FOUND', `DICOMweb: not found (HTTP 404)${text ? `: ${text}` : ''}`, { where: redactUrl(url) });
      if (res.status === 401 || res.status === 403) throw new CtscopeError('E_IO', `DICOMweb: access denied (HTTP ${res.status}); check the bearer token`, { where: redactUrl(url) });
      throw new CtscopeError('E_IO', `DICOMweb: HTTP ${res.status} ${res.statusText}${text ? `: ${text}` : ''}`, { where: redactUrl(url) });
    }
    return res;
  }

  #redact(text: string): string {
    return this.#token ? text.split(this.#token).join('[redacted]') : text;
  }

  async #json(path: string): Promise<DicomJson[]> {
    const res = await this.#request(path, { accept: 'application/dicom+json' });
    const text = await res.text();
    if (!text.trim()) return []; // some servers answer 204/empty for no match
    try {
      const v = JSON.parse(text) as unknown;
      return Array.isArray(v) ? (v as DicomJson[]) : [];
    } catch (e) {
      throw new CtscopeError('E_IO', 'DICOMweb: QIDO-RS answer is not JSON', { cause: e });
    }
  }

  /** QIDO-RS: series of a study (or all series when `study` is undefined). */
  async searchSeries(study?: string, query: Record<string, string> = {}): Promise<QidoSeries[]> {
    const q = new URLSearchParams(query).toString();
    const path = study ? `/studies/${checkUid(study, 'study')}/series` : '/series';
    const rows = await this.#json(`${path}${q ? `?${q}` : ''}`);
    return rows.map((o) => ({
      studyInstanceUid: str(o, '0020000D') || (study ?? ''),
      seriesInstanceUid: str(o, '0020000E'),
      modality: str(o, '00080060'),
      seriesNumber: int(o, '00200011'),
      instances: int(o, '00201209'),
    }));
  }

  /** QIDO-RS: instances of a series. */
  async searchInstances(study: string, series: string): Promise<QidoInstance[]> {
    const rows = await this.#json(`/studies/${checkUid(study, 'study')}/series/${checkUid(series, 'series')}/instances`);
    return rows.map((o) => ({
      studyInstanceUid: str(o, '0020000D') || study,
      seriesInstanceUid: str(o, '0020000E') || series,
      sopInstanceUid: str(o, '00080018'),
      sopClassUid: str(o, '00080016'),
    }));
  }

  /**
   * WADO-RS: every instance of a series (or of a study when `series` is undefined) as Part 10 bytes,
   * parsed from the multipart answer as it streams in. `onInstance` sees the count so far.
   */
  async retrieve(study: string, series?: string, onInstance?: (count: number) => void): Promise<BufferInput[]> {
    const path = `/studies/${checkUid(study, 'study')}${series ? `/series/${checkUid(series, 'series')}` : ''}`;
    const res = await this.#request(path, { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' });
    if (!res.body) throw new CtscopeError('E_IO', 'DICOMweb: empty WADO-RS answer');
    const boundary = boundaryOf(res.headers.get('content-type'));
    const out: BufferInput[] = [];
    for await (const part of parseMultipart(res.body as unknown as AsyncIterable<Uint8Array>, boundary)) {
      throwIfAborted(this.#signal, 'DICOMweb retrieval');
      const type = part.headers['content-type'] ?? 'application/dicom';
      if (!/application\/dicom/i.test(type)) continue;
      out.push({ name: `wado-${out.length + 1}.dcm`, bytes: part.body });
      onInstance?.(out.length);
    }
    if (out.length === 0) throw new CtscopeError('E_SERIES_NOT_FOUND', 'DICOMweb: the series has no instances');
    return out;
  }

  /** WADO-RS: one instance as Part 10 bytes. */
  async retrieveInstance(study: string, series: string, sop: string): Promise<Uint8Array> {
    const parts = await this.retrieveByPath(`/studies/${checkUid(study, 'study')}/series/${checkUid(series, 'series')}/instances/${checkUid(sop, 'instance')}`);
    return parts[0]!;
  }

  private async retrieveByPath(path: string): Promise<Uint8Array[]> {
    const res = await this.#request(path, { accept: 'multipart/related; type="application/dicom"; transfer-syntax=*' });
    const boundary = boundaryOf(res.headers.get('content-type'));
    const out: Uint8Array[] = [];
    for await (const part of parseMultipart(res.body as unknown as AsyncIterable<Uint8Array>, boundary)) out.push(part.body);
    if (out.length === 0) throw new CtscopeError('E_SERIES_NOT_FOUND', 'DICOMweb: no instance in the answer');
    return out;
  }

  /** STOW-RS: stores Part 10 instances; E_IO when the server refuses any of them. */
  async store(instances: readonly Uint8Array[], study?: string): Promise<StowResult> {
    const boundary = `ctscope-${randomBytes(12).toString('hex')}`;
    const res = await this.#request(study ? `/studies/${checkUid(study, 'study')}` : '/studies', {
      method: 'POST',
      accept: 'application/dicom+json',
      contentType: `multipart/related; type="application/dicom"; boundary=${boundary}`,
      body: buildMultipart(instances, boundary),
    });
    const text = await res.text();
    let o: DicomJson = {};
    try {
      if (text.trim()) o = JSON.parse(text) as DicomJson;
    } catch {
      // A server may answer with XML or nothing; success is the HTTP status then.
    }
    const seq = (tag: string): DicomJson[] => ((o[tag]?.Value ?? []) as DicomJson[]);
    const result: StowResult = {
      stored: seq('00081199').map((r) => str(r, '00081155')),
      failed: seq('00081198').map((r) => ({ sopInstanceUid: str(r, '00081155'), reason: int(r, '00081197') })),
    };
    if (result.failed.length) throw new CtscopeError('E_IO', `DICOMweb: STOW-RS refused ${result.failed.length} instance(s) (reason ${result.failed.map((f) => f.reason ?? '?').join(', ')})`);
    return result;
  }
}
