import { describe, expect, it } from 'vitest';
import { fillSynthOptions, type SynthOptions } from '../../src/synth/options.js';
import { parseSynthArgs } from '../../src/cli/synth.js';
import { CtscopeError } from '../../src/errors.js';

function usage(fn: () => unknown): CtscopeError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CtscopeError);
    expect((e as CtscopeError).code).toBe('E_USAGE');
    return e as CtscopeError;
  }
  throw new Error('expected a usage error');
}

describe('fillSynthOptions', () => {
  it('draws realistic defaults from the seed', () => {
    for (let seed = 0; seed < 40; seed++) {
      const c = fillSynthOptions('chest', { seed });
      expect(c.rows).toBe(512);
      expect(c.spacing[0]).toBeGreaterThanOrEqual(0.6);
      expect(c.spacing[0]).toBeLessThanOrEqual(0.9);
      expect(c.spacing[2]).toBeGreaterThanOrEqual(0.625);
      expect(c.spacing[2]).toBeLessThanOrEqual(2.5);
      expect(c.thickness).toBeGreaterThanOrEqual(c.spacing[2]);
      expect(c.slices * c.spacing[2]).toBeGreaterThan(250);
      expect(c.lesions).toBeGreaterThanOrEqual(0);
      expect(c.lesions).toBeLessThanOrEqual(4);
      expect(c.rescaleIntercept).toBe(c.signed ? 0 : -1024);
      const a = fillSynthOptions('cta', { seed });
      expect(a.spacing[0]).toBeGreaterThanOrEqual(0.39);
      expect(a.spacing[0]).toBeLessThanOrEqual(0.5);
      expect(a.spacing[2]).toBeGreaterThanOrEqual(0.5);
      expect(a.spacing[2]).toBeLessThanOrEqual(1);
    }
  });

  it('varies the scanner between seeds', () => {
    const all = Array.from({ length: 40 }, (_, seed) => fillSynthOptions('chest', { seed }));
    expect(new Set(all.map((o) => o.patientPosition)).size).toBeGreaterThanOrEqual(3);
    expect(new Set(all.map((o) => o.bits)).size).toBe(2);
    expect(new Set(all.map((o) => o.signed)).size).toBe(2);
    expect(new Set(all.map((o) => o.sliceDirection)).size).toBe(2);
    expect(new Set(all.map((o) => o.spacing[2])).size).toBeGreaterThanOrEqual(5);
  });

  it('keeps explicit options and does not let them shift the other draws', () => {
    const base = fillSynthOptions('chest', { seed: 5 });
    const o = fillSynthOptions('chest', { seed: 5, noise: 3, slices: 20, patientPosition: 'FFP', bits: 16, signed: true });
    expect(o.noise).toBe(3);
    expect(o.slices).toBe(20);
    expect(o.patientPosition).toBe('FFP');
    expect(o.rescaleIntercept).toBe(0);
    expect(o.spacing).toEqual(base.spacing);
    expect(o.blur).toBe(base.blur);
  });

  it('one of rows and cols alone gives a square image, in the library as in the CLI', () => {
    expect(fillSynthOptions('chest', { seed: 3, rows: 200 })).toMatchObject({ rows: 200, cols: 200 });
    expect(fillSynthOptions('chest', { seed: 3, cols: 160 })).toMatchObject({ rows: 160, cols: 160 });
    expect(fillSynthOptions('chest', { seed: 3, rows: 200, cols: 160 })).toMatchObject({ rows: 200, cols: 160 });
  });

  it('derives the pixel size from the field of view when only rows/cols change', () => {
    const o = fillSynthOptions('chest', { seed: 3, rows: 128, cols: 128 });
    expect(o.spacing[0] * 128).toBeGreaterThan(300);
  });

  it.each<[string, SynthOptions]>([
    ['negative seed', { seed: -1 }],
    ['fractional seed', { seed: 1.5 }],
    ['too few rows', { rows: 4 }],
    ['zero slices', { slices: 0 }],
    ['bad spacing', { spacing: [1, 0, 1] }],
    ['bad bits', { bits: 8 as 12 }],
    ['negative noise', { noise: -1 }],
    ['bad position', { patientPosition: 'XYZ' as 'HFS' }],
    ['compressed syntax', { syntax: 'jpeg-ls' as 'explicit-le' }],
    ['too many lesions', { lesions: 1000 }],
  ])('rejects %s', (_, opts) => {
    usage(() => fillSynthOptions('chest', opts));
  });

  it('refuses phantoms too large to hold in memory with E_TOO_LARGE', () => {
    expect(() => fillSynthOptions('chest', { rows: 2048, cols: 2048, slices: 2000 })).toThrow(expect.objectContaining({ code: 'E_TOO_LARGE' }));
  });

  it('checks the drawn slice count and the whole size too, not only given ones (a 0.05 mm z spacing drew over 5000 slices)', () => {
    expect(usage(() => fillSynthOptions('chest', { spacing: [0.7, 0.7, 0.05] })).message).toMatch(/slices \(its coverage over the z spacing 0\.05 mm\) is over 2000/);
    // 2048 x 2048 rows and columns and a drawn slice count: about 1.1 G voxels, 4 GB of float32.
    expect(() => fillSynthOptions('chest', { seed: 1, rows: 2048, cols: 2048 })).toThrow(expect.objectContaining({ code: 'E_TOO_LARGE' }));
  });

  it('a spacing or thickness under 0.05 mm, and a non-boolean signed or truth, are E_USAGE', () => {
    usage(() => fillSynthOptions('chest', { spacing: [1e-7, 1e-7, 1] }));
    usage(() => fillSynthOptions('chest', { thickness: 0.01 }));
    expect(usage(() => fillSynthOptions('chest', { signed: 'no' as unknown as boolean })).message).toMatch(/signed to be true or false/);
    expect(usage(() => fillSynthOptions('chest', { truth: 'no' as unknown as boolean })).message).toMatch(/truth to be true or false/);
    expect(fillSynthOptions('chest', { spacing: [0.05, 0.05, 0.5], slices: 4, rows: 16, cols: 16 }).spacing).toEqual([0.05, 0.05, 0.5]);
  });

  it('rejects an unknown kind', () => {
    usage(() => fillSynthOptions('abdomen' as 'chest', {}));
  });
});

