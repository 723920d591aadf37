import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpsServer } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hasTool } from '../helpers/tools.js';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { parseDicomWebUrl } from '../../src/dicomweb/url.js';
import { encodeElements, fileMeta } from '../../src/dicom/write.js';

/** What the /stow route answers; each STOW test sets it. */
let stowAnswer: { status: number; json: unknown } = { status: 200, json: {} };
/** The framing headers of the last /stow/ request. */
let stowHeaders: { length: string | undefined; encoding: string | undefined } = { length: undefined, encoding: undefined };
/** Every request's URL, in order. */
const requests: string[] = [];
const EXPLICIT_LE = '1.2.840.10008.1.2.1';
const instance = (sop: string): Uint8Array =>
  Buffer.concat([
    fileMeta('1.2.840.10008.5.1.4.1.1.88.34', sop, EXPLICIT_LE, { classUid: '1.2.3.4', version: 'TEST' }),
    encodeElements([
      { tag: 0x00080016, vr: 'UI', value: '1.2.840.10008.5.1.4.1.1.88.34' },
      { tag: 0x00080018, vr: 'UI', value: sop },
    ]),
  ]);
const referenced = (uids: string[]): unknown => ({ '00081199': { vr: 'SQ', Value: uids.map((u) => ({ '00081155': { vr: 'UI', Value: [u] } })) } });

