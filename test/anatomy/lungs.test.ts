import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readManifest, validateManifest } from '../../src/inference/manifest.js';
import { organRegion, insideRegion, type OrganRegion } from '../../src/anatomy/region.js';
import { runToEnd } from '../../src/io/turns.js';
import { closeRunners } from '../../src/inference/runner.js';
import { summaryTable } from '../../src/cli/console.js';
import { reportHtml } from '../../src/outputs/report.js';
import { detect } from '../../src/pipeline/detect.js';
import { transformForOutput } from '../../src/resample/index.js';
import { synthesize } from '../../src/synth/synthesize.js';
import type { SynthKind } from '../../src/synth/options.js';
import type { SynthTruth } from '../../src/synth/truth.js';
import { lpsToVoxel } from '../../src/volume/affine.js';
import type { Volume } from '../../src/volume/types.js';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';

const SPEC = { organ: 'lungs', closeMm: 20, marginMm: 6 } as const;

/** A phantom on a 2 mm LPS int16 grid, as a model would see it. */
async function onGrid(kind: SynthKind, seed: number): Promise<{ grid: Volume; truth: SynthTruth }> {
  const r = synthesize(kind, { seed, rows: 160, cols: 160, lesions: 4 });
  const grid = await transformForOutput(r.volume, { spacing: [2, 2, 2], orient: 'LPS', interp: 'linear', outType: 'int16', workers: 0 });
  return { grid, truth: r.truth };
}

function bodyFraction(grid: Volume): number {
  let n = 0;
  for (let v = 0; v < grid.data.length; v++) if (grid.data[v]! > -500) n++;
  return n / grid.data.length;
}

function gateFraction(r: OrganRegion): number {
  return r.cells.reduce((a, b) => a + b, 0) / r.cells.length;
}

describe('lung region', () => {
  for (const seed of [11, 12, 13]) {
    it(`chest phantom ${seed}: finds lungs of a plausible volume that hold every planted nodule, in far less than the body`, async () => {
      const { grid, truth } = await onGrid('chest', seed);
      const r = runToEnd(organRegion(grid, SPEC));
      expect(r.found).toBe(true);
      expect(r.volumeMl).toBeGreaterThan(1500);
      expect(r.volumeMl).toBeLessThan(12000);
      expect(truth.findings.length).toBeGreaterThan(0);
      for (const f of truth.findings) expect(insideRegion(r, lpsToVoxel(grid.geometry, f.centerLps))).toBe(true);
      // Spine, the air outside and a point well below the lungs are outside.
      expect(insideRegion(r, [0, 0, 0])).toBe(false);
      expect(gateFraction(r)).toBeLessThan(0.75 * bodyFraction(grid));
    });
  }

  it('a head CTA has no lungs: not found, and then it gates nothing', async () => {
    const { grid } = await onGrid('cta', 21);
    const r = runToEnd(organRegion(grid, SPEC));
    expect(r.found).toBe(false);
    expect(r.volumeMl).toBeLessThan(150);
    expect(insideRegion(r, [0, 0, 0])).toBe(true);
  });
});

/**
 * A torso of soft tissue on a 2 mm LPS grid with two lungs of air, one holding a solid sphere of `massMm`: in its
 * middle, or juxta-pleural (touching the lung's lateral wall from inside, so its centre is its radius from the air
 * on that side).
 */
function torso(massMm: number, at: 'middle' | 'wall' = 'middle'): { volume: Volume; mass: [number, number, number] } {
  const dims: [number, number, number] = [140, 110, 90];
  const data = new Int16Array(dims[0] * dims[1] * dims[2]).fill(-1000);
  const mass: [number, number, number] = [at === 'middle' ? 35 : 13 + Math.round(massMm / 8), 55, 45];
  for (let k = 0; k < dims[2]; k++)
    for (let j = 0; j < dims[1]; j++)
      for (let i = 0; i < dims[0]; i++) {
        const v = i + dims[0] * (j + dims[1] * k);
        if (((i - 70) / 65) ** 2 + ((j - 55) / 50) ** 2 > 1) continue;
        data[v] = 40;
        const inLung = k > 10 && k < 80 && [35, 105].some((c) => ((i - c) / 22) ** 2 + ((j - 55) / 38) ** 2 < 1);
        if (inLung) data[v] = -850;
        if (Math.hypot(i - mass[0], j - mass[1], k - mass[2]) * 2 < massMm / 2) data[v] = 30;
      }
  return { volume: { data, geometry: { dims, spacing: [2, 2, 2], origin: [0, 0, 0], direction: [1, 0, 0, 0, 1, 0, 0, 0, 1] } }, mass };
}

