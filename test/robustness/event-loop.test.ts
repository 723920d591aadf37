import { describe, expect, it } from 'vitest';
import { eventLoopTurns, runToEnd, runWithTurns } from '../../src/io/turns.js';

describe('eventLoopTurns', () => {
  it('a loop of synchronous steps that awaits a turn per step lets timers run every few milliseconds', async () => {
    const turn = eventLoopTurns(10);
    let beats = 0;
    const timer = setInterval(() => beats++, 5);
    const end = performance.now() + 120;
    while (performance.now() < end) {
      const step = performance.now() + 1;
      while (performance.now() < step); // 1 ms of work that never waits on I/O
      await turn();
    }
    clearInterval(timer);
    // Without the turns the interval could not fire at all during the 120 ms.
    expect(beats).toBeGreaterThanOrEqual(5);
  });

  it('costs nothing while less than the interval has passed', async () => {
    const turn = eventLoopTurns(1_000);
    let beats = 0;
    const timer = setInterval(() => beats++, 1);
    const end = performance.now() + 30;
    while (performance.now() < end) await turn();
    clearInterval(timer);
    expect(beats).toBe(0);
  });

  it('work written as a generator gives the same result at once or with turns, and timers run with turns', async () => {
    function* steps(): Generator<void, number> {
      let sum = 0;
      for (let k = 0; k < 60; k++) {
        const until = performance.now() + 2;
        while (performance.now() < until); // 2 ms of synchronous work per step
        sum += k;
        yield;
      }
      return sum;
    }
    expect(runToEnd(steps())).toBe(1770);
    let beats = 0;
    const timer = setInterval(() => beats++, 5);
    expect(await runWithTurns(steps())).toBe(1770);
    clearInterval(timer);
    expect(beats).toBeGreaterThanOrEqual(5);
  });
});

