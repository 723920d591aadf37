import { afterAll, describe, expect, it } from 'vitest';
import { loadModel } from '../../src/inference/model.js';
import { closeRunners } from '../../src/inference/runner.js';
import { runModel } from '../../src/inference/infer.js';
import { fixture, grid, renderBlobs } from './helpers.js';

afterAll(() => closeRunners());

describe('inference runs off the event loop', () => {
  it('a setInterval keeps ticking while a long session.run is in progress', async () => {
    const g = grid([112, 112, 64]);
    const volume = { data: renderBlobs(g, [[30, 30, 30]]), geometry: g };
    const bench = loadModel(fixture('bench'));
    // Four 64^3 patches in one batch: one session.run, a long unbroken stretch of native time.
    const pkg = { ...bench, manifest: { ...bench.manifest, input: { ...bench.manifest.input, batch: { size: 4, fixed: false } } } };
    let ticks = 0, last = performance.now(), worstGap = 0;
    const timer = setInterval(() => {
      const now = performance.now();
      worstGap = Math.max(worstGap, now - last);
      last = now;
      ticks++;
    }, 5);
    const out = await runModel(volume, pkg, { ep: 'cpu', threads: 1 });
    clearInterval(timer);
    expect(out.stats.runs).toBe(1);
    expect(out.stats.runMs).toBeGreaterThan(200); // the run really was long...
    expect(ticks).toBeGreaterThan(out.stats.runMs / 5 / 4); // ...and the loop kept going
    // Blocking would show as one gap as long as the run; allow for a loaded machine descheduling us.
    expect(worstGap).toBeLessThan(out.stats.runMs / 3);
  });
});
