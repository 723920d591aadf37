import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { isLostLock } from '../../src/io/folder-lock.js';
import { RUN_INDEX, writeOutputs } from '../../src/outputs/write.js';
import type { KeyImageSource } from '../../src/outputs/key-image.js';
import type { FindingRecord, FindingsDocument } from '../../src/outputs/document.js';
import type { Mat3 } from '../../src/volume/types.js';

const dirs: string[] = [];
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

const finding = (n: number): FindingRecord =>
  ({ n, model: 'm', kind: 'nodule', label: 'nodule', score: 0.9, centerLps: [16, 16, n], centerVoxel: [16, 16, n], sliceIndex: n, diameterMm: 4, volumeMm3: 30, sopInstanceUid: `1.2.${n}`, frameNumber: 1 }) as unknown as FindingRecord;

describe('writeOutputs when one key image fails while others are still being made', () => {
  it('waits for the images in flight and removes every file it wrote: nothing stays', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-write-'));
    dirs.push(out);
    const dims: [number, number, number] = [32, 32, 8];
    // Slice 1 fails at once; the others arrive later, after that failure, as a slow disk or decoder would.
    const volume: KeyImageSource = {
      geometry: { dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3 },
      readSlice: async (k) => {
        if (k === 1) throw new Error('slice 1 cannot be read');
        await new Promise((r) => setTimeout(r, 50 * k));
        return new Int16Array(32 * 32).fill(-1000);
      },
    };
    const doc = { findings: [1, 2, 3, 4, 5, 6].map(finding), files: [] } as unknown as FindingsDocument;
    await expect(writeOutputs(out, doc, volume, undefined, ['json', 'report'])).rejects.toThrow(/slice 1 cannot be read/);
    // Long enough for any image still being made to land, had the writer not waited for it.
    await new Promise((r) => setTimeout(r, 800));
    expect(readdirSync(out)).toEqual([]);
  });
});

