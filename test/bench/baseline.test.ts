import { describe, expect, it } from 'vitest';
import { checkableRows, comparedRows, findRegressions, isBaselineFile, mergeBaselines, toBaselines } from '../../src/bench/baseline.js';
import type { BenchRow } from '../../src/bench/harness.js';

const row = (name: string, vsScalar: number, vsMemcpy?: number): BenchRow => ({
  stage: 'ingest', name, medianMs: vsScalar * 80, minMs: 0, p75Ms: 0, maxMs: 0, samples: 5, peakRssMiB: 100, vsScalar,
  ...(vsMemcpy !== undefined ? { vsMemcpy } : {}),
});

describe('benchmark regression guard', () => {
  const base = toBaselines([row('load ele', 1.5, 20), row('load rle', 2.5, 35)], 'test machine', 2);

  it('records scalar-loop ratios as the basis', () => {
    expect(base.entries).toEqual([
      { stage: 'ingest', name: 'load ele', ratio: 1.5, basis: 'scalar' },
      { stage: 'ingest', name: 'load rle', ratio: 2.5, basis: 'scalar' },
    ]);
  });

  it('passes noise inside the tolerance and catches a slowdown past it', () => {
    expect(findRegressions([row('load ele', 2.9), row('load rle', 1.2)], base)).toEqual([]);
    const bad = findRegressions([row('load ele', 3.2), row('load rle', 2.5)], base);
    expect(bad.map((b) => b.name)).toEqual(['load ele']);
    expect(bad[0]!.factor).toBeCloseTo(3.2 / 1.5);
    expect(findRegressions([row('load rle', 4)], base, 1.5).map((b) => b.name)).toEqual(['load rle']);
  });

  it('judges a row measured again by its best attempt, and says how many it had', () => {
    const once = { ...row('load ele', 3.4), rechecks: [3.3, 3.1] };
    const bad = findRegressions([once], base);
    expect(bad).toHaveLength(1);
    expect(bad[0]).toMatchObject({ now: 3.1, attempts: 3 });
    expect(bad[0]!.factor).toBeCloseTo(3.1 / 1.5);
    // A slow first run that a re-run does not repeat passes; one that stays slow does not.
    expect(findRegressions([{ ...row('load ele', 3.4), rechecks: [1.6] }], base)).toEqual([]);
    expect(findRegressions([{ ...row('load ele', 3.4), rechecks: [] }], base).map((b) => b.attempts)).toEqual([1]);
  });

  it('lets new rows pass until they have a baseline', () => {
    expect(findRegressions([row('load j2k', 99)], base)).toEqual([]);
  });

  it('knows which rows a check really compares, merges an update into the file, and rejects a file of another shape', () => {
    expect(comparedRows([row('load ele', 1.6), row('load jpeg', 3)], base).map((r) => r.name)).toEqual(['load ele']);
    expect(comparedRows([row('load jpeg', 3)], base)).toEqual([]);
    const merged = mergeBaselines(base, toBaselines([row('load rle', 2.0), row('load jpeg', 3)], 'other', 2));
    expect(merged.entries.map((e) => [e.name, e.ratio])).toEqual([['load ele', 1.5], ['load rle', 2], ['load jpeg', 3]]);
    expect(isBaselineFile(base)).toBe(true);
    expect(isBaselineFile({ garbage: 1 })).toBe(false);
    expect(isBaselineFile({ tolerance: 2, entries: [{ stage: 'x', name: 'y', ratio: '1', basis: 'scalar' }] })).toBe(false);
    // Numbers that would turn the guard off (Infinity, as JSON's 1e999 reads) or flag every row (0, negative).
    for (const tolerance of [0, -1, Infinity]) expect(isBaselineFile({ ...base, tolerance })).toBe(false);
    expect(isBaselineFile({ tolerance: 2, entries: [{ stage: 'x', name: 'y', ratio: 0, basis: 'scalar' }] })).toBe(false);
  });

  it('where first-touch page faults are slow (over 2 us a page), rows that fill fresh memory are not judged; elsewhere all are', () => {
    const fresh = { ...row('load ele', 3.2), freshMemory: true };
    const steady = row('parse ele', 1);
    expect(checkableRows([fresh, steady], 12.2)).toEqual({ checkable: [steady], skipped: [fresh] });
    expect(checkableRows([fresh, steady], 0.5)).toEqual({ checkable: [fresh, steady], skipped: [] });
  });
});

describe('benchmark harness and the run signal', () => {
  it('leaves no abort listener on the run signal however many rows it measures, and still stops at it', async () => {
    const { getEventListeners } = await import('node:events');
    const { measure, setRunSignal } = await import('../../src/bench/harness.js');
    const run = new AbortController();
    setRunSignal(run.signal);
    try {
      const baselines = { memcpyGBs: 10, scalarMs: 80, faultUsPerPage: 1 };
      // tinybench adds a listener to the signal each Bench is given and never removes it: more than ten rows on
      // the run's own signal made Node warn of a leak.
      for (let i = 0; i < 12; i++) await measure('t', [{ name: `row ${i}`, fn: () => undefined }], baselines, { iterations: 2 });
      expect(getEventListeners(run.signal, 'abort')).toHaveLength(0);
      run.abort();
      await expect(measure('t', [{ name: 'after', fn: () => undefined }], baselines, { iterations: 2 })).rejects.toMatchObject({ code: 'E_ABORTED' });
    } finally {
      setRunSignal(undefined);
    }
  });
});

describe('runChild', () => {
  it('an abort stops the child and the jobs it started (its own process group), then rejects with E_ABORTED', async () => {
    const { runChild, setRunSignal } = await import('../../src/bench/harness.js');
    const { mkdtempSync, readFileSync, existsSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const pidFile = join(mkdtempSync(join(tmpdir(), 'ctscope-child-')), 'pid');
    const ac = new AbortController();
    setRunSignal(ac.signal);
    try {
      // A script whose job outlived a SIGTERM to the script alone.
      const run = runChild('bash', ['-c', `sh -c 'echo $$ > ${pidFile}; exec sleep 30' & wait`], { what: 'a test script', stdout: 'ignore' });
      for (let i = 0; i < 200 && !existsSync(pidFile); i++) await new Promise((r) => setTimeout(r, 10));
      const grandchild = Number(readFileSync(pidFile, 'utf8'));
      ac.abort();
      await expect(run).rejects.toMatchObject({ code: 'E_ABORTED', message: expect.stringMatching(/^a test script was interrupted/) });
      await new Promise((r) => setTimeout(r, 200));
      // Gone, or a zombie waiting for a parent to reap it (in a container pid 1 may never do that).
      const state = (() => {
        try {
          return /^State:\s+(\w)/m.exec(readFileSync(`/proc/${grandchild}/status`, 'utf8'))?.[1];
        } catch {
          return 'gone';
        }
      })();
      expect(['gone', 'Z', 'X']).toContain(state);
    } finally {
      setRunSignal(undefined);
    }
  });
});
