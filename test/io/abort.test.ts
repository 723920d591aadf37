import { getEventListeners } from 'node:events';
import { afterAll, describe, expect, it } from 'vitest';
import { onAbort } from '../../src/io/abort.js';
import { resample } from '../../src/resample/index.js';
import { closePool } from '../../src/workers/pool.js';

afterAll(() => closePool());

describe('onAbort', () => {
  it('puts one listener on a host signal however many runs watch it, calls each once, and leaves none behind', () => {
    const ac = new AbortController();
    const calls: number[] = [];
    const stops = Array.from({ length: 50 }, (_, n) => onAbort(ac.signal, () => calls.push(n)));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    stops[7]!();
    ac.abort();
    expect(calls).toHaveLength(49);
    expect(calls).not.toContain(7);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });

  it('the last watcher to stop takes the listener off; a later watcher adds a fresh one', () => {
    const ac = new AbortController();
    const a = onAbort(ac.signal, () => undefined);
    const b = onAbort(ac.signal, () => undefined);
    a();
    a(); // twice is harmless
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    b();
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
    let fired = false;
    onAbort(ac.signal, () => (fired = true));
    ac.abort();
    expect(fired).toBe(true);
  });

  it('library calls sharing a host signal put one listener on it between them (resample here)', async () => {
    const ac = new AbortController();
    const dims: [number, number, number] = [96, 96, 64];
    const volume = { data: new Float32Array(96 * 96 * 64), geometry: { dims, spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] as [number, number, number, number, number, number, number, number, number] } };
    const runs = Array.from({ length: 12 }, () => resample(volume, { spacing: [0.5, 0.5, 0.5], workers: 2, signal: ac.signal }));
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(1);
    await Promise.all(runs);
    expect(getEventListeners(ac.signal, 'abort')).toHaveLength(0);
  });
});