describe('lung region on a drawn torso', () => {
  for (const massMm of [20, 40, 50]) {
    it(`keeps a ${massMm} mm solid mass in the middle of a lung inside the region`, () => {
      const { volume, mass } = torso(massMm);
      const r = runToEnd(organRegion(volume, SPEC));
      expect(r.found).toBe(true);
      expect(insideRegion(r, mass)).toBe(true);
      expect(insideRegion(r, [70, 55, 45])).toBe(false); // the mediastinum between the lungs, 26 mm from each
      expect(insideRegion(r, [70, 55, 2])).toBe(false); // below the lungs
    });
  }

  // The bundled nodule model's region and the default for a manifest that names none: a 15 mm closing dropped a
  // 30 mm irregular juxta-pleural nodule of the held-out phantoms (and this drawn one from 34 mm).
  const shipped = readManifest(fileURLToPath(new URL('../../models/nodule/manifest.json', import.meta.url))).region!;
  const byDefault = validateManifest({ ...JSON.parse(readFileSync(fileURLToPath(new URL('../../models/nodule/manifest.json', import.meta.url)), 'utf8')), region: { organ: 'lungs' } }).region!;
  it('ships and defaults to the spec tested here', () => {
    expect(shipped).toEqual(SPEC);
    expect(byDefault).toEqual(SPEC);
  });
  for (const massMm of [10, 20, 30, 36]) {
    it(`keeps a ${massMm} mm juxta-pleural nodule inside the region (an irregular one of 30 mm reaches further)`, () => {
      const { volume, mass } = torso(massMm, 'wall');
      const r = runToEnd(organRegion(volume, SPEC));
      expect(insideRegion(r, mass)).toBe(true);
      expect(insideRegion(r, [70, 55, 45])).toBe(false);
    });
  }

  /** The torso's first `keep` columns: a field of view that ends at i = keep - 1. */
  function cropX(volume: Volume, keep: number): Volume {
    const [nx, ny, nz] = volume.geometry.dims;
    const data = new Int16Array(keep * ny * nz);
    for (let k = 0; k < nz; k++) for (let j = 0; j < ny; j++) for (let i = 0; i < keep; i++) data[i + keep * (j + ny * k)] = volume.data[i + nx * (j + ny * k)]!;
    return { data, geometry: { ...volume.geometry, dims: [keep, ny, nz] } };
  }

  it('keeps a lung that the field of view cuts through (its air reaches the image edge, not the corners)', () => {
    // The image ends at i = 119, through the body and the second lung (i 83-127).
    const r = runToEnd(organRegion(cropX(torso(20).volume, 120), SPEC));
    expect(r.found).toBe(true);
    for (const p of [[105, 55, 45], [117, 55, 45], [35, 55, 45]] as const) expect(insideRegion(r, p)).toBe(true);
    expect(insideRegion(r, [70, 55, 45])).toBe(false);
    expect(insideRegion(r, [70, 55, 2])).toBe(false);
  });

  it('does not take for a cut lung the air of a hollow table that spans the image, or air caught between the body and the edge', () => {
    const { volume } = torso(20);
    const [nx, ny, nz] = volume.geometry.dims;
    const data = volume.data as Int16Array;
    for (let k = 0; k < nz; k++)
      for (let i = 0; i < nx; i++) {
        // A table under the back (j 106-109 is free): two plates across the whole image with air between them.
        data[i + nx * (106 + ny * k)] = 100;
        data[i + nx * (109 + ny * k)] = 100;
        // An arm from the cut edge onto the body: the air below it is caught between the arm, the body and the edge.
        if (i >= 95) for (let j = 12; j < 18; j++) data[i + nx * (j + ny * k)] = 40;
      }
    const r = runToEnd(organRegion(cropX(volume, 120), SPEC));
    const bare = runToEnd(organRegion(cropX(torso(20).volume, 120), SPEC));
    expect(r.found).toBe(true);
    // The same lungs as without table and arm: neither air was taken for lung.
    expect(r.volumeMl).toBe(bare.volumeMl);
    expect(insideRegion(r, [60, 107, 45])).toBe(false);
    expect(insideRegion(r, [105, 55, 45])).toBe(true);
  });

  it('does not take for lung enclosed air thinner than lung: the hollow of a phantom, the core of a table inside the image', () => {
    // A table under the back that does not reach the image's edges, its core air (-995 HU) closed all round.
    const { volume } = torso(20);
    const [nx, ny, nz] = volume.geometry.dims;
    const data = volume.data as Int16Array;
    for (let k = 0; k < nz; k++)
      for (let j = 104; j <= 109; j++)
        for (let i = 10; i < nx - 10; i++) data[i + nx * (j + ny * k)] = j === 104 || j === 109 || i < 12 || i >= nx - 12 ? 100 : -995;
    const r = runToEnd(organRegion(volume, SPEC));
    expect(r.found).toBe(true);
    expect(r.volumeMl).toBe(runToEnd(organRegion(torso(20).volume, SPEC)).volumeMl);
    expect(insideRegion(r, [60, 106, 45])).toBe(false);
    // A head phantom: a plastic shell round air (about -990 HU), no lungs in it.
    const shell = new Int16Array(nx * ny * nz).fill(-1000);
    for (let k = 0; k < nz; k++)
      for (let j = 0; j < ny; j++)
        for (let i = 0; i < nx; i++) {
          const d = Math.hypot((i - 70) / 60, (j - 55) / 50, (k - 45) / 40);
          if (d <= 1) shell[i + nx * (j + ny * k)] = d > 0.93 ? 120 : -990 + ((i * 7 + j * 13 + k * 17) % 11);
        }
    const phantomHead = runToEnd(organRegion({ data: shell, geometry: volume.geometry }, SPEC));
    expect(phantomHead.found).toBe(false);
  });

  it('counts the volume of partial cells at the grid\'s end as what they hold (a one-slice chest is not a whole cell deep)', () => {
    const { volume } = torso(20);
    const [nx, ny] = volume.geometry.dims;
    const slice: Volume = { data: volume.data.slice(nx * ny * 45, nx * ny * 46), geometry: { ...volume.geometry, dims: [nx, ny, 1] } };
    const r = runToEnd(organRegion(slice, SPEC));
    // Two elliptic lungs of semi-axes 44 and 76 mm, 2 mm deep: 2 x 21.0 mL (a whole 4 mm cell deep would be twice that).
    expect(r.volumeMl).toBeGreaterThan(35);
    expect(r.volumeMl).toBeLessThan(50);
  });

  it('needs axial k-slices: on a grid whose k axis is not head-foot it reports the lungs not found', () => {
    const { volume } = torso(20);
    const r = runToEnd(organRegion({ ...volume, geometry: { ...volume.geometry, direction: [1, 0, 0, 0, 0, 1, 0, 1, 0] } }, SPEC));
    expect(r.found).toBe(false);
  });
});

