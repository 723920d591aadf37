import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthToDirectory } from '../../src/synth/synthesize.js';
import type { PatientPosition } from '../../src/synth/options.js';
import { indexToLps, lpsToIndex, readSeries, type ReadSeries } from './read-series.js';

const root = mkdtempSync(join(tmpdir(), 'ctscope-synth-geom-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function at(s: ReadSeries, i: number, j: number, k: number): number {
  if (i < 0 || j < 0 || k < 0 || i >= s.cols || j >= s.rows || k >= s.slices) return NaN;
  return s.hu[i + s.cols * (j + s.rows * k)]!;
}

/**
 * Finds the lesion blob near `start` in the written pixels: a weighted centroid over a ball, re-centred
 * until it stops moving (mean shift), so a wrong start converges onto the real blob.
 */
function blobCentroid(s: ReadSeries, start: [number, number, number], radiusMm: number, bg: number, fg: number): [number, number, number] {
  let c = start;
  for (let it = 0; it < 12; it++) {
    const ijk = lpsToIndex(s, c);
    const reach = [radiusMm / s.pixelSpacing[0], radiusMm / s.pixelSpacing[1], radiusMm / Math.hypot(...s.ipp[1]!.map((v, a) => v - s.ipp[0]![a]!))].map(Math.ceil);
    let w = 0, x = 0, y = 0, z = 0;
    for (let k = Math.round(ijk[2]) - reach[2]!; k <= Math.round(ijk[2]) + reach[2]!; k++)
      for (let j = Math.round(ijk[1]) - reach[1]!; j <= Math.round(ijk[1]) + reach[1]!; j++)
        for (let i = Math.round(ijk[0]) - reach[0]!; i <= Math.round(ijk[0]) + reach[0]!; i++) {
          const p = indexToLps(s, [i, j, k]);
          if (Math.hypot(p[0] - c[0], p[1] - c[1], p[2] - c[2]) > radiusMm) continue;
          const v = at(s, i, j, k);
          if (Number.isNaN(v)) continue;
          const q = Math.min(1, Math.max(0, (v - bg) / (fg - bg)));
          w += q;
          x += q * p[0];
          y += q * p[1];
          z += q * p[2];
        }
    const next: [number, number, number] = [x / w, y / w, z / w];
    const moved = Math.hypot(next[0] - c[0], next[1] - c[1], next[2] - c[2]);
    c = next;
    if (moved < 0.01) break;
  }
  return c;
}

const POSITIONS: [PatientPosition, 1 | -1][] = [['HFS', 1], ['FFS', -1], ['HFP', -1], ['FFP', 1], ['HFS', -1]];

describe('phantom geometry in the written files', () => {
  it.each(POSITIONS)('puts chest nodules where truth.json says (%s, slice direction %d)', async (position, sliceDirection) => {
    let checked = 0;
    for (const seed of [3, 4]) {
      const dir = join(root, `chest-${position}-${sliceDirection}-${seed}`);
      const r = await synthToDirectory('chest', { seed, patientPosition: position, sliceDirection, slices: 56, rows: 160, cols: 160, spacing: [2, 2, 2.5], lesions: 5, noise: 15 }, dir);
      const s = readSeries(dir);
      expect(s.tags.patientPosition).toBe(position);
      // The series' own geometry matches truth.json.
      expect(s.ipp[0]![0]).toBeCloseTo(r.truth.series.origin[0], 3);
      expect(s.ipp[0]![2]).toBeCloseTo(r.truth.series.origin[2], 3);
      for (const f of r.truth.findings) {
        if (f.location !== 'isolated' || f.shape !== 'round' || f.diameterMm < 5) continue;
        // Start 3 mm off so the search has to find the blob by itself.
        const start: [number, number, number] = [f.centerLps[0] + 2, f.centerLps[1] - 1.5, f.centerLps[2] + 1.5];
        const found = blobCentroid(s, start, f.diameterMm / 2 + 2, -800, f.hu);
        const err = lpsToIndex(s, found).map((v, a) => v - lpsToIndex(s, f.centerLps)[a]!);
        expect(Math.max(...err.map(Math.abs)), `${position} ${f.type} ${f.diameterMm} mm`).toBeLessThan(1);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it.each<PatientPosition>(['HFS', 'FFS', 'HFP'])('puts CTA aneurysms where truth.json says (%s)', async (position) => {
    const dir = join(root, `cta-${position}`);
    const r = await synthToDirectory('cta', { seed: 21, patientPosition: position, slices: 60, rows: 160, cols: 160, spacing: [0.6, 0.6, 0.8], lesions: 3, noise: 10 }, dir);
    const s = readSeries(dir);
    expect(r.truth.findings.length).toBe(3);
    for (const f of r.truth.findings) {
      const R = f.diameterMm / 2;
      if (R < 2) continue;
      const c = lpsToIndex(s, f.centerLps).map(Math.round) as [number, number, number];
      expect(at(s, ...c)).toBeGreaterThan(f.hu * 0.6);
      // Inside the dome in every direction.
      for (const d of [[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]]) {
        const p = f.centerLps.map((v, a) => v + d[a]! * R * 0.5);
        const q = lpsToIndex(s, p).map(Math.round) as [number, number, number];
        expect(at(s, ...q)).toBeGreaterThan(f.hu * 0.45);
      }
    }
  });
});
