import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENERATOR_VERSION, synthesize } from '../../src/synth/synthesize.js';

/**
 * A seed must give the same phantom on every machine and in every later build: detectors are trained
 * and scored on these. If a change to the generator is intended, bump GENERATOR_VERSION and update
 * the hashes here together.
 */
describe('phantoms are pinned per seed', () => {
  const hash = (r: ReturnType<typeof synthesize>): string =>
    createHash('sha256').update(new Uint8Array(r.volume.data.buffer)).update(JSON.stringify(r.truth)).digest('hex');

  it.each([
    ['chest', [8, 8, 10], '9ff1ad154420f6b902716505e9805582c8a7f3c90227df510fb6936901311307'],
    ['cta', [5, 5, 8], '1e23501a5ab257ea5bc04394e4fc95bc91e59a9e4f6320ca5f6a4a0abb4d3364'],
  ] as const)('%s seed 1, coarse whole-body grid (%s mm)', (kind, spacing, expected) => {
    const r = synthesize(kind, { seed: 1, rows: 48, cols: 48, slices: 12, spacing: [...spacing], lesions: 1 });
    expect(GENERATOR_VERSION).toBe('ctscope-synth/1');
    expect(hash(r), 'phantom changed: bump GENERATOR_VERSION and update this hash').toBe(expected);
  });

  it.each([
    ['chest', '5543920acf6e06ce3f5ec5dfc9c71008289229bf712a61a307b35d2dd9aec4e0'],
    ['cta', '3d2eabb0db989632a93e5ae561aff8b77ef9ac8a23caa152bc28bdc8884b8a0f'],
  ] as const)('%s seed 2, fine grid with wide blur kernels', (kind, expected) => {
    const r = synthesize(kind, { seed: 2, rows: 40, cols: 40, slices: 10, spacing: [2, 2, 3], blur: 3.2, thickness: 6, lesions: 1 });
    expect(hash(r), 'phantom changed: bump GENERATOR_VERSION and update this hash').toBe(expected);
  });
});
