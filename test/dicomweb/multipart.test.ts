import { describe, expect, it } from 'vitest';
import { boundaryOf, buildMultipart, parseMultipart } from '../../src/dicomweb/multipart.js';

async function* chunks(bytes: Buffer, size: number): AsyncGenerator<Uint8Array> {
  for (let o = 0; o < bytes.length; o += size) yield bytes.subarray(o, Math.min(bytes.length, o + size));
}

async function collect(body: Buffer, boundary: string, size: number): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const p of parseMultipart(chunks(body, size), boundary)) out.push(p.body);
  return out;
}

describe('multipart/related', () => {
  // Parts that contain CRLFs, dashes and a near-miss of the delimiter.
  const boundary = 'abc123';
  const parts = [Buffer.from('DICM\r\n--abc12\r\n-- x'), Buffer.alloc(0), Buffer.from(Array.from({ length: 3000 }, (_, i) => i % 251))];
  const body = Buffer.concat([Buffer.from('preamble\r\n'), ...buildMultipart(parts, boundary)]);

  it('reads back what buildMultipart wrote, for every chunk size', async () => {
    for (const size of [1, 2, 3, 7, 8, 9, 64, 4096, body.length]) {
      const got = await collect(body, boundary, size);
      expect(got.map((b) => Buffer.from(b).toString('hex')), `chunk ${size}`).toEqual(parts.map((p) => p.toString('hex')));
    }
  });

  it('reads part headers', async () => {
    for await (const p of parseMultipart(chunks(body, 5), boundary)) expect(p.headers['content-type']).toBe('application/dicom');
  });

  it('a truncated body is a coded error, not a hang', async () => {
    await expect(collect(body.subarray(0, body.length - 20), boundary, 16)).rejects.toMatchObject({ code: 'E_IO' });
    await expect(collect(Buffer.from('no delimiter here'), boundary, 4)).rejects.toMatchObject({ code: 'E_IO' });
  });

  it('finds quoted and bare boundaries', () => {
    expect(boundaryOf('multipart/related; type="application/dicom"; boundary="a b"')).toBe('a b');
    expect(boundaryOf('multipart/related; boundary=xyz; type=application/dicom')).toBe('xyz');
    expect(() => boundaryOf('application/json')).toThrow(/not multipart/);
  });
});
