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
    const types: (string | undefined)[] = [];
    for await (const p of parseMultipart(chunks(body, 5), boundary)) types.push(p.headers['content-type']);
    expect(types).toEqual(parts.map(() => 'application/dicom'));
  });

  it('a truncated body is a coded error, not a hang', async () => {
    await expect(collect(body.subarray(0, body.length - 20), boundary, 16)).rejects.toMatchObject({ code: 'E_IO' });
    await expect(collect(Buffer.from('no delimiter here'), boundary, 4)).rejects.toMatchObject({ code: 'E_IO' });
  });

  it('a long preamble, with near-misses of the delimiter, is passed over at any chunk size', async () => {
    const preamble = Buffer.from('x--abc12\r\n-'.repeat(40_000));
    const long = Buffer.concat([preamble, ...buildMultipart(parts, boundary)]);
    for (const size of [5, 11, 4096, 65_536]) {
      const got = await collect(long, boundary, size);
      expect(got.map((b) => Buffer.from(b).toString('hex')), `chunk ${size}`).toEqual(parts.map((p) => p.toString('hex')));
    }
  });

  /** A server that sends `unit` after `head` up to 16 MiB (as good as for ever here); counts what was read. */
  function endless(head: string, unit: string): { source: AsyncGenerator<Uint8Array>; read: () => number } {
    let n = 0;
    const block = Buffer.from(unit.repeat(Math.ceil(8192 / unit.length)));
    async function* source(): AsyncGenerator<Uint8Array> {
      n += head.length;
      yield Buffer.from(head);
      while (n < 16 << 20) {
        n += block.length;
        yield block;
      }
    }
    return { source: source(), read: () => n };
  }

  it("a part's headers that never end, or a delimiter line that never ends, are E_IO after a bounded read", async () => {
    const headers = endless('--B\r\nContent-Type: application/dicom\r\n', 'X-Pad: yyyyyyyy\r\n');
    await expect(parseMultipart(headers.source, 'B').next()).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/headers run over 64 KiB/) });
    expect(headers.read()).toBeLessThan(128 * 1024);
    const padding = endless('--B', ' ');
    await expect(parseMultipart(padding.source, 'B').next()).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/delimiter line does not end/) });
    expect(padding.read()).toBeLessThan(32 * 1024);
  });

  it('finds quoted and bare boundaries', () => {
    expect(boundaryOf('multipart/related; type="application/dicom"; boundary="a b"')).toBe('a b');
    expect(boundaryOf('multipart/related; boundary=xyz; type=application/dicom')).toBe('xyz');
    expect(() => boundaryOf('application/json')).toThrow(/not multipart/);
  });
});
