import { afterAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readNifti } from '../../src/volume/nifti.js';
import { loadSeries } from '../../src/ingest/load.js';
import { transformForOutput } from '../../src/resample/index.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'ctscope-resample-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const convert = (...args: string[]): { code: number | null; stderr: string } => {
  const r = spawnSync(process.execPath, [CLI, 'convert', ...args], { encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, stderr: r.stderr };
};

describe.skipIf(!hasSharedData)('ctscope convert --spacing / --interp / --orient / --tilt-correct', () => {
  const series = sharedPath('ct_head_ge_tilt_varspacing');

  it('corrects tilt by default (dcm2niix _Tilt_Eq grid), then reorients and resamples', async () => {
    const tilt = join(dir, 'tilt.nii');
    expect(convert(series, '--out', tilt, '--quiet').code).toBe(0);
    const t = await readNifti(tilt);
    expect(t.dims.slice(1, 4)).toEqual([512, 611, 56]);
    expect(t.pixdim[3]).toBeCloseTo(2.6198, 3);
    expect(t.datatype).toBe(4); // int16 HU, rounded once

    const iso = join(dir, 'iso.nii.gz');
    expect(convert(series, '--out', iso, '--spacing', '1', '--interp', 'linear', '--orient', 'RAS', '--quiet').code).toBe(0);
    const r = await readNifti(iso);
    // 512 x 0.488 = 250, 611 x 0.488 = 298, 56 x 2.62 = 147 mm; RAS keeps this axis order here.
    expect(r.dims.slice(1, 4)).toEqual([250, 298, 147]);
    expect(r.pixdim.slice(1, 4)).toEqual([1, 1, 1]);

    const raw = join(dir, 'raw.nii');
    expect(convert(series, '--out', raw, '--tilt-correct', 'n', '--quiet').code).toBe(0);
    // Without tilt correction the uneven slices are still made equidistant along the tilted axis.
    expect((await readNifti(raw)).dims.slice(1, 4)).toEqual([512, 512, 56]);
  }, 60_000);

  it('rejects bad values with a usage error', () => {
    for (const bad of [['--spacing', '0'], ['--spacing', '1,2'], ['--interp', 'sinc'], ['--orient', 'XYZ'], ['--tilt-correct', 'maybe']]) {
      const r = convert(series, '--out', join(dir, 'bad.nii'), ...bad);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/error\[E_USAGE\]/);
    }
  });

  it('--max-voxels caps every grid convert makes, and a dimension NIfTI-1 cannot hold is E_TOO_LARGE; nothing is written', () => {
    const out = join(dir, 'big.nii');
    // The series (512 x 512 x 28 = 7.3 M voxels) passes the cap; its 0.1 mm resampling (149 M) and restack do not.
    for (const extra of [['--spacing', '0.1,0.1,5', '--tilt-correct', 'n'], []]) {
      const r = convert(series, '--out', out, '--max-voxels', '8000000', ...extra);
      expect(r.code, extra.join(' ')).toBe(3);
      expect(r.stderr).toMatch(/^error\[E_TOO_LARGE\]: output grid \d+x\d+x\d+ is over the limit of 8000000 voxels$/m);
    }
    // A chest phantom's field of view (over 330 mm) at 0.01 mm across is over NIfTI-1's 32767 columns.
    const chest = join(dir, 'chest');
    expect(spawnSync(process.execPath, [CLI, 'synth', 'chest', '--out', chest, '--seed', '2', '--rows', '32', '--cols', '32', '--slices', '4', '--nodules', '0']).status).toBe(0);
    const wide = convert(chest, '--out', out, '--spacing', '0.01,40,40', '--quiet');
    expect(wide.code).toBe(3);
    // Checked with the grid's plan, before it is allocated or computed.
    expect(wide.stderr).toMatch(/error\[E_TOO_LARGE\]: output grid \d+x\d+x\d+ has a side over 32767 voxels/);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a grid under every cap that still does not fit a worker\'s memory is E_TOO_LARGE (bad input), not E_WORKER', () => {
    const chest = join(dir, 'chest-mem');
    expect(spawnSync(process.execPath, [CLI, 'synth', 'chest', '--out', chest, '--seed', '2', '--rows', '32', '--cols', '32', '--slices', '4', '--nodules', '0']).status).toBe(0);
    // About 24000 x 24000 x 1 (576 M voxels, under 2^30 and under 32767 a side) from a field of view of ~420 mm.
    const out = join(dir, 'mem.nii');
    const r = convert(chest, '--out', out, '--spacing', '0.0175,0.0175,1000', '--quiet');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/^error\[E_TOO_LARGE\]: resample needs more memory than a worker thread can have/m);
    expect(existsSync(out)).toBe(false);
  }, 60_000);

  it('a side limit (maxDim) applies to the grid written, not to a restack on the way', async () => {
    const v = await loadSeries(series);
    // The tilt restack is 512 x 611 x 56; resampled to 2 mm it is 125 x 149 x 73.
    const out = await transformForOutput(v, { spacing: 2, maxDim: 600 });
    expect(out.geometry.dims).toEqual([125, 149, 73]);
    await expect(transformForOutput(v, { spacing: 2, maxDim: 100 })).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/has a side over 100 voxels/) });
  }, 60_000);

  it('a library call gets the series cap (2^30 voxels) on its grid by default, not the typed-array limit', async () => {
    const v = await loadSeries(series);
    // 0.2 mm: 1250 x 1492 x 734 = 1.37e9 voxels, under 2^31 - 1 but over 2^30: 5.5 GB of float32 were allocated
    // when no maxVoxels was given.
    await expect(transformForOutput(v, { spacing: 0.2 })).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/over the limit of 1073741824 voxels/) });
  }, 60_000);
});
