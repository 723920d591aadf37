import { describe, expect, it } from 'vitest';
import { rangeClaims, shareSlices, sharedClaims, type SliceClaims } from '../../src/resample/claims.js';
import { splitRange } from '../../src/resample/run.js';

const drain = (c: SliceClaims): number[] => {
  const got: number[] = [];
  for (let k = c.next(); k >= 0; k = c.next()) got.push(k);
  return got;
};

/** Maximal runs of consecutive slices (either direction) in the order they were claimed. */
const runs = (ks: number[]): number => ks.filter((k, i) => i === 0 || Math.abs(k - ks[i - 1]!) !== 1).length;

describe('slice claims', () => {
  it('a range hands out its slices in order, then -1', () => {
    const c = rangeClaims(3, 7);
    expect(drain(c)).toEqual([3, 4, 5, 6]);
    expect(c.next()).toBe(-1);
  });

  it('a worker alone takes its segment, then steals every other segment from the back, each slice once', () => {
    const shared = shareSlices(splitRange(100, 4));
    const got = drain(sharedClaims(shared, 1));
    expect(got.slice(0, 25)).toEqual(Array.from({ length: 25 }, (_, i) => 25 + i));
    expect([...got].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    // Its own run plus one descending run per stolen segment.
    expect(runs(got)).toBe(4);
    expect(got[25]).toBeGreaterThan(got[26]!);
  });

  it('workers claiming in turn share the slices without overlap, and one that is slowed takes fewer', () => {
    const shared = shareSlices(splitRange(300, 2));
    const fast = sharedClaims(shared, 0), slow = sharedClaims(shared, 1);
    const a: number[] = [], b: number[] = [];
    let fastDone = false, slowDone = false;
    for (let step = 0; !(fastDone && slowDone); step++) {
      if (!fastDone) {
        const k = fast.next();
        if (k < 0) fastDone = true;
        else a.push(k);
      }
      // The slow worker claims a slice for every three of the fast one's.
      if (!slowDone && step % 3 === 0) {
        const k = slow.next();
        if (k < 0) slowDone = true;
        else b.push(k);
      }
    }
    expect([...a, ...b].sort((x, y) => x - y)).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(a.length).toBeGreaterThan(2 * b.length);
    // Each walked contiguous runs: the fast one its segment, then the slow one's tail backwards.
    expect(runs(a)).toBe(2);
    expect(runs(b)).toBe(1);
  });

  it('an empty run or segment yields nothing', () => {
    expect(drain(rangeClaims(5, 5))).toEqual([]);
    expect(drain(sharedClaims(shareSlices([]), 0))).toEqual([]);
  });
});