// A server that misbehaves on purpose: headers and the first bytes of a multipart answer, then silence.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (req.url?.includes('/stow202')) {
      // Accepted "with warnings", and nothing confirmed as stored.
      req.resume();
      req.on('end', () => res.writeHead(202, { 'Content-Type': 'application/dicom+json' }).end(JSON.stringify({ '00081199': { vr: 'SQ', Value: [] } })));
      return;
    }
    if (req.url?.includes('/big/')) {
      // A study of five 1 KiB instances, then a sixth that never comes: a capped retrieval must not wait for it.
      res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=B' });
      for (let i = 0; i < 5; i++) res.write(`--B\r\nContent-Type: application/dicom\r\n\r\n${'x'.repeat(1024)}\r\n`);
      return;
    }
    if (req.url?.includes('/stow/')) {
      stowHeaders = { length: req.headers['content-length'], encoding: req.headers['transfer-encoding'] };
      req.resume();
      req.on('end', () => res.writeHead(stowAnswer.status, { 'Content-Type': 'application/dicom+json' }).end(JSON.stringify(stowAnswer.json)));
      return;
    }
    if (req.url?.includes('/r301/')) {
      // An http -> https style move in front of the archive: fetch would re-send a POST as a body-less GET.
      req.resume();
      res.writeHead(301, { Location: req.url.replace('/r301/', '/moved/') }).end();
      return;
    }
    if (req.url?.includes('/badloc/')) {
      req.resume();
      res.writeHead(302, { Location: 'http://[bad' }).end();
      return;
    }
    if (req.url?.includes('/moved/')) {
      req.resume();
      res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end('[]');
      return;
    }
    if (req.url?.includes('/stowhtml/')) {
      // A proxy's login page, answered 200.
      req.resume();
      req.on('end', () => res.writeHead(200, { 'Content-Type': 'text/html' }).end('<html><body>Please log in</body></html>'));
      return;
    }
    if (req.url?.includes('/stowslow/')) {
      // Takes the upload at about 4 MiB/s (400 KiB every 100 ms): 4 s for the test's 16 MiB, twice the client's
      // idle time, while a MiB moves every quarter second (and the last few MiB drain from socket buffers in ~1 s).
      let window = 0;
      req.on('data', (chunk: Buffer) => {
        window += chunk.length;
        if (window >= 400 * 1024) req.pause();
      });
      const t = setInterval(() => {
        window = 0;
        req.resume();
      }, 100);
      req.on('end', () => {
        clearInterval(t);
        res.writeHead(200, { 'Content-Type': 'application/dicom+json' }).end(JSON.stringify(referenced(['1.2.3.100'])));
      });
      return;
    }
    if (req.url?.includes('/partial/')) {
      // PS3.18's "some of the instances".
      res.writeHead(206, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=B' });
      res.end('--B\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--B--\r\n');
      return;
    }
    if (req.url?.includes('/stall502')) {
      // An error page whose headers come and whose body then stops.
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      res.write('upstream gone');
      return;
    }
    if (req.url?.includes('/qido500/')) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('boom');
      return;
    }
    if (req.url?.includes('/qido404/')) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('no such route');
      return;
    }
    if (req.url?.includes('/redirect-away')) {
      // Another origin: localhost, not 127.0.0.1.
      res.writeHead(302, { Location: `http://localhost:${(server.address() as AddressInfo).port}/denied-basic/studies` }).end();
      return;
    }
    if (req.url?.includes('/error-page')) {
      res.writeHead(500, { 'Content-Type': 'text/plain' }).end('upstream orthanc-main failed; it said longpassword-123');
      return;
    }
    if (req.url?.includes('/denied-basic')) {
      res.writeHead(401, { 'Content-Type': 'text/plain', 'WWW-Authenticate': 'Basic realm="Orthanc Secure Area"' }).end('no');
      return;
    }
    if (req.url?.includes('/denied')) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('no');
      return;
    }
    if (req.url?.includes('/plain')) {
      // Not multipart, and never finished.
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write('0123456789');
      return;
    }
    if (req.url?.includes('/trickle')) {
      // An error page sent a byte at a time, for ever.
      res.writeHead(502, { 'Content-Type': 'text/plain' });
      const t = setInterval(() => res.write('.'), 100);
      res.on('close', () => clearInterval(t));
      return;
    }
    if (req.url?.includes('/late')) {
      // Headers at 1.4 s, the whole answer 1.2 s after them: 2.6 s in all, over the client's 2 s idle limit, with
      // 0.6 s of margin on each side (a 0.1 s margin failed once on a loaded machine).
      setTimeout(() => {
        res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=B' });
        res.flushHeaders();
        setTimeout(() => res.end('--B\r\nContent-Type: application/dicom\r\n\r\nDICM\r\n--B--\r\n'), 1_200);
      }, 1_400);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'multipart/related; type="application/dicom"; boundary=B', 'Content-Length': '100000' });
    res.write('--B\r\nContent-Type: application/dicom\r\n\r\nDICM');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dicom-web`;
});
afterAll(() => {
  server.closeAllConnections();
  server.close();
});

const UID = '1.2.3';
const gc = (): void => {
  setFlagsFromString('--expose-gc');
  (runInNewContext('gc') as () => void)();
};

describe('DICOMweb client against a server that stops mid-answer', () => {
  it('the idle timeout ends a stalled body with E_IO (also after a garbage collection)', async () => {
    const client = new DicomWebClient({ baseUrl: base, timeoutMs: 400 });
    const t0 = performance.now();
    const pending = client.retrieve(UID, UID);
    // The collector once took the only reference to the timeout signal, and the read waited for ever.
    setTimeout(gc, 100);
    await expect(pending).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/stopped answering: nothing moved for 400 ms/) });
    expect(performance.now() - t0).toBeLessThan(5_000);
  }, 10_000);

  it("the caller's abort while the body streams in is E_ABORTED", async () => {
    const controller = new AbortController();
    const client = new DicomWebClient({ baseUrl: base, signal: controller.signal, timeoutMs: 10_000 });
    const pending = client.retrieve(UID, UID);
    setTimeout(() => controller.abort(), 200);
    await expect(pending).rejects.toMatchObject({ code: 'E_ABORTED' });
  }, 10_000);

  it('a per-call signal cancels that call only; the client goes on serving others', async () => {
    const client = new DicomWebClient({ baseUrl: base, timeoutMs: 10_000 });
    const one = new AbortController();
    const pending = client.retrieve(UID, UID, { signal: one.signal });
    setTimeout(() => one.abort(), 200);
    await expect(pending).rejects.toMatchObject({ code: 'E_ABORTED' });
    const other = client.retrieve(UID, UID, { signal: AbortSignal.timeout(300) });
    await expect(other).rejects.toMatchObject({ code: 'E_ABORTED' });
    await expect(client.searchSeries(UID, {}, { signal: AbortSignal.abort() })).rejects.toMatchObject({ code: 'E_ABORTED' });
  }, 10_000);

  it('a non-multipart answer is refused at once and closed: the process is not kept alive by it', async () => {
    const script = `import { DicomWebClient } from ${JSON.stringify(new URL('../../dist/dicomweb/client.js', import.meta.url).href)};
      const c = new DicomWebClient({ baseUrl: ${JSON.stringify(`${base}/plain`)}, timeoutMs: 20000 });
      await c.retrieve('1.2.3', '1.2.3').catch((e) => console.log(e.code));`;
    const t0 = performance.now();
    const out = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', () => resolve(text.trim()));
    });
    expect(out).toBe('E_IO');
    expect(performance.now() - t0).toBeLessThan(8_000);
  }, 30_000);

  it('an error page that trickles gives its excerpt within seconds; the idle time restarts when the headers arrive', async () => {
    const t0 = performance.now();
    const e = await new DicomWebClient({ baseUrl: `${base}/trickle`, timeoutMs: 1_000 }).searchSeries('1.2.3').catch((x: unknown) => x);
    // The server's text is the error's cause, never its message: an archive's error page may quote a patient.
    expect(e).toMatchObject({ code: 'E_IO', message: 'DICOMweb: HTTP 502 Bad Gateway', cause: { message: expect.stringMatching(/^server said: \.+/) } });
    expect(performance.now() - t0).toBeLessThan(6_000);
    const parts = await new DicomWebClient({ baseUrl: `${base}/late`, timeoutMs: 2_000 }).retrieve(UID, UID);
    expect(parts).toHaveLength(1);
  }, 20_000);

  it("the caller's abort while an error page is read is still E_ABORTED", async () => {
    const controller = new AbortController();
    const pending = new DicomWebClient({ baseUrl: `${base}/trickle`, signal: controller.signal, timeoutMs: 10_000 }).searchSeries('1.2.3');
    setTimeout(() => controller.abort(), 300);
    await expect(pending).rejects.toMatchObject({ code: 'E_ABORTED' });
  }, 10_000);

  it('STOW-RS: an HTTP 202 that confirms none of the instances is E_IO, not a success', async () => {
    await expect(new DicomWebClient({ baseUrl: `${base}/stow202` }).store([new Uint8Array(200)])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/HTTP 202 and did not confirm 1 of 1/) });
  });

  it('STOW-RS: a 202 is checked by SOP Instance UID, not by count', async () => {
    const client = new DicomWebClient({ baseUrl: `${base}/stow/` });
    const sent = [instance('1.2.3.100'), instance('1.2.3.101')];
    // Two UIDs listed, but one of them is not one we sent.
    stowAnswer = { status: 202, json: referenced(['1.2.3.100', '1.2.3.999']) };
    await expect(client.store(sent)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/did not confirm 1 of 2/) });
    stowAnswer = { status: 202, json: referenced(['1.2.3.101', '1.2.3.100']) };
    await expect(client.store(sent)).resolves.toMatchObject({ stored: ['1.2.3.101', '1.2.3.100'], failed: [] });
  });

  it('STOW-RS: a 409 is E_IO naming the failure reason codes from its FailedSOPSequence', async () => {
    const client = new DicomWebClient({ baseUrl: `${base}/stow/` });
    const failed = { '00081198': { vr: 'SQ', Value: [{ '00081155': { vr: 'UI', Value: ['1.2.3.100'] }, '00081197': { vr: 'US', Value: [0xa700] } }] } };
    stowAnswer = { status: 409, json: failed };
    await expect(client.store([instance('1.2.3.100')])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/refused 1 of 1 instance\(s\) \(HTTP 409\) \(reason 0xA700\)/) });
    // A 409 with a body that is not DICOM JSON is still a refusal, of everything sent.
    stowAnswer = { status: 409, json: 'conflict' };
    await expect(client.store([instance('1.2.3.100'), instance('1.2.3.101')])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/refused 2 of 2 instance\(s\) \(HTTP 409\)$/) });
  });

  it("STOW-RS: a 404 is E_IO (no uploads there), not a retrieve's E_SERIES_NOT_FOUND", async () => {
    stowAnswer = { status: 404, json: {} };
    await expect(new DicomWebClient({ baseUrl: `${base}/stow/` }).store([instance('1.2.3.100')])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/HTTP 404/) });
  });

  it('CLI: detect on a DICOMweb URL checks --out before it retrieves anything', async () => {
    const { mkdtemp, rm, writeFile } = await import('node:fs/promises');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = await mkdtemp(join(tmpdir(), 'ctscope-dw-out-'));
    try {
      await writeFile(join(dir, 'a-file'), 'x');
      requests.length = 0;
      const cli = new URL('../../dist/cli.js', import.meta.url).pathname;
      const url = `dicomweb+${base}/counted?study=1.2.3`;
      const r = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const p = spawn(process.execPath, [cli, 'detect', url, '-m', 'nodule', '--out', join(dir, 'a-file', 'sub'), '-q']);
        let stderr = '';
        p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        p.on('close', (code) => resolve({ code, stderr }));
      });
      expect(r.stderr).toMatch(/^error\[E_OUTPUT\]/m);
      expect(r.code).toBe(4);
      expect(requests).toEqual([]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }, 30_000);

  it('STOW-RS: a 200 that lists nothing stored is a success with an empty list (the CLI does not count it)', async () => {
    stowAnswer = { status: 200, json: {} };
    await expect(new DicomWebClient({ baseUrl: `${base}/stow/` }).store([instance('1.2.3.100')])).resolves.toEqual({ stored: [], failed: [] });
  });

  it('a retrieval over maxRetrieveBytes is E_TOO_LARGE as it passes the cap, and a study is told to name its series', async () => {
    const capped = new DicomWebClient({ baseUrl: `${base}/big/`, maxRetrieveBytes: 3000, timeoutMs: 10_000 });
    const t0 = performance.now();
    await expect(capped.retrieve(UID)).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/the study is over 3000 bytes \(maxRetrieveBytes\); name the series/) });
    await expect(capped.retrieve(UID, UID)).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/the series is over/) });
    // At once, not after the idle timeout that the unfinished answer would reach.
    expect(performance.now() - t0).toBeLessThan(5_000);
    // One instance by itself is capped too.
    await expect(capped.retrieveInstance(UID, UID, UID)).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/the instance is over 3000 bytes/) });
    expect(() => new DicomWebClient({ baseUrl: base, maxRetrieveBytes: 0 })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });

  it('client options are checked when it is made: missing, mistyped or unknown ones are E_USAGE', () => {
    for (const bad of [undefined, {}, { baseUrl: base, signal: {} }, { baseUrl: base, timeoutMs: 'abc' }, { baseUrl: base, tokn: 'x' }, { baseUrl: 42 }])
      expect(() => new DicomWebClient(bad as never), JSON.stringify(bad)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(new DicomWebClient({ baseUrl: base, timeoutMs: 5000 }).baseUrl).toBe(base);
  });

  it('STOW-RS: a redirect is E_IO naming where it pointed; the upload is not re-sent there as a GET', async () => {
    requests.length = 0;
    const e = await new DicomWebClient({ baseUrl: `${base}/r301/` }).store([instance('1.2.3.100')]).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_IO', message: expect.stringMatching(/redirected the POST \(HTTP 301\) to http:\/\/127\.0\.0\.1:\d+\/dicom-web\/moved\/studies; nothing was sent there/) });
    expect(requests.filter((u) => u.includes('/moved/'))).toEqual([]);
  });

  it('STOW-RS: the streamed upload still says its length (not chunked, which some servers refuse)', async () => {
    stowAnswer = { status: 200, json: referenced(['1.2.3.100']) };
    const one = instance('1.2.3.100');
    await new DicomWebClient({ baseUrl: `${base}/stow/` }).store([one]);
    expect(stowHeaders.encoding).toBeUndefined();
    expect(Number(stowHeaders.length)).toBeGreaterThan(one.length);
  });

  it('STOW-RS: a refused connection is "unreachable", and a redirect to no URL is E_IO, not a TypeError', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await expect(new DicomWebClient({ baseUrl: `http://127.0.0.1:${port}/dicom-web` }).store([instance('1.2.3.100')])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/unreachable/) });
    await expect(new DicomWebClient({ baseUrl: `${base}/badloc/` }).store([instance('1.2.3.100')])).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/redirected the POST \(HTTP 302\) to an address that is not a URL/) });
  });

  it("STOW-RS: a 200 that is not DICOM JSON (a proxy's page) is E_IO, not a success", async () => {
    await expect(new DicomWebClient({ baseUrl: `${base}/stowhtml/` }).store([instance('1.2.3.100')])).rejects.toMatchObject({
      code: 'E_IO',
      message: expect.stringMatching(/answered HTTP 200 with text\/html, not DICOM JSON/),
    });
  });

  it('STOW-RS: the answer listing thousands of stored instances is read whole', async () => {
    // About 1.3 MB: 6000 instances with their retrieve URLs (the old 1 MiB cut read as "none listed").
    const uids = Array.from({ length: 6000 }, (_, i) => `1.2.826.0.1.3680043.8.498.${1_000_000 + i}`);
    const url = (u: string): unknown => ({ '00081155': { vr: 'UI', Value: [u] }, '00081190': { vr: 'UR', Value: [`http://archive.example/dicom-web/studies/1.2.3/series/1.2.4/instances/${u}`] } });
    stowAnswer = { status: 200, json: { '00081199': { vr: 'SQ', Value: uids.map(url) } } };
    expect(JSON.stringify(stowAnswer.json).length).toBeGreaterThan(1 << 20);
    const r = await new DicomWebClient({ baseUrl: `${base}/stow/` }).store([instance('1.2.3.100')]);
    expect(r.stored.length).toBe(6000);
  });

  it('STOW-RS: a slow upload is not cut off while the server keeps taking it (the idle time restarts with each MiB)', async () => {
    const client = new DicomWebClient({ baseUrl: `${base}/stowslow/`, timeoutMs: 2_000 });
    const big = Buffer.concat([instance('1.2.3.100'), Buffer.alloc(16 << 20)]);
    const t0 = performance.now();
    await expect(client.store([big])).resolves.toMatchObject({ stored: ['1.2.3.100'] });
    // It did take longer than the idle time (else this shows nothing).
    expect(performance.now() - t0).toBeGreaterThan(2_500);
  }, 30_000);

  it('WADO-RS: a 206 (part of the series) is E_IO, not a series with its ends missing', async () => {
    await expect(new DicomWebClient({ baseUrl: `${base}/partial/` }).retrieve(UID, UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/HTTP 206/) });
  });

  it('an error page that sends its headers and stalls is reported within seconds, not after the idle timeout', async () => {
    const t0 = performance.now();
    await expect(new DicomWebClient({ baseUrl: `${base}/stall502`, timeoutMs: 60_000 }).retrieve(UID, UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/HTTP 502/) });
    expect(performance.now() - t0).toBeLessThan(20_000);
  }, 30_000);

  it("a search's error keeps the query's values (patient name, ID, birth date) out of `where`", async () => {
    const e = (await new DicomWebClient({ baseUrl: `${base}/qido500/` })
      .searchSeries(undefined, { PatientName: 'DOE^JOHN', PatientID: 'MRN-998877', PatientBirthDate: '19600101' })
      .catch((x: unknown) => x)) as { code: string; where: string };
    expect(e.code).toBe('E_IO');
    expect(e.where).toMatch(/\/series\?PatientName&PatientID&PatientBirthDate$/);
    expect(JSON.stringify(e)).not.toMatch(/DOE|998877|1960/);
  });

  it("a search's 404 is a wrong base URL (E_IO), not a missing series", async () => {
    await expect(new DicomWebClient({ baseUrl: `${base}/qido404/` }).searchSeries(UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/service root/) });
  });

  it('a broken %-escape in a DICOMweb URL is E_USAGE', () => {
    expect(() => parseDicomWebUrl('dicomweb+http://pacs/dicom-web/studies/%E0/series/1.2')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/broken %-escape/) }));
    expect(parseDicomWebUrl('dicomweb+http://pacs/dicom-web/studies/1.2%2E3/series/1.2')).toMatchObject({ study: '1.2.3', series: '1.2' });
  });

  it('a 401 says what the server asks for (WWW-Authenticate) and what was sent', async () => {
    const denied = (path: string, auth: object = {}) => new DicomWebClient({ baseUrl: `${base}/${path}`, ...auth }).retrieve(UID, UID).catch((e: unknown) => e);
    expect(await denied('denied')).toMatchObject({ code: 'E_IO', message: expect.stringMatching(/wants a bearer token \(--token-file or CTSCOPE_DICOMWEB_TOKEN\) or a user name and password/) });
    // Orthanc's own login: Basic. It used to say "the server wants a bearer token".
    expect(await denied('denied-basic')).toMatchObject({ message: expect.stringMatching(/the server wants a user name and password \(HTTP Basic: --credentials-file/) });
    expect(await denied('denied-basic', { token: 'tok' })).toMatchObject({ message: expect.stringMatching(/wants a user name and password .*, not a bearer token$/) });
    expect(await denied('denied-basic', { credentials: { username: 'u', password: 'p' } })).toMatchObject({ message: expect.stringMatching(/check the user name and password$/) });
    expect(await denied('denied', { token: 'tok' })).toMatchObject({ message: expect.stringMatching(/check the bearer token$/) });
  });

  it('a 401 after a redirect to another origin says the credentials were not sent there', async () => {
    const client = new DicomWebClient({ baseUrl: `${base}/redirect-away`, credentials: { username: 'u', password: 'p' } });
    await expect(client.searchSeries(UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/redirected to http:\/\/localhost:\d+, where the credentials are not sent/) });
  });

  it("a server's error text keeps a short password (blanking it would show it) and blanks a long one", async () => {
    const cause = async (password: string) => String(((await new DicomWebClient({ baseUrl: `${base}/error-page`, credentials: { username: 'u', password } }).searchSeries(UID).catch((e: unknown) => e)) as { cause?: Error }).cause?.message);
    expect(await cause('orthanc')).toBe('server said: upstream orthanc-main failed; it said longpassword-123');
    expect(await cause('longpassword-123')).toBe('server said: upstream orthanc-main failed; it said [redacted]');
  });

  it('a token an HTTP header cannot carry, or malformed credentials, are E_USAGE at once (they were "server unreachable")', () => {
    for (const token of ['two\nlines', 'with space', 'caf\u00e9']) expect(() => new DicomWebClient({ baseUrl: base, token })).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.not.stringContaining(token) }));
    for (const credentials of [{ username: '', password: 'p' }, { username: 'a:b', password: 'p' }, { username: 'u' }]) {
      expect(() => new DicomWebClient({ baseUrl: base, credentials: credentials as never })).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    }
    expect(() => new DicomWebClient({ baseUrl: base, token: 't', credentials: { username: 'u', password: 'p' } })).toThrow(/not both/);
  });

  it.skipIf(!hasTool('openssl'))("an https server whose certificate Node does not trust is E_IO with the hint of NODE_EXTRA_CA_CERTS", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-tls-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'), '-days', '1', '-subj', '/CN=127.0.0.1'], { stdio: 'ignore' });
    const tls = createHttpsServer({ key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) }, (_req, res) => res.end('[]'));
    await new Promise<void>((r) => tls.listen(0, '127.0.0.1', r));
    try {
      const client = new DicomWebClient({ baseUrl: `https://127.0.0.1:${(tls.address() as AddressInfo).port}/dicom-web` });
      await expect(client.searchSeries(UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/SELF_SIGNED.*NODE_EXTRA_CA_CERTS=ca\.pem/) });
    } finally {
      tls.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the WADO-RS paths a PACS shows are read as the study or series they name; an instance alone is E_USAGE', () => {
    expect(parseDicomWebUrl('dicomweb+http://pacs/dicom-web/studies/1.2/series')).toMatchObject({ baseUrl: 'http://pacs/dicom-web', study: '1.2', series: undefined });
    expect(parseDicomWebUrl('dicomweb+http://pacs/dicom-web/studies/1.2/series/1.3/instances/')).toMatchObject({ baseUrl: 'http://pacs/dicom-web', study: '1.2', series: '1.3' });
    expect(() => parseDicomWebUrl('dicomweb+http://pacs/dicom-web/studies/1.2/series/1.3/instances/1.4')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/names one instance/) }));
    expect(() => parseDicomWebUrl('dicomweb+http://pacs/dicom-web?study=abc')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/study 'abc' is not a DICOM UID/) }));
    expect(() => parseDicomWebUrl('dicomweb+http://pacs/dicom-web?study=1.2&series=x')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/series 'x' is not a DICOM UID/) }));
    // A service root whose own path holds "studies"; a path and a query that disagree.
    expect(parseDicomWebUrl('dicomweb+http://h/pacs/studies/dicom-web?study=1.2&series=3.4')).toEqual({ baseUrl: 'http://h/pacs/studies/dicom-web', study: '1.2', series: '3.4' });
    expect(parseDicomWebUrl('dicomweb+http://h/dicom-web/studies/1.2?study=1.2&series=3.4')).toEqual({ baseUrl: 'http://h/dicom-web', study: '1.2', series: '3.4' });
    expect(() => parseDicomWebUrl('dicomweb+http://h/dicom-web/studies/1.2/series/3.4?study=9.9')).toThrow(expect.objectContaining({ code: 'E_USAGE', message: expect.stringMatching(/two different studies or series/) }));
    expect(() => parseDicomWebUrl('dicomweb+http://h/dicom-web/studies/1.2/series/3.4?series=3.5')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
