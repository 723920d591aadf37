import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resample } from '../../src/resample/index.js';
import { closePool, getPool, warmPool, workerFilename } from '../../src/workers/pool.js';
import { closeRunners, getRunner } from '../../src/inference/runner.js';
import { detect } from '../../src/pipeline/detect.js';
import { loadModelPackage } from '../../src/pipeline/models.js';
import { isCtscopeError } from '../../src/errors.js';
import type { Volume } from '../../src/volume/types.js';
import { loadSeries, scanStudy } from '../../src/ingest/load.js';
import { SKIP_REASON, hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';

afterAll(async () => {
  await closeRunners();
  await closePool();
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return isCtscopeError(e) ? e.code : `uncoded: ${String(e)}`;
  }
}

const until = async (cond: () => boolean, ms = 10_000): Promise<void> => {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not reached');
    await new Promise((r) => setTimeout(r, 2));
  }
};

function volume(): Volume {
  const dims: [number, number, number] = [192, 192, 120];
  const data = new Float32Array(dims[0] * dims[1] * dims[2]);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 2000 - 1000;
  return { data, geometry: { dims, spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
}

describe('a worker thread that dies mid-task', () => {
  // Killed while starting (tasks still queued: piscina would wait for a thread forever) and while running
  // (both threads up and 120 ms into the run of about 350 ms, so both tasks are computing slices).
  it.each(['starting', 'running'] as const)('pool, threads killed while %s: E_WORKER, then a fresh pool gives the right result', async (when) => {
    const v = volume();
    const options = { spacing: [0.35, 0.35, 0.35] as [number, number, number], interp: 'cubic' as const, workers: 2 };
    const pool = getPool();
    const started = performance.now();
    const running = resample(v, options);
    let settled = false;
    void running.catch(() => undefined).finally(() => (settled = true));
    await until(() => pool.threads.length >= (when === 'starting' ? 1 : 2));
    if (when === 'running') await new Promise((r) => setTimeout(r, 120));
    expect(settled, 'the resample must outlast the kill (make the volume larger)').toBe(false);
    await Promise.all(pool.threads.map((t) => t.terminate()));
    expect(await codeOf(running)).toBe('E_WORKER');
    expect(performance.now() - started).toBeLessThan(20_000);

    const small = { ...v, data: v.data.subarray(0, 64 * 64 * 16), geometry: { ...v.geometry, dims: [64, 64, 16] as [number, number, number] } };
    const inPool = await resample(small, { spacing: [0.8, 0.8, 0.8], interp: 'linear', workers: 2 });
    const inline = await resample(small, { spacing: [0.8, 0.8, 0.8], interp: 'linear', workers: 0 });
    expect(Buffer.from(inPool.data.buffer, inPool.data.byteOffset, inPool.data.byteLength).equals(Buffer.from(inline.data.buffer, inline.data.byteOffset, inline.data.byteLength))).toBe(true);
  }, 60_000);

  it('closePool() while a resample runs (a host shutting down) fails it with E_ABORTED, not a worker failure', async () => {
    const pool = getPool();
    // Threads that have loaded their module first: this checks the error a host sees, not worker start-up.
    const v = volume();
    await resample({ ...v, data: v.data.subarray(0, 64 * 64 * 16), geometry: { ...v.geometry, dims: [64, 64, 16] } }, { spacing: [0.8, 0.8, 0.8], workers: 2 });
    const running = resample(v, { spacing: [0.35, 0.35, 0.35], interp: 'cubic', workers: 2 });
    let settled = false;
    void running.catch(() => undefined).finally(() => (settled = true));
    await until(() => pool.threads.length >= 2);
    expect(settled, 'the resample must outlast the close').toBe(false);
    await closePool();
    const e = await running.catch((x: unknown) => x);
    expect(e).toMatchObject({ code: 'E_ABORTED', where: 'resample', message: expect.stringMatching(/closePool/) });
  }, 60_000);

  it('inference: a session worker killed during detect fails that run with E_WORKER; the next run gets a new session', async () => {
    const { dir } = await smallPhantom('chest', { slices: 24 });
    const model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
    const pkg = await loadModelPackage(model, undefined);
    const options = { models: model, ep: 'cpu' as const };
    const reference = await detect(dir, options);
    const first = await getRunner(pkg, { ep: 'cpu' });

    let killed = false;
    const code = await codeOf(
      detect(dir, {
        ...options,
        onProgress: (p) => {
          if (p.stage === 'infer' && p.done === 0 && !killed) {
            killed = true;
            void first.kill();
          }
        },
      }),
    );
    expect(killed).toBe(true);
    expect(code).toBe('E_WORKER');
    expect(first.dead).toBe(true);
    // A dead runner fails at once rather than waiting for a reply that never comes.
    expect(await codeOf(first.run({}))).toBe('E_WORKER');

    const again = await detect(dir, options);
    expect(await getRunner(pkg, { ep: 'cpu' })).not.toBe(first);
    expect(again.document.findings.map((f) => f.centerLps)).toEqual(reference.document.findings.map((f) => f.centerLps));
  }, 60_000);
});

describe('closePool() during a detect run', () => {
  // Uncompressed files decode on the main thread: before, the run went on past the close, started a new pool
  // for its resampling and succeeded.
  it('stops the run with E_ABORTED at any stage, the main-thread ones too, and leaves no output; the next run works', async () => {
    const { dir } = await smallPhantom('chest', { slices: 24 });
    const model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
    const options = { models: model, ep: 'cpu' as const };
    const reference = await detect(dir, options);
    for (const stage of ['index', 'decode', 'resample', 'infer'] as const) {
      const out = join(mkdtempSync(join(tmpdir(), 'ctscope-close-')), 'out');
      let closed = false;
      const e = await detect(dir, {
        ...options,
        outDir: out,
        onProgress: (p) => {
          if (p.stage === stage && !closed) {
            closed = true;
            void closePool();
          }
        },
      }).catch((x: unknown) => x);
      expect(closed, stage).toBe(true);
      expect(e, stage).toMatchObject({ code: 'E_ABORTED' });
      expect(existsSync(out), stage).toBe(false);
    }
    const again = await detect(dir, options);
    expect(again.document.findings.map((f) => f.centerLps)).toEqual(reference.document.findings.map((f) => f.centerLps));
  }, 60_000);
});

describe('a task aborted while its thread is still starting', () => {
  // Since Node 20.19 require() of an ES module evaluates it synchronously, and a thread terminated in the middle
  // of that aborts the whole process in V8. Piscina require()s the pool's entry, so the entry must load without
  // require(esm); with it turned off (where Node has the switch), the old ES-module entry failed to load.
  const run = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((done) => {
      execFile(process.execPath, args, { timeout: 120_000 }, (e, out, err) => done({ code: e ? (typeof e.code === 'number' ? e.code : null) : 0, stdout: out, stderr: err }));
    });
  const entry = fileURLToPath(new URL('../../dist/workers/entry.cjs', import.meta.url));

  it('the entry piscina require()s is CommonJS: it loads and runs its tasks with require(esm) off', async () => {
    const off = process.allowedNodeEnvironmentFlags.has('--no-experimental-require-module') ? ['--no-experimental-require-module'] : [];
    const script = `const m = require(${JSON.stringify(workerFilename())}); m.readyTask().then((v) => console.log('ready', v, Object.keys(m).sort().join()));`;
    const r = await run([...off, '--input-type=commonjs', '-e', script]);
    expect(r.stderr).toBe('');
    expect(r.stdout.trim()).toBe('ready true decodeSlicesTask,preprocessTask,readyTask,resampleSlabTask,sourceHeaderTask,srBytesTask');
    expect(workerFilename()).toBe(entry);
  });

  // A V8 abort would take the test process with it, so the loop runs in a child process. With the ES-module
  // entry this loop aborted the process in about 1 run of 250 rounds; 100 rounds here check that ending a thread
  // during the entry's import() of the stage modules is survived.
  it('never aborts the process: tasks aborted and pools closed 0-60 ms after their threads start', async () => {
    const pool = new URL('../../dist/workers/pool.js', import.meta.url).href;
    const script = `
      const { getPool, closePool } = await import(${JSON.stringify(pool)});
      let stopped = 0;
      for (let i = 0; i < 100; i++) {
        const ac = new AbortController();
        const p = getPool({ threads: 2 });
        const runs = [p.run(undefined, { name: 'readyTask', signal: ac.signal }), p.run(undefined, { name: 'readyTask' })].map((r) => r.catch(() => stopped++));
        await new Promise((r) => setTimeout(r, (i * 1.37) % 60));
        if (i % 2) ac.abort(); else await closePool();
        await Promise.all(runs);
        await closePool();
      }
      console.log('tasks stopped:', stopped);`;
    const { code, stdout, stderr } = await run(['--input-type=module', '-e', script]);
    expect(stderr).not.toMatch(/FATAL/);
    expect(code).toBe(0);
    // Early stops land during start-up; the loop must have stopped tasks, or it tested nothing.
    expect(Number(/tasks stopped: (\d+)/.exec(stdout)?.[1])).toBeGreaterThan(30);
  }, 150_000);
});

describe('warmPool', () => {
  it('starts the threads without waiting, and real tasks then find them running', async () => {
    await closePool();
    warmPool(2);
    await until(() => getPool().threads.length === 2, 5_000);
    const v = volume();
    const small = { ...v, data: v.data.subarray(0, 32 * 32 * 8), geometry: { ...v.geometry, dims: [32, 32, 8] as [number, number, number] } };
    const r = await resample(small, { spacing: 2, workers: 2 });
    expect(r.geometry.dims).toEqual([16, 16, 4]);
    expect(getPool().threads.length).toBe(2);
  });
});

describe('the pool starts only for work that decodes', () => {
  it.skipIf(!hasSharedData)('an index of compressed files (info) starts no worker; a load of them does', async () => {
    const rle = sharedPath('ct_wg04_compression', 'CT1_RLE');
    await closePool();
    await scanStudy(rle, { threads: 2 });
    await new Promise((r) => setTimeout(r, 50));
    expect(getPool().threads.length).toBe(0);
    await closePool();
    const v = await loadSeries(rle, { threads: 2 });
    expect(v.geometry.dims[2]).toBeGreaterThan(0);
    expect(getPool().threads.length).toBeGreaterThan(0);
  }, 30_000);
});

describe('many worker threads', () => {
  it('16 workers on a pool of 12 threads, with the caller\'s signal, give no MaxListenersExceededWarning', async () => {
    const dist = (p: string): string => fileURLToPath(new URL(`../../dist/${p}`, import.meta.url));
    const script = `
      const { resample, clipScale } = await import(${JSON.stringify(dist('resample/index.js'))});
      const { closePool } = await import(${JSON.stringify(dist('workers/pool.js'))});
      const n = 168, data = new Int16Array(n * n * n).fill(40);
      const vol = { data, geometry: { dims: [n, n, n], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
      const signal = new AbortController().signal;
      for (let r = 0; r < 2; r++) {
        await resample(vol, { spacing: 0.9, workers: 16, signal });
        await clipScale(vol, { min: -1000, max: 400, workers: 16, signal });
      }
      await closePool();
      process.stdout.write('done');`;
    const r = await new Promise<{ stdout: string; stderr: string }>((resolve) =>
      execFile(process.execPath, ['--input-type=module', '-e', script], { env: { ...process.env, CTSCOPE_THREADS: '12' } }, (_e, stdout, stderr) => resolve({ stdout, stderr })),
    );
    expect(r.stdout, r.stderr).toBe('done');
    expect(r.stderr).not.toMatch(/MaxListenersExceededWarning/);
  }, 60_000);
});

describe('worker failures', () => {
  it('running out of memory in a worker is E_TOO_LARGE; a bad length (a bug) stays E_WORKER', async () => {
    const { poolTaskError } = await import('../../src/workers/pool.js');
    const pool = getPool();
    expect(poolTaskError(pool, new RangeError('WebAssembly.Memory.grow(): Unable to grow instance memory'), 'resample worker failed', 'resample').code).toBe('E_TOO_LARGE');
    expect(poolTaskError(pool, new RangeError('Array buffer allocation failed'), 'x', 'resample').code).toBe('E_TOO_LARGE');
    expect(poolTaskError(pool, new RangeError('Invalid typed array length: -1'), 'resample worker failed', 'resample').code).toBe('E_WORKER');
  });
});
