import { spawnSync } from 'node:child_process';
import { usableCores } from '../../src/workers/cores.js';
import { afterAll, describe, expect, it } from 'vitest';
import { loadedOrder, loadModel } from '../../src/inference/model.js';
import { acquireRunner, closeRunners, getRunner, ModelRunner } from '../../src/inference/runner.js';
import { candidatesFor, describeAttempts, parseEpRequest, probeProvider, PROVIDERS, shortReason } from '../../src/inference/providers.js';
import { fixture } from './helpers.js';
import { checkDetectOptions, detect } from '../../src/pipeline/detect.js';
import { smallPhantom } from '../pipeline/helpers.js';

afterAll(() => closeRunners());

/** True when this machine really has a working CUDA provider (then the unavailable path cannot be shown). */
const cudaWorks = (await probeProvider('cuda')).ok;

describe('execution providers', () => {
  it('probes CPU with a real session', async () => {
    expect(await probeProvider('cpu')).toEqual({ ep: 'cpu', ok: true });
  });

  it.skipIf(cudaWorks)('--ep cuda without the CUDA provider is E_EP_UNAVAILABLE with an install hint', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const e = await ModelRunner.create(pkg, { ep: 'cuda' }).then(
      () => undefined,
      (err: unknown) => err as { code: string; message: string; exitCode: number },
    );
    expect(e?.code).toBe('E_EP_UNAVAILABLE');
    expect(e?.message).toContain("'cuda'");
    expect(e?.message).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12');
    expect(e?.message).toMatch(/1\.30\.\d/);
    expect(e?.exitCode).toBe(4);
  });

  it('--ep dml on a non-Windows platform says so', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    if (process.platform === 'win32') return;
    await expect(ModelRunner.create(pkg, { ep: 'dml' })).rejects.toMatchObject({ code: 'E_EP_UNAVAILABLE', message: expect.stringContaining(`not available on ${process.platform}`) });
  });

  it.skipIf(process.platform === 'win32')('detect with a provider asked for by name that cannot load fails before reading its input (it failed after decoding and resampling)', async () => {
    const t = performance.now();
    // The input does not exist: reading it first would be E_NOT_FOUND.
    await expect(detect('/nonexistent/ctscope-input', { models: [fixture('heatmap-fp32')], ep: 'dml' })).rejects.toMatchObject({ code: 'E_EP_UNAVAILABLE' });
    await expect(checkDetectOptions({ models: [fixture('heatmap-fp32')], ep: 'dml' })).rejects.toMatchObject({ code: 'E_EP_UNAVAILABLE' });
    expect(performance.now() - t).toBeLessThan(30_000);
  });

  it.skipIf(cudaWorks || process.platform !== 'linux')('auto falls back to CPU and prints one line saying what it tried and why', async () => {
    const lines: string[] = [];
    const runner = await ModelRunner.create(loadModel(fixture('heatmap-fp32')), { ep: 'auto', threads: 1, onLog: (l) => lines.push(l) });
    try {
      expect(runner.provider).toBe('cpu');
      expect(runner.attempts.map((a) => [a.ep, a.ok])).toEqual([['cuda', false], ['cpu', true]]);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^execution provider auto: using cpu; tried cuda \(provider library not found/);
    } finally {
      await runner.close();
    }
  });

  it.skipIf(cudaWorks || process.platform !== 'linux')('detect says it once a run, however many models and sessions', async () => {
    const lines: string[] = [];
    // Three sessions (nodule; aneurysm first and second stage), each of which logs its provider.
    const series = await smallPhantom('chest', { slices: 16 });
    await detect(series.dir, { models: ['nodule', 'aneurysm'], ep: 'auto', onLog: (l) => lines.push(l) });
    expect(lines.filter((l) => l.startsWith('execution provider auto'))).toHaveLength(1);
  }, 60_000);

  it('reuses one session per model and provider', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const a = await getRunner(pkg, { ep: 'cpu', threads: 1 });
    const b = await getRunner(loadModel(fixture('heatmap-fp32')), { ep: 'cpu', threads: 1 });
    expect(a).toBe(b);
  });

  it('a run asked of a runner the host has closed (closeRunners at shutdown) is E_ABORTED, not an inference failure', async () => {
    const runner = await ModelRunner.create(loadModel(fixture('heatmap-fp32')), { ep: 'cpu', threads: 1 });
    await runner.close();
    await expect(runner.run({})).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('an abort while the session is being made rejects that caller at once; the session is still made and cached', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const ac = new AbortController();
    const order: string[] = [];
    // A thread count of its own: a session no other test has made, so it is still starting when the abort comes.
    const made = getRunner(pkg, { ep: 'cpu', threads: 3 }).then((r) => (order.push('made'), r));
    const waiting = getRunner(pkg, { ep: 'cpu', threads: 3 }, ac.signal).then(
      () => order.push('resolved'),
      (e: { code?: string }) => order.push(e.code ?? 'failed'),
    );
    ac.abort();
    const [runner] = await Promise.all([made, waiting]);
    expect(order).toEqual(['E_ABORTED', 'made']);
    expect(runner.threads).toBe(3);
    // The aborted wait did not drop the session from the cache.
    expect(await getRunner(pkg, { ep: 'cpu', threads: 3 })).toBe(runner);
  });

  it("a model updated in place retires the old weights' session once no stage holds it (it was kept until closeRunners)", async () => {
    const { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } = await import('node:fs');
    const { createHash } = await import('node:crypto');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-swap-'));
    try {
      cpSync(fixture('heatmap-fp32'), dir, { recursive: true });
      const opts = { ep: 'cpu' as const, threads: 1 };
      const old = await getRunner(loadModel(dir), opts);
      const release = old.hold(); // a sliding window in progress on the old weights
      // New weights in the same file (the fp16 fixture's), and the manifest's digest with them.
      const bytes = readFileSync(join(fixture('heatmap-fp16'), 'model.onnx'));
      writeFileSync(join(dir, 'model.onnx'), bytes);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      manifest.sha256 = createHash('sha256').update(bytes).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const fresh = await getRunner(loadModel(dir), opts);
      expect(fresh).not.toBe(old);
      await new Promise((r) => setImmediate(r));
      expect(old.closed).toBe(false); // still held
      release();
      expect(old.closed).toBe(true);
      expect(fresh.closed).toBe(false);
      expect(await getRunner(loadModel(dir), opts)).toBe(fresh);

      // A run that loaded the package before an update asks for its session after a newer package did (and at the
      // same time): each gets an open, held session; the older one closes when released and never retires the
      // newer (this had ended an old run with E_ABORTED "the model runner was closed").
      const older = loadModel(dir);
      const bytes2 = readFileSync(join(fixture('heatmap-fp32'), 'model.onnx'));
      writeFileSync(join(dir, 'model.onnx'), bytes2);
      manifest.sha256 = createHash('sha256').update(bytes2).digest('hex');
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
      const newer = loadModel(dir);
      const [n, o] = await Promise.all([acquireRunner(newer, opts), acquireRunner(older, opts)]);
      expect(n.runner.closed).toBe(false);
      expect(o.runner.closed).toBe(false);
      expect(o.runner).not.toBe(n.runner);
      o.release();
      expect(o.runner.closed).toBe(true);
      expect(n.runner.closed).toBe(false);
      n.release();
      expect(n.runner.closed).toBe(false); // the newest stays cached
      expect(await getRunner(loadModel(dir), opts)).toBe(n.runner);
      // getRunner (no hold) with the older package gets an open session too, and a copy of a package keeps its
      // place in the load order (eval makes `{ ...pkg, manifest }`).
      const unheld = await getRunner(older, opts);
      await new Promise((r) => setImmediate(r));
      expect(unheld.closed).toBe(false);
      expect(loadedOrder({ ...newer })).toBe(loadedOrder(newer));
      expect(loadedOrder(newer)).toBeGreaterThan(loadedOrder(older));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every session gets every core by default: models run one after another, so a later one is not starved', async () => {
    // The second stage and another model used to get cores / (sessions + 1): 1 of 2 here, half speed.
    const runners: ModelRunner[] = [];
    for (const f of ['heatmap-fp32', 'heatmap-refine', 'boxes']) runners.push(await ModelRunner.create(loadModel(fixture(f)), { ep: 'cpu' }));
    try {
      for (const r of runners) expect(r.threads).toBe(usableCores());
    } finally {
      await Promise.all(runners.map((r) => r.close()));
    }
  });

  it('a graph the provider cannot load is E_MODEL, not a provider problem', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    const broken = { ...pkg, bytes: pkg.bytes.slice(0, pkg.bytes.length - 40) };
    await expect(ModelRunner.create(broken, { ep: 'cpu' })).rejects.toMatchObject({ code: 'E_MODEL' });
  });

  it('a thread count that is no whole number of 1 to 256 is E_USAGE, not blamed on the model (1e6 hung)', async () => {
    const pkg = loadModel(fixture('heatmap-fp32'));
    for (const threads of [1.5, -1, 0, 1e6, Number.NaN]) await expect(ModelRunner.create(pkg, { ep: 'cpu', threads }), String(threads)).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('a host started as `node --input-type=module -e` can make sessions (the thread inherited the flag and refused to start)', () => {
    const code = `const { loadModel } = await import(${JSON.stringify(new URL('../../dist/inference/model.js', import.meta.url).href)});
const { getRunner, closeRunners } = await import(${JSON.stringify(new URL('../../dist/inference/runner.js', import.meta.url).href)});
const r = await getRunner(loadModel(${JSON.stringify(fixture('heatmap-fp32'))}), { ep: 'cpu', threads: 1 });
console.log(r.provider);
await closeRunners();`;
    // With a process-wide option beside it too, which a worker refuses when options are given explicitly.
    for (const flags of [['--input-type=module'], ['--expose-gc', '--input-type=module']]) {
      const r = spawnSync(process.execPath, [...flags, '-e', code], { encoding: 'utf8', timeout: 60_000 });
      expect(r.stdout.trim(), `${flags.join(' ')}: ${r.stderr}`).toBe('cpu');
    }
  }, 60_000);

  it('parses --ep values and keeps reasons to one line', () => {
    expect(parseEpRequest('auto')).toBe('auto');
    expect(() => parseEpRequest('rocm')).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    expect(candidatesFor('auto', 'linux')).toEqual(['cuda', 'cpu']);
    expect(candidatesFor('auto', 'darwin')).toEqual(['coreml', 'cpu']);
    // onnxruntime-node ships no CUDA or TensorRT for Windows: auto tries DirectML there, and cuda is not offered.
    expect(candidatesFor('auto', 'win32')).toEqual(['dml', 'cpu']);
    expect(PROVIDERS.cuda.platforms).toEqual(['linux']);
    expect(PROVIDERS.tensorrt.platforms).toEqual(['linux']);
    expect(candidatesFor('tensorrt', 'linux')).toEqual(['tensorrt']);
    expect(shortReason('OrtSessionOptionsAppendExecutionProvider_Cuda: Failed to load shared library')).toMatch(/provider library not found/);
    expect(describeAttempts('auto', [{ ep: 'cuda', ok: false, error: 'x' }, { ep: 'cpu', ok: true }])).toBe('execution provider auto: using cpu; tried cuda (x)');
  });
});
