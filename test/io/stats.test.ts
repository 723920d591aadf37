import { describe, expect, it } from 'vitest';
import { median, quantile } from '../../src/io/stats.js';

describe('quantile and median', () => {
  it('interpolates linearly between order statistics and leaves the input as it was', () => {
    const xs = [3, 1, 4, 2];
    expect(quantile(xs, 0)).toBe(1);
    expect(quantile(xs, 1)).toBe(4);
    expect(quantile(xs, 0.25)).toBeCloseTo(1.75, 12);
    expect(quantile(xs, 0.975)).toBeCloseTo(3.925, 12);
    expect(xs).toEqual([3, 1, 4, 2]);
    expect(quantile([], 0.5)).toBeNaN();
  });

  it('gives the middle value, or exactly the mean of the middle two', () => {
    expect(median([5, 1, 3])).toBe(3);
    expect(median([1, 2])).toBe(1.5);
    // The mean of two neighbours as (a + b) / 2 rounds it: the same here, to the last bit.
    expect(median([0.1, 0.7])).toBe((0.1 + 0.7) / 2);
    expect(median([])).toBeNaN();
  });
});
