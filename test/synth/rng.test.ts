import { describe, expect, it } from 'vitest';
import { hash32, Rng } from '../../src/synth/rng.js';

describe('Rng', () => {
  it('gives the same stream for the same seed and different streams for different seeds', () => {
    const a = new Rng(42), b = new Rng(42), c = new Rng(43);
    const sa = Array.from({ length: 100 }, () => a.u32());
    const sb = Array.from({ length: 100 }, () => b.u32());
    const sc = Array.from({ length: 100 }, () => c.u32());
    expect(sa).toEqual(sb);
    expect(sa).not.toEqual(sc);
  });

  it('is pinned to known values (platform independent integer arithmetic)', () => {
    // If these change, every phantom changes: bump GENERATOR_VERSION.
    // Reference values computed independently (a Python transcription of splitmix32 + xoshiro128**).
    const r = new Rng(1);
    expect([r.u32(), r.u32(), r.u32()]).toEqual([2442144158, 3238099751, 3819917871]);
    expect(hash32('ctscope')).toBe(2541440763);
  });

  it('draws uniform, integer and normal values with the right ranges and moments', () => {
    const r = new Rng(7);
    const n = 20000;
    let sum = 0, sum2 = 0, lo = Infinity, hi = -Infinity;
    const ints = new Set<number>();
    for (let i = 0; i < n; i++) {
      const u = r.uniform(2, 5);
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      ints.add(r.int(-2, 2));
      const g = r.normal(10, 3);
      sum += g;
      sum2 += g * g;
    }
    expect(lo).toBeGreaterThanOrEqual(2);
    expect(hi).toBeLessThan(5);
    expect([...ints].sort()).toEqual([-1, -2, 0, 1, 2].sort());
    const mean = sum / n, sd = Math.sqrt(sum2 / n - mean * mean);
    expect(mean).toBeCloseTo(10, 1);
    expect(sd).toBeGreaterThan(2.9);
    expect(sd).toBeLessThan(3.1);
  });

  it('derives independent named streams', () => {
    expect(Rng.derive(1, 'a').u32()).not.toBe(Rng.derive(1, 'b').u32());
    expect(Rng.derive(1, 'a').u32()).toBe(Rng.derive(1, 'a').u32());
  });
});
