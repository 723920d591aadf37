import { afterAll, describe, expect, it } from 'vitest';
import { resample } from '../../src/resample/index.js';
import { closePool, getPool, warmPool } from '../../src/workers/pool.js';
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
