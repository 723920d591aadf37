import { describe, expect, it } from 'vitest';
import type { Vec3 } from '../../src/volume/types.js';
import { decodeBoxes, iou3d, nms3d, type Box3 } from '../../src/postprocess/boxes.js';
import { connectedComponents } from '../../src/postprocess/components.js';
import { findPeaks, peakSearch, RegionFill, regionSize } from '../../src/postprocess/peaks.js';

describe('box decoding and 3-D NMS', () => {
  // Feature map 3 x 2 x 2 (i, j, k) at stride (4, 4, 2), two anchors.
  const feature: Vec3 = [3, 2, 2];
  const cells = 12;
  const spec = { stride: [4, 4, 2] as Vec3, anchors: [[8, 8, 4], [16, 16, 8]] as Vec3[], weights: [10, 10, 10, 5, 5, 5], maxDeltaLog: 4, threshold: 0.5 };
  const scores = new Float32Array(2 * cells);
  const deltas = new Float32Array(2 * 6 * cells);
  const cell = (i: number, j: number, k: number): number => i + 3 * (j + 2 * k);
  // Anchor 0 at cell (2, 1, 1): centre (2*4 + 1.5, 1*4 + 1.5, 1*2 + 0.5) = (9.5, 5.5, 2.5).
  scores[cell(2, 1, 1)] = 0.9;
  deltas[0 * cells + cell(2, 1, 1)] = 10 * 0.25; // di = 0.25 anchor widths = +2 voxels
  deltas[4 * cells + cell(2, 1, 1)] = 5 * Math.log(2); // sj doubles
  // Anchor 1 at cell (0, 0, 0): centre (1.5, 1.5, 0.5), size 16 x 16 x 8, low score.
  scores[cells + cell(0, 0, 0)] = 0.6;
  scores[cell(1, 0, 0)] = 0.4; // below threshold

  it('decodes centres and sizes from anchors, strides and weighted deltas', () => {
    const boxes = decodeBoxes(scores, deltas, feature, spec, [100, 200, 300]);
    expect(boxes).toHaveLength(2);
    const a = boxes.find((b) => b.score > 0.8)!;
    expect(a.center).toEqual([111.5, 205.5, 302.5]);
    expect(a.size.map((s) => +s.toFixed(6))).toEqual([8, 16, 4]);
    const b = boxes.find((x) => x.score < 0.8)!;
    expect(b.center).toEqual([101.5, 201.5, 300.5]);
    expect(b.size).toEqual([16, 16, 8]);
  });

  it('clips runaway size deltas', () => {
    const d = deltas.slice();
    d[3 * cells + cell(2, 1, 1)] = 5 * 50;
    const a = decodeBoxes(scores, d, feature, spec).find((b) => b.score > 0.8)!;
    expect(a.size[0]).toBeCloseTo(8 * Math.exp(4), 6);
  });

  it('IoU and greedy NMS keep the best of overlapping boxes', () => {
    const box = (c: Vec3, s: number, score: number): Box3 => ({ center: c, size: [s, s, s], score });
    expect(iou3d(box([0, 0, 0], 2, 1), box([0, 0, 0], 2, 1))).toBe(1);
    expect(iou3d(box([0, 0, 0], 2, 1), box([1, 0, 0], 2, 1))).toBeCloseTo(4 / 12, 10);
    expect(iou3d(box([0, 0, 0], 2, 1), box([3, 0, 0], 2, 1))).toBe(0);
    const kept = nms3d([box([0, 0, 0], 4, 0.7), box([0.5, 0, 0], 4, 0.9), box([10, 0, 0], 4, 0.8), box([10.2, 0.1, 0], 4, 0.3)], 0.3);
    expect(kept.map((b) => b.score)).toEqual([0.9, 0.8]);
    expect(nms3d(kept, 0.3, 1)).toHaveLength(1);
  });
});

