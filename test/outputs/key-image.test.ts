import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import sharp from 'sharp';
import { edgeLabels, keyImage, orientationLabel } from '../../src/outputs/key-image.js';
import type { FindingRecord } from '../../src/outputs/document.js';
import type { Mat3 } from '../../src/volume/types.js';

describe('key image orientation labels', () => {
  it('name the patient direction of each axis, strongest first', () => {
    expect(orientationLabel([1, 0, 0])).toBe('L');
    expect(orientationLabel([-1, 0, 0])).toBe('R');
    expect(orientationLabel([0, -1, 0])).toBe('A');
    expect(orientationLabel([0, 0, 1])).toBe('H');
    expect(orientationLabel([0, 0.5, -0.866])).toBe('FP');
    expect(orientationLabel([0.99, 0.1, 0])).toBe('L');
  });

  it('axial HFS shows R on the left and A on top; a prone series shows them mirrored; coronal shows H on top', () => {
    expect(edgeLabels([1, 0, 0, 0, 1, 0, 0, 0, 1])).toEqual({ left: 'R', right: 'L', top: 'A', bottom: 'P' });
    expect(edgeLabels([-1, 0, 0, 0, -1, 0, 0, 0, 1])).toEqual({ left: 'L', right: 'R', top: 'P', bottom: 'A' });
    // Coronal: rows run along +x, columns downwards along -z.
    expect(edgeLabels([1, 0, 0, 0, 0, 1, 0, -1, 0])).toEqual({ left: 'R', right: 'L', top: 'H', bottom: 'F' });
  });

  // Text in the SVG overlay needs a system font (the Debian images here have DejaVu through fontconfig).
  const hasFonts = (() => {
    try {
      return execFileSync('fc-list', { encoding: 'utf8' }).trim().length > 0;
    } catch {
      return false;
    }
  })();
  if (!hasFonts) console.warn('skipping the label drawing test: no system fonts (fc-list)');

  it.skipIf(!hasFonts)('are drawn into the image: bright letters on the dark border, none where there is no label', async () => {
    const dims: [number, number, number] = [64, 64, 3];
    const direction: Mat3 = [1, 0, 0, 0, 1, 0, 0, 0, 1];
    const volume = { data: new Int16Array(64 * 64 * 3).fill(-1000), geometry: { dims, spacing: [1, 1, 1] as [number, number, number], origin: [0, 0, 0] as [number, number, number], direction } };
    const f = { n: 1, model: 'm', kind: 'nodule', label: 'nodule', score: 0.9, centerLps: [32, 32, 1], centerVoxel: [32, 32, 1], sliceIndex: 1, diameterMm: 4, volumeMm3: 30, sopInstanceUid: '1.2', frameNumber: 1 } as unknown as FindingRecord;
    const { png, width, height } = await keyImage(volume, f);
    const { data, info } = await sharp(png).raw().toBuffer({ resolveWithObject: true });
    const brightIn = (x0: number, y0: number, x1: number, y1: number): number => {
      let n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) if (data[(y * info.width + x) * info.channels]! > 200) n++;
      return n;
    };
    const band = Math.round(width / 14);
    expect(brightIn(0, height / 2 - band, band, height / 2 + band), 'R at the left edge').toBeGreaterThan(20);
    expect(brightIn(width / 2 - band, 0, width / 2 + band, band), 'A at the top edge').toBeGreaterThan(20);
    expect(brightIn(width - band, 0, width, band), 'nothing in the top right corner').toBe(0);
  });
});
