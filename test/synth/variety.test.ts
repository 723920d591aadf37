import { describe, expect, it } from 'vitest';
import { synthesize } from '../../src/synth/synthesize.js';
import { lpsToVoxel } from '../../src/volume/affine.js';
import type { SynthKind } from '../../src/synth/options.js';

/** Many seeds at a small size: every draw path runs, nothing is NaN, every truth point lies in the grid. */
describe.each<SynthKind>(['chest', 'cta'])('%s phantoms across seeds', (kind) => {
  it('are finite, in range and consistent with their truth', () => {
    const hardKinds = new Set<string>();
    const positions = new Set<string>();
    for (let seed = 100; seed < 124; seed++) {
      const r = synthesize(kind, { seed, rows: 64, cols: 64, slices: 24, spacing: kind === 'chest' ? [6, 6, 8] : [3.5, 3.5, 5], lesions: 2 });
      positions.add(r.options.patientPosition);
      let lo = Infinity, hi = -Infinity;
      for (const v of r.volume.data) {
        if (!Number.isFinite(v)) throw new Error(`non-finite voxel (seed ${seed})`);
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      expect(lo).toBeGreaterThanOrEqual(-3200);
      expect(hi).toBeLessThan(3000);
      const dims = r.volume.geometry.dims;
      for (const p of [...r.truth.findings.map((f) => f.centerLps), ...r.truth.hardNegatives.map((h) => h.centerLps)]) {
        const ijk = lpsToVoxel(r.volume.geometry, p);
        for (let a = 0; a < 3; a++) {
          expect(ijk[a]).toBeGreaterThan(-0.5);
          expect(ijk[a]).toBeLessThan(dims[a]! - 0.5);
        }
      }
      for (const h of r.truth.hardNegatives) hardKinds.add(h.kind);
      expect(JSON.parse(JSON.stringify(r.truth))).toEqual(r.truth);
    }
    expect(positions.size).toBeGreaterThanOrEqual(2);
    if (kind === 'chest') expect([...hardKinds].sort()).toEqual(['end-on-vessel', 'vessel-junction']);
    else for (const k of ['tight-curve', 'junction', 'loop', 'infundibulum']) expect(hardKinds).toContain(k);
  });
});
