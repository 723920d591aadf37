import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DicomWebClient } from '../../src/dicomweb/client.js';

// A server that misbehaves on purpose: headers and the first bytes of a multipart answer, then silence.
let server: Server;
let base: string;
beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url?.includes('/denied')) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('no');
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
    await expect(pending).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/stopped answering: no data for 400 ms/) });
    expect(performance.now() - t0).toBeLessThan(5_000);
  }, 10_000);

  it("the caller's abort while the body streams in is E_ABORTED", async () => {
    const controller = new AbortController();
    const client = new DicomWebClient({ baseUrl: base, signal: controller.signal, timeoutMs: 10_000 });
    const pending = client.retrieve(UID, UID);
    setTimeout(() => controller.abort(), 200);
    await expect(pending).rejects.toMatchObject({ code: 'E_ABORTED' });
  }, 10_000);

  it('a 401 without a token says the server wants one', async () => {
    const client = new DicomWebClient({ baseUrl: `${base}/denied` });
    await expect(client.retrieve(UID, UID)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/wants a bearer token/) });
  });
});
