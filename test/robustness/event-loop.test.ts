import { describe, expect, it } from 'vitest';
import { eventLoopTurns } from '../../src/io/turns.js';

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
});
