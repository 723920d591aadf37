import { describe, expect, it } from 'vitest';
import { labelComponents } from '../../src/postprocess/components.js';
import { cellGrid, cellsHit, dilate, distanceSq, erode, fillHoles2d, fractionBelow, reachableFromBorder2d, type CellGrid } from '../../src/anatomy/cells.js';
import { runToEnd } from '../../src/io/turns.js';
import type { Vec3 } from '../../src/volume/types.js';

function grid(cellDims: Vec3, cellMm: Vec3 = [1, 1, 1]): CellGrid {
  return { dims: [...cellDims], block: [1, 1, 1], cellDims: [...cellDims], cellMm: [...cellMm] };
}

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

describe('cell grids', () => {
  it('sizes cells from the spacing and counts the fraction of low voxels per cell, partial cells included', () => {
    const g = cellGrid([5, 4, 3], [1, 2, 3], 2);
    expect(g.block).toEqual([2, 1, 1]);
    expect(g.cellDims).toEqual([3, 4, 3]);
    expect(g.cellMm).toEqual([2, 2, 3]);
    const data = new Int16Array(5 * 4 * 3).fill(100);
    data[4] = -1000; // x = 4: the partial last cell along x of row 0, slice 0
    data[0] = -1000; // x = 0: half of cell 0
    const f = runToEnd(fractionBelow(data, g, -400));
    expect(f[0]).toBe(0.5);
    expect(f[2]).toBe(1);
    expect(f.reduce((a, b) => a + b, 0)).toBe(1.5);
  });

  it('gives exact squared Euclidean distances on an anisotropic grid (against brute force)', () => {
    const r = rng(7);
    const g = grid([9, 7, 6], [1, 1.5, 2.5]);
    const n = 9 * 7 * 6;
    const mask = new Uint8Array(n);
    for (let c = 0; c < n; c++) mask[c] = r() < 0.04 ? 1 : 0;
    mask[17] = 1;
    const d = runToEnd(distanceSq(mask, g));
    const pos = (c: number): Vec3 => [c % 9, Math.floor(c / 9) % 7, Math.floor(c / 63)];
    for (let c = 0; c < n; c++) {
      let best = Infinity;
      for (let s = 0; s < n; s++) {
        if (!mask[s]) continue;
        const a = pos(c), b = pos(s);
        best = Math.min(best, ((a[0] - b[0]) * 1) ** 2 + ((a[1] - b[1]) * 1.5) ** 2 + ((a[2] - b[2]) * 2.5) ** 2);
      }
      expect(d[c]).toBeCloseTo(best, 9);
    }
  });

  it('dilates by a ball, and closing fills a dent narrower than the ball but keeps the outline', () => {
    const g = grid([21, 21, 1]);
    const one = new Uint8Array(21 * 21);
    one[10 + 21 * 10] = 1;
    const ball = runToEnd(dilate(one, g, 3));
    expect(ball.reduce((a, b) => a + b, 0)).toBe(29); // lattice points with x^2 + y^2 <= 9
    // A square with a 3-cell-wide notch cut into its top edge.
    const sq = new Uint8Array(21 * 21);
    for (let y = 4; y <= 16; y++) for (let x = 4; x <= 16; x++) sq[x + 21 * y] = 1;
    for (let y = 4; y <= 7; y++) for (let x = 9; x <= 11; x++) sq[x + 21 * y] = 0;
    const closed = runToEnd(erode(runToEnd(dilate(sq, g, 3)), g, 3));
    for (let y = 5; y <= 7; y++) for (let x = 9; x <= 11; x++) expect(closed[x + 21 * y]).toBe(1);
    expect(closed[3 + 21 * 10]).toBe(0);
    expect(closed[4 + 21 * 10]).toBe(1);
  });

  it('finds 6-connected components and the air a slice border reaches', () => {
    const g = grid([6, 6, 2]);
    const m = new Uint8Array(72);
    // Two blobs touching only diagonally are two components.
    m[1 + 6 * 1] = 1;
    m[2 + 6 * 2] = 1;
    m[2 + 6 * 2 + 36] = 1;
    const { labels, sizes } = labelComponents({ data: m, dims: g.cellDims }, { threshold: 1, connectivity: 6 });
    expect(sizes.sort()).toEqual([1, 2]);
    expect(labels[2 + 6 * 2]).toBe(labels[2 + 6 * 2 + 36]);
    // A ring of tissue in slice 0 encloses air the border cannot reach.
    const open = new Uint8Array(72).fill(1);
    for (let i = 1; i <= 4; i++) for (const [x, y] of [[i, 1], [i, 4], [1, i], [4, i]] as const) open[x + 6 * y] = 0;
    const out = runToEnd(reachableFromBorder2d(open, g));
    expect(out[2 + 6 * 2]).toBe(0);
    expect(out[0]).toBe(1);
    expect(out[2 + 6 * 2 + 36]).toBe(1); // slice 1 has no ring
  });

  it('tells which sliding-window patches touch a set cell', () => {
    const g = cellGrid([40, 40, 40], [1, 1, 1], 4);
    const cells = new Uint8Array(10 * 10 * 10);
    cells[5 + 10 * (5 + 10 * 5)] = 1; // voxels 20..23 on each axis
    const m = { ...g, cells };
    expect(cellsHit(m, [0, 0, 0], [20, 40, 40])).toBe(false);
    expect(cellsHit(m, [0, 0, 0], [21, 40, 40])).toBe(true);
    expect(cellsHit(m, [23, 23, 23], [40, 40, 40])).toBe(true);
    expect(cellsHit(m, [24, 0, 0], [40, 40, 40])).toBe(false);
    expect(cellsHit(m, [21, 21, 21], [21, 40, 40])).toBe(false); // an empty box
  });

  it('fills what a mask encloses within each axial slice, not what touches the slice border', () => {
    const g = grid([7, 7, 2]);
    const m = new Uint8Array(98);
    for (let i = 1; i <= 5; i++) for (const [x, y] of [[i, 1], [i, 5], [1, i], [5, i]] as const) m[x + 7 * y] = 1;
    // Slice 1: the same ring, open on one side.
    for (let c = 0; c < 49; c++) m[49 + c] = m[c]!;
    m[49 + 5 + 7 * 3] = 0;
    const f = runToEnd(fillHoles2d(m, g));
    expect(f[3 + 7 * 3]).toBe(1);
    expect(f[0]).toBe(0);
    expect(f[49 + 3 + 7 * 3]).toBe(0);
  });
});
