import { describe, expect, it } from 'vitest';
import { detect } from '../../src/pipeline/detect.js';
import { loadSeries, scanStudy } from '../../src/ingest/load.js';
import { resample } from '../../src/resample/index.js';
import { isCtscopeError } from '../../src/errors.js';
import type { Volume } from '../../src/volume/types.js';
import { closeRunners, getRunner } from '../../src/inference/runner.js';
import { loadModelPackage } from '../../src/pipeline/models.js';
import { fixturePackage } from '../pipeline/helpers.js';

// Plain-JS hosts get no type check: every wrong option is E_USAGE naming it, never an uncoded TypeError, and never
// read as something else (NaN as "no cap", 'false' as true, a typo'd signal as none).
async function codeOf(p: () => Promise<unknown>): Promise<string> {
  try {
    await p();
    return 'ok';
  } catch (e) {
    return isCtscopeError(e) ? `${e.code}: ${e.message}` : `uncoded ${String(e)}`;
  }
}

const folder = '/nonexistent-folder-the-options-fail-first';

describe('options checks', () => {
  it('detect: wrong types and unknown keys are E_USAGE before any model or file is read', async () => {
    const bad: Array<[string, Record<string, unknown>]> = [
      ['signal', { signal: null }],
      ['models', { models: 5 }],
      ['models', { models: {} }],
      ['models', { models: [5] }],
      ['models', { models: [null] }],
      ['outDir', { outDir: 5 }],
      ['modelDirs', { modelDirs: [5] }],
      ['modelDirs', { modelDirs: '/tmp' }],
      ['bodyMask', { bodyMask: 'false' }],
      ['sr', { sr: 'no' }],
      ['sessionThreads', { sessionThreads: -1 }],
      ['sessionThreads', { sessionThreads: 1.5 }],
      ['sessionThreads', { sessionThreads: 100000 }],
      ['threads', { threads: Number.NaN }],
      ['maxVoxels', { maxVoxels: Number.NaN }],
      ['outputs', { outputs: 'json' }],
      ["'singal'", { singal: new AbortController().signal }],
    ];
    for (const [name, o] of bad) {
      const got = await codeOf(() => detect(folder, { models: 'nodule', ...o } as never));
      expect(got, JSON.stringify(o)).toMatch(new RegExp(`^E_USAGE: .*${name.replace(/'/g, "'")}`));
    }
  });

  it('options given by getters or inherited from a prototype are checked and used like plain ones', async () => {
    const stopped = new AbortController();
    stopped.abort();
    class Options {
      get models(): string[] {
        return ['nodule'];
      }
      get outputs(): string[] {
        return ['jsn'];
      }
    }
    expect(await codeOf(() => detect(folder, new Options() as never))).toMatch(/^E_USAGE: detect option outputs/);
    // An inherited signal that is aborted stops the run: it is read, not skipped.
    const inherited = Object.create({ signal: stopped.signal, models: ['nodule'] }) as never;
    expect(await codeOf(() => detect(folder, inherited))).toMatch(/^E_ABORTED/);
    expect(await codeOf(() => loadSeries(folder, Object.create({ maxVoxels: Number.NaN }) as never))).toMatch(/^E_USAGE: load option maxVoxels/);
  });

  it("keys on Object.prototype (a polyfill, a polluted prototype) neither fail a call nor set an option", async () => {
    const proto = Object.prototype as Record<string, unknown>;
    try {
      proto.polyfilled = () => undefined;
      proto.maxVoxels = 10;
      // Reaches the file system (E_NOT_FOUND for the missing folder): the options passed their check.
      expect(await codeOf(() => loadSeries(folder))).toMatch(/^E_NOT_FOUND/);
      expect(await codeOf(() => loadSeries(folder, { headerConcurrency: 2 }))).toMatch(/^E_NOT_FOUND/);
    } finally {
      delete proto.polyfilled;
      delete proto.maxVoxels;
    }
  });

  it('loadSeries and scanStudy: NaN, negative and wrongly typed options are E_USAGE, not a silent change', async () => {
    const bad: Array<[string, unknown]> = [
      ['maxVoxels', { maxVoxels: Number.NaN }],
      ['maxVoxels', { maxVoxels: -1 }],
      ['headerConcurrency', { headerConcurrency: Number.NaN }],
      ['paddingHu', { paddingHu: Number.NaN }],
      ['paddingHu', { paddingHu: 'x' }],
      ['signal', { signal: {} }],
      ['onProgress', { onProgress: 'x' }],
      ['options must be an object', null],
      ["'seriesUID'", { seriesUID: '1.2.3' }],
    ];
    for (const [name, o] of bad) {
      for (const call of [loadSeries, scanStudy]) {
        const got = await codeOf(() => call(folder, o as never));
        expect(got, `${call.name} ${JSON.stringify(o)}`).toMatch(new RegExp(`^E_USAGE: .*${name}`));
      }
    }
  });

  it('resample: a wrong signal, antialias or fill, or no options at all, is E_USAGE', async () => {
    const v: Volume = { data: new Float32Array(8), geometry: { dims: [2, 2, 2], spacing: [1, 1, 1], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } };
    expect(await codeOf(() => resample(v, { spacing: 1, signal: {} as never }))).toMatch(/^E_USAGE: resample option signal must be an AbortSignal/);
    expect(await codeOf(() => resample(v, { spacing: 1, antialias: 'yes' as never }))).toMatch(/^E_USAGE: .*antialias/);
    expect(await codeOf(() => resample(v, { spacing: 1, fill: Number.NaN }))).toMatch(/^E_USAGE: .*fill/);
    expect(await codeOf(() => resample(v, undefined as never))).toMatch(/^E_USAGE: resample needs an options object/);
    expect(await codeOf(() => resample(v, { spacing: 1, outType: 'int8' as never, workers: 0 }))).toMatch(/^E_USAGE: .*outType/);
    expect(await codeOf(() => resample(v, { spacing: 1, into: 'x' as never }))).toMatch(/^E_USAGE: .*into/);
    expect(await codeOf(() => resample(v, { spacing: 1, singal: new AbortController().signal } as never))).toMatch(/^E_USAGE: unknown resample option 'singal'/);
    for (const spacing of [undefined, null, {}]) expect(await codeOf(() => resample(v, { spacing } as never)), String(spacing)).toMatch(/^E_USAGE: resample (needs a spacing|option spacing)/);
    expect(await codeOf(() => resample(v, { spacing: 1, workers: 0 }))).toBe('ok');
  });

  it('sessionThreads is honoured after a first run: a session with another thread count is another session', async () => {
    const pkg = await loadModelPackage(fixturePackage('heatmap-fp32', {}), undefined);
    try {
      const one = await getRunner(pkg, { ep: 'cpu', threads: 1 });
      const two = await getRunner(pkg, { ep: 'cpu', threads: 2 });
      expect(two).not.toBe(one);
      expect(await getRunner(pkg, { ep: 'cpu', threads: 1 })).toBe(one);
    } finally {
      await closeRunners();
    }
  });
});