describe('heatmap peaks and connected components', () => {
  const dims: Vec3 = [30, 20, 10];
  const map = new Float32Array(30 * 20 * 10);
  const put = (c: Vec3, peak: number, s: number): void => {
    for (let k = 0; k < 10; k++) for (let j = 0; j < 20; j++) for (let i = 0; i < 30; i++) {
      const v = i + 30 * (j + 20 * k);
      map[v] = Math.max(map[v]!, peak * Math.exp(-((i - c[0]) ** 2 + (j - c[1]) ** 2 + (k - c[2]) ** 2) / (2 * s * s)));
    }
  };
  put([7.3, 6, 4.6], 0.9, 1.5);
  put([21, 13.2, 5], 0.7, 1.5);
  put([23, 15, 5], 0.6, 1); // a shoulder within 4 mm of the second peak

  it('finds local maxima with sub-voxel centres and suppresses close ones', () => {
    const peaks = findPeaks({ data: map, dims }, { threshold: 0.5, spacing: [1, 1, 1], minDistanceMm: 4, sizeLevel: 0.5 });
    expect(peaks).toHaveLength(2);
    expect(peaks[0]!.score).toBeCloseTo(0.9, 1);
    peaks[0]!.center.forEach((c, a) => expect(Math.abs(c - [7.3, 6, 4.6][a]!)).toBeLessThan(0.1));
    expect(peaks[0]!.voxels).toBeGreaterThan(10);
    expect(findPeaks({ data: map, dims }, { threshold: 0.5, spacing: [1, 1, 1], minDistanceMm: 2 })).toHaveLength(3);
    expect(findPeaks({ data: map, dims }, { threshold: 0.95, spacing: [1, 1, 1], minDistanceMm: 4 })).toHaveLength(0);
  });

  it('skips maxima outside an accepted region before suppression and the count limit', () => {
    const o = { threshold: 0.5, spacing: [1, 1, 1] as Vec3, minDistanceMm: 4, maxPeaks: 1 };
    // The 0.9 peak is outside: the one slot goes to the 0.7 peak.
    const inside = findPeaks({ data: map, dims }, { ...o, accept: (i) => i > 18 });
    expect(inside).toHaveLength(1);
    expect(inside[0]!.score).toBeCloseTo(0.7, 1);
    // The 0.7 peak is outside: it is not returned, but still suppresses its 0.6 shoulder as it did without a region.
    const noSecond = findPeaks({ data: map, dims }, { ...o, maxPeaks: 5, accept: (i, j) => !(i === 21 && j === 13) });
    expect(noSecond.map((p) => p.score.toFixed(1))).toEqual(['0.9']);
    expect(findPeaks({ data: map, dims }, { ...o, maxPeaks: 5, minDistanceMm: 2, accept: (i, j) => !(i === 21 && j === 13) }).map((p) => p.score.toFixed(1))).toEqual(['0.9', '0.6']);
  });

  it('labels components with size, max score and weighted centroid', () => {
    const comps = connectedComponents({ data: map, dims }, { threshold: 0.3 });
    expect(comps).toHaveLength(2);
    expect(comps[0]!.score).toBeCloseTo(0.9, 1);
    comps[0]!.center.forEach((c, a) => expect(Math.abs(c - [7.3, 6, 4.6][a]!)).toBeLessThan(0.15));
    const seg = new Uint8Array(27);
    seg[0] = 1;
    seg[13] = 1;
    seg[26] = 1; // opposite corners and the centre: corner-to-corner neighbours only
    expect(connectedComponents({ data: seg, dims: [3, 3, 3] }, { threshold: 1 })).toHaveLength(1);
    expect(connectedComponents({ data: seg, dims: [3, 3, 3] }, { threshold: 1, connectivity: 6 })).toHaveLength(3);
  });
});

describe('region sizes of many peaks', () => {
  it('counts each peak region exactly with shared stamps, and stops a runaway region at the cap', () => {
    const dims: [number, number, number] = [40, 30, 20];
    const data = new Float32Array(dims[0] * dims[1] * dims[2]);
    // Two separate 3x3x3 cubes at 1.0 and a 1-voxel wide bridge-free gap between them.
    for (const [ci, cj, ck] of [[5, 5, 5], [20, 15, 10]] as const)
      for (let k = ck - 1; k <= ck + 1; k++) for (let j = cj - 1; j <= cj + 1; j++) for (let i = ci - 1; i <= ci + 1; i++) data[i + dims[0] * (j + dims[1] * k)] = 1;
    data[5 + dims[0] * (5 + dims[1] * 5)] = 2;
    data[20 + dims[0] * (15 + dims[1] * 10)] = 2;
    const fill = new RegionFill({ data, dims });
    expect(fill.size(5 + dims[0] * (5 + dims[1] * 5), 0.5)).toBe(27);
    expect(fill.size(20 + dims[0] * (15 + dims[1] * 10), 0.5)).toBe(27);
    expect(fill.size(5 + dims[0] * (5 + dims[1] * 5), 0.5)).toBe(27); // a second fill of the same region
    const flat = new Float32Array(dims[0] * dims[1] * dims[2]).fill(1);
    expect(new RegionFill({ data: flat, dims }, 1000).size(0, 0.5)).toBe(1000);
    expect(regionSize({ data: flat, dims }, 0, 0.5)).toBe(flat.length);
  });

  it('fills in steps: a yield after every peak and every 65 k voxels of a region, so the host keeps its turns', () => {
    const steps = <T>(g: Generator<void, T>): { value: T; yields: number } => {
      for (let yields = 0; ; yields++) {
        const r = g.next();
        if (r.done) return { value: r.value, yields };
      }
    };
    // One region of 1.2 M voxels, cut at the default cap of 2^20.
    const dims: [number, number, number] = [128, 128, 72];
    const flat = new Float32Array(dims[0] * dims[1] * dims[2]).fill(0.3);
    const big = steps(new RegionFill({ data: flat, dims }).sizeSteps(0, 0.25));
    expect(big.value).toBe(2 ** 20);
    expect(big.yields).toBeGreaterThanOrEqual(15);
    // 40 separate peaks: the scan yields once per slice, the fills once per peak at least.
    const map = new Float32Array(dims[0] * dims[1] * dims[2]);
    for (let n = 0; n < 40; n++) map[8 + 3 * n + dims[0] * (10 + dims[1] * (4 + n))] = 0.5 + n / 100;
    const peaks = steps(peakSearch({ data: map, dims }, { threshold: 0.1, spacing: [1, 1, 1], minDistanceMm: 1, sizeLevel: 0.5 }));
    expect(peaks.value).toHaveLength(40);
    expect(peaks.value.every((p) => p.voxels === 1)).toBe(true);
    expect(peaks.yields).toBeGreaterThanOrEqual(dims[2] + 40);
  });
});
