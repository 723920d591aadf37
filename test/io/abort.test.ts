import { getEventListeners } from 'node:events';
import { describe, expect, it } from 'vitest';
import { onAbort } from '../../src/io/abort.js';

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
});