describe('organ region in the detect pipeline', () => {
  let chest: string, cta: string, pkg: string;
  beforeAll(async () => {
    chest = (await smallPhantom('chest', { seed: 4 })).dir;
    cta = (await smallPhantom('cta', { seed: 5, slices: 32 })).dir;
    // 16^3 patches on the 4 mm grid: enough patches that some hold no lung, at little cost.
    pkg = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], patchSize: [16, 16, 16], maxFindings: 50, score: 0.001, region: SPEC });
  }, 60_000);
  afterAll(() => closeRunners());

  it('skips patches and drops candidates outside the lungs; organMask false looks at the whole body', async () => {
    const gated = (await detect(chest, { models: [pkg], ep: 'cpu' })).document;
    const whole = (await detect(chest, { models: [pkg], ep: 'cpu', organMask: false })).document;
    const all = (await detect(chest, { models: [pkg], ep: 'cpu', bodyMask: false })).document;
    const region = gated.models[0]!.region!;
    expect(region.found).toBe(true);
    expect(region.organ).toBe('lungs');
    expect(region.dropped).toBeGreaterThan(0);
    expect(whole.models[0]!.region).toBeUndefined();
    expect(gated.models[0]!.patches).toBeLessThan(whole.models[0]!.patches);
    // bodyMask false turns every mask off, the organ's too.
    expect(all.models[0]!.region).toBeUndefined();
    expect(all.models[0]!.patches).toBeGreaterThan(whole.models[0]!.patches);
    expect(gated.warnings.some((w) => w.includes('lungs'))).toBe(false);
    expect(summaryTable(gated, undefined)[1]).toMatch(/looked inside the lungs \(\d+ mL found\)$/);
    expect(reportHtml(gated, [])).toContain('looked inside the lungs');
    expect(summaryTable(whole, undefined)[1]).not.toContain('lungs');
  });

  it('says so when the organ is not found and looks at the whole body', async () => {
    const doc = (await detect(cta, { models: [pkg], ep: 'cpu' })).document;
    expect(doc.models[0]!.region).toMatchObject({ organ: 'lungs', found: false, dropped: 0 });
    expect(doc.warnings.some((w) => /no lungs found/.test(w))).toBe(true);
    expect(summaryTable(doc, undefined)[1]).toContain('no lungs found: looked at the whole body');
    expect(doc.findings.length).toBeGreaterThan(0);
  });
});
