import { createHash } from 'node:crypto';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { synthesize, writeSynthResult } from '../../src/synth/synthesize.js';
import type { SynthKind, SynthOptions } from '../../src/synth/options.js';
import type { SynthTruth } from '../../src/synth/truth.js';
import { encodeElements } from '../../src/dicom/write.js';
import { formatDS } from '../../src/synth/dicom-writer.js';
import { readSeries } from './read-series.js';
import { hasTool } from '../helpers/tools.js';

const root = mkdtempSync(join(tmpdir(), 'ctscope-synth-dicom-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

const HAS_DCMDUMP = hasTool('dcmdump'), HAS_DCIODVFY = hasTool('dciodvfy'), HAS_DCM2NIIX = hasTool('dcm2niix');

let n = 0;
function make(kind: SynthKind, options: SynthOptions): { dir: string; truth: SynthTruth } {
  const dir = join(root, `s${n++}`);
  mkdirSync(dir);
  const r = synthesize(kind, options);
  writeSynthResult(r, dir);
  return { dir, truth: r.truth };
}

function hashDir(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

const small = { slices: 24, rows: 96, cols: 112 };
const chestSigned = make('chest', { seed: 11, ...small, bits: 16, signed: true, lesions: 2 });
const chestUnsigned12 = make('chest', { seed: 12, ...small, bits: 12, signed: false, patientPosition: 'HFP' });
const ctaSigned12 = make('cta', { seed: 13, ...small, bits: 12, signed: true, lesions: 2 });

describe('DICOM writer', () => {
  it('formats DS values within 16 characters', () => {
    for (const v of [0, 1, -1024, 0.625, 1 / 3, -123.456789012, 123456789.123, 1e-9]) {
      const s = formatDS(v);
      expect(s.length).toBeLessThanOrEqual(16);
      expect(Math.abs(Number(s) - v)).toBeLessThan(1e-5 * Math.max(1, Math.abs(v)));
    }
  });

  it('encodes explicit VR little endian elements with even lengths', () => {
    const b = encodeElements([{ tag: 0x00100010, vr: 'PN', value: 'ABC' }, { tag: 0x00080016, vr: 'UI', value: '1.2.3' }]);
    // Sorted by tag: (0008,0016) UI "1.2.3\0", then (0010,0010) PN "ABC ".
    expect([...b.subarray(0, 8)]).toEqual([0x08, 0, 0x16, 0, 0x55, 0x49, 6, 0]);
    expect(b.subarray(8, 14).toString('latin1')).toBe('1.2.3\0');
    expect(b.subarray(22, 26).toString('latin1')).toBe('ABC ');
  });

  it('writes a CT Image Storage series that an independent reader parses', () => {
    const s = readSeries(chestSigned.dir);
    expect(s.slices).toBe(24);
    expect([s.cols, s.rows]).toEqual([112, 96]);
    expect(s.tags.sopClass).toBe('1.2.840.10008.5.1.4.1.1.2');
    expect(s.tags.transferSyntax).toBe('1.2.840.10008.1.2.1');
    expect(s.tags.modality).toBe('CT');
    expect(s.tags.patientName).toBe('PHANTOM^CHEST');
    expect(s.tags.seriesUid).toBe(chestSigned.truth.series.seriesInstanceUid);
    expect(String(s.tags.seriesUid)).toMatch(/^2\.25\.\d{1,39}$/);
    expect(s.tags.pixelRepresentation).toBe(1);
    expect(s.tags.intercept).toBe(0);
    const u = readSeries(chestUnsigned12.dir);
    expect(u.tags.bitsStored).toBe(12);
    expect(u.tags.pixelRepresentation).toBe(0);
    expect(u.tags.intercept).toBe(-1024);
    expect(u.tags.patientPosition).toBe('HFP');
    let lo = Infinity, hi = -Infinity;
    for (const v of u.hu) {
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
    expect(lo).toBeGreaterThanOrEqual(-1024);
    expect(hi).toBeLessThanOrEqual(3071);
    expect(hi).toBeGreaterThan(300);
  });

  it('is deterministic per seed and options', () => {
    const again = make('chest', { seed: 11, ...small, bits: 16, signed: true, lesions: 2 });
    expect(hashDir(again.dir)).toBe(hashDir(chestSigned.dir));
    const other = make('chest', { seed: 14, ...small, bits: 16, signed: true, lesions: 2 });
    expect(hashDir(other.dir)).not.toBe(hashDir(chestSigned.dir));
    expect(other.truth.series.seriesInstanceUid).not.toBe(chestSigned.truth.series.seriesInstanceUid);
    // Same seed, other options: a different series, never a clash of UIDs.
    const thinner = make('chest', { seed: 11, ...small, slices: 23, bits: 16, signed: true, lesions: 2 });
    expect(thinner.truth.series.seriesInstanceUid).not.toBe(chestSigned.truth.series.seriesInstanceUid);
  });

  it.skipIf(!HAS_DCMDUMP)('parses with dcmdump', () => {
    for (const { dir } of [chestSigned, chestUnsigned12, ctaSigned12]) {
      const out = execFileSync('dcmdump', ['+P', '0020,0032', '+P', '0028,0101', join(dir, 'CT000001.dcm')], { encoding: 'utf8' });
      expect(out).toMatch(/ImagePositionPatient/);
      expect(out).toMatch(/BitsStored/);
    }
  });

  it.skipIf(!HAS_DCIODVFY)('passes dciodvfy without errors or warnings', () => {
    for (const { dir } of [chestSigned, chestUnsigned12, ctaSigned12]) {
      const r = spawnSync('dciodvfy', [join(dir, 'CT000001.dcm')], { encoding: 'utf8' });
      const text = `${r.stdout}\n${r.stderr}`;
      expect(text).toMatch(/CTImage/);
      expect(text.split('\n').filter((l) => /^(Error|Warning)/.test(l))).toEqual([]);
    }
  });

  it.skipIf(!HAS_DCM2NIIX)('loads in dcm2niix with the right dims and spacing', () => {
    for (const { dir, truth } of [chestSigned, ctaSigned12]) {
      const out = mkdtempSync(join(root, 'nii-'));
      execFileSync('dcm2niix', ['-o', out, '-f', 'vol', '-z', 'n', dir], { stdio: 'ignore' });
      const hdr = readFileSync(join(out, 'vol.nii'));
      const dims = [1, 2, 3].map((i) => hdr.readInt16LE(40 + 2 * i));
      const pix = [1, 2, 3].map((i) => hdr.readFloatLE(76 + 4 * i));
      expect(dims).toEqual(truth.series.dims);
      for (let a = 0; a < 3; a++) expect(pix[a]).toBeCloseTo(truth.series.spacing[a]!, 3);
    }
  });
});