const geometry = { dims: [32, 32, 8] as [number, number, number], spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as Mat3 };
const until = async (ok: () => boolean): Promise<void> => {
  for (let i = 0; !ok(); i++) {
    if (i > 500) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
};

/** An output folder and a volume whose slice 2 is read only once `open()` is called: the writer waits there. */
function pausedAtSlice2(): { out: string; volume: KeyImageSource; open: () => void } {
  const out = mkdtempSync(join(tmpdir(), 'ctscope-write-'));
  dirs.push(out);
  let open!: () => void;
  const gate = new Promise<void>((r) => (open = r));
  const volume: KeyImageSource = {
    geometry,
    readSlice: async (k) => {
      if (k === 2) await gate;
      return new Int16Array(32 * 32).fill(-1000);
    },
  };
  return { out, volume, open };
}

describe('writeOutputs and a writer that lost the folder', () => {
  it('a writer paused past its lock while writing replaces none of the files the run that took over wrote', async () => {
    const { out, volume, open } = pausedAtSlice2();
    const doc = { findings: [1, 2].map(finding), files: [] } as unknown as FindingsDocument;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const run = writeOutputs(out, doc, volume, new Uint8Array([1, 2, 3]), ['json', 'report', 'sr']).catch((e: unknown) => e);
      await until(() => existsSync(join(out, 'key-1.png')));
      // Paused for 11 s: another process found the lock stale and wrote its own set meanwhile.
      vi.setSystemTime(Date.now() + 11_000);
      for (const n of ['key-2.png', 'sr.dcm', 'report.html', 'findings.json']) writeFileSync(join(out, n), 'the other run');
      open();
      const e = await run;
      expect(isLostLock(e)).toBe(true);
      for (const n of ['key-2.png', 'sr.dcm', 'report.html', 'findings.json']) expect(readFileSync(join(out, n), 'utf8'), n).toBe('the other run');
      expect(readdirSync(out).filter((n) => n.endsWith('.tmp'))).toEqual([]);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a writer paused past its lock and then aborted (Ctrl-Z, fg, Ctrl-C) removes none of the files the run that took over wrote', async () => {
    const { out, volume, open } = pausedAtSlice2();
    const ac = new AbortController();
    const doc = { findings: [1, 2].map(finding), files: [] } as unknown as FindingsDocument;
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const run = writeOutputs(out, doc, volume, new Uint8Array([1, 2, 3]), ['json', 'report', 'sr'], { signal: ac.signal }).catch((e: unknown) => e);
      await until(() => existsSync(join(out, 'key-1.png')));
      vi.setSystemTime(Date.now() + 11_000);
      const theirs = ['key-1.png', 'sr.dcm', 'report.html', 'findings.json', RUN_INDEX];
      for (const n of theirs) writeFileSync(join(out, n), 'the other run');
      ac.abort();
      open();
      expect(await run).toMatchObject({ code: 'E_ABORTED' });
      for (const n of theirs) expect(readFileSync(join(out, n), 'utf8'), n).toBe('the other run');
    } finally {
      vi.useRealTimers();
    }
  });

  it('a writer killed outright leaves its files listed in the run index, so the next run into the folder removes them', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-write-'));
    dirs.push(out);
    const write = fileURLToPath(new URL('../../dist/outputs/write.js', import.meta.url));
    // Writes key-1 and key-2 of four findings, then says so and waits to be killed.
    const script = `
      import { existsSync } from 'node:fs';
      import { writeOutputs } from ${JSON.stringify(write)};
      const out = ${JSON.stringify(out)};
      const geometry = ${JSON.stringify(geometry)};
      const finding = (n) => ({ n, model: 'm', kind: 'nodule', label: 'nodule', score: 0.9, centerLps: [16, 16, n], centerVoxel: [16, 16, n], sliceIndex: n, diameterMm: 4, volumeMm3: 30, sopInstanceUid: '1.2.' + n, frameNumber: 1 });
      const readSlice = async (k) => {
        if (k >= 3) {
          while (!existsSync(out + '/key-1.png') || !existsSync(out + '/key-2.png')) await new Promise((r) => setTimeout(r, 10));
          console.log('written');
          await new Promise(() => setInterval(() => {}, 1000));
        }
        return new Int16Array(32 * 32).fill(-1000);
      };
      await writeOutputs(out, { findings: [1, 2, 3, 4].map(finding), files: [] }, { geometry, readSlice }, new Uint8Array([1]), ['json', 'report', 'sr']);`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (b: Buffer) => b.toString().includes('written') && resolve());
      child.on('exit', (code) => reject(new Error(`writer exited with ${code}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    expect(JSON.parse(readFileSync(join(out, RUN_INDEX), 'utf8'))).toEqual({ files: ['key-1.png', 'key-2.png', 'key-3.png', 'key-4.png', 'report.html', 'sr.dcm', 'findings.json'] });
    // Its lock is ignored once stale (10 s untouched): aged here rather than waited for.
    const old = new Date(Date.now() - 11_000);
    for (const n of readdirSync(out).filter((x) => x.startsWith('.ctscope-writing.'))) utimesSync(join(out, n), old, old);
    expect(readdirSync(out).filter((n) => n.startsWith('key-')).sort()).toEqual(['key-1.png', 'key-2.png']);
    const volume: KeyImageSource = { geometry, readSlice: async () => new Int16Array(32 * 32).fill(-1000) };
    await writeOutputs(out, { findings: [], files: [] } as unknown as FindingsDocument, volume, undefined, ['json']);
    expect(readdirSync(out).filter((n) => !n.startsWith('.ctscope-writing.')).sort()).toEqual([RUN_INDEX, 'findings.json']);
  });
});

describe('what sits under the names ctscope reads in an output folder', () => {
  it('a FIFO or a link to /dev/zero named findings.json, or a FIFO lock, is not read: no hang, no memory filled', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-write-'));
    dirs.push(out);
    execFileSync('mkfifo', [join(out, 'findings.json')]);
    symlinkSync('/dev/zero', join(out, RUN_INDEX));
    const volume: KeyImageSource = { geometry, readSlice: async () => new Int16Array(32 * 32).fill(-1000) };
    // Withdrawn unread (unlinked), then the run writes its own set.
    await writeOutputs(out, { findings: [], files: [] } as unknown as FindingsDocument, volume, undefined, ['json']);
    expect(readdirSync(out).sort()).toEqual([RUN_INDEX, 'findings.json']);
    // A fresh lock that is a FIFO: the refusal names no pid instead of waiting for a writer that never comes.
    execFileSync('mkfifo', [join(out, '.ctscope-writing.12345.abcdef01')]);
    await expect(writeOutputs(out, { findings: [], files: [] } as unknown as FindingsDocument, volume, undefined, ['json'])).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/^another ctscope run is writing into this output folder/) });
  }, 20_000);
});