describe('library options that are not the phantom\'s', () => {
  it('an unknown key, or signal and force among the phantom\'s options, is E_USAGE (they were silently ignored)', async () => {
    expect(usage(() => fillSynthOptions('chest', { rowz: 64 } as unknown as SynthOptions)).message).toMatch(/unknown synth option 'rowz'/);
    for (const key of ['signal', 'force'])
      expect(usage(() => fillSynthOptions('chest', { [key]: true } as unknown as SynthOptions)).message).toMatch(new RegExp(`'${key}' goes in synthToDirectory's fourth argument`));
    const { synthToDirectory } = await import('../../src/synth/synthesize.js');
    await expect(synthToDirectory('chest', { slices: 2, rows: 16, cols: 16 }, '/nonexistent/never', { singal: 1 } as never)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringContaining("unknown synthToDirectory option 'singal'") });
    // null was a bare TypeError; a force that is not a boolean was taken as true.
    await expect(synthToDirectory('chest', { slices: 2, rows: 16, cols: 16 }, '/nonexistent/never', null as never)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(synthToDirectory('chest', { slices: 2, rows: 16, cols: 16 }, '/nonexistent/never', { force: 'yes' } as never)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/force must be true or false/) });
  });

  it('with or without truth.json, a phantom is the same series: same pixels and UIDs', async () => {
    const { synthesize } = await import('../../src/synth/synthesize.js');
    const a = synthesize('chest', { seed: 5, rows: 32, cols: 32, slices: 4 });
    const b = synthesize('chest', { seed: 5, rows: 32, cols: 32, slices: 4, truth: false });
    expect(b.series.seriesInstanceUid).toBe(a.series.seriesInstanceUid);
    expect(b.series.studyInstanceUid).toBe(a.series.studyInstanceUid);
    expect(Buffer.from(b.volume.data.buffer).equals(Buffer.from(a.volume.data.buffer))).toBe(true);
  });
});

describe('parseSynthArgs', () => {
  it('maps flags onto options', () => {
    const p = parseSynthArgs(['chest', '--out', 'x', '--seed', '9', '--spacing', '0.7,0.7,1.25', '--nodules', '3', '--patient-position', 'ffs', '--bits', '12', '--pixels', 'unsigned', '--no-truth']);
    expect(p.kind).toBe('chest');
    expect(p.out).toBe('x');
    expect(p.options).toEqual({ seed: 9, spacing: [0.7, 0.7, 1.25], lesions: 3, patientPosition: 'FFS', bits: 12, signed: false, truth: false });
    expect(parseSynthArgs(['cta', '-o', 'y', '--aneurysms', '2', '--spacing', '0.5']).options).toEqual({ lesions: 2, spacing: [0.5, 0.5, 0.5] });
  });

  it.each([
    [['chest']],
    [['--out', 'x']],
    [['liver', '--out', 'x']],
    [['chest', '--out', 'x', '--seed', 'abc']],
    [['chest', '--out', 'x', '--slices', '2.5']],
    [['chest', '--out', 'x', '--aneurysms', '2']],
    [['cta', '--out', 'x', '--nodules', '2']],
    [['chest', '--out', 'x', '--bits', '10']],
    [['chest', '--out', 'x', '--pixels', 'float']],
    [['chest', '--out', 'x', '--spacing', '1,2']],
    [['chest', '--out', 'x', '--syntax', 'rle']],
    [['chest', '--out', 'x', '--patient-position', 'ABC']],
    [['chest', '--out', 'x', '--frobnicate']],
  ])('rejects %j with E_USAGE', (argv) => {
    usage(() => parseSynthArgs(argv));
  });
});
