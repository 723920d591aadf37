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
    ['chest', [8, 8, 10], 'eb6c803d60015d2159c1ffcd96547d7c944fe87853f34bac09424ab4b9eb93b9'],
    ['cta', [5, 5, 8], '1e3b784e5a986f8804830392b25c337fd987d8e24d0fd38e105ee23df21567e1'],
  ] as const)('%s seed 1, coarse whole-body grid (%s mm)', (kind, spacing, expected) => {
    const r = synthesize(kind, { seed: 1, rows: 48, cols: 48, slices: 12, spacing: [...spacing], lesions: 1 });
    expect(GENERATOR_VERSION).toBe('ctscope-synth/2');
    expect(hash(r), 'phantom changed: bump GENERATOR_VERSION and update this hash').toBe(expected);
  });

  it.each([
    ['chest', '483650cd84e8a68ca8afff5f1899a369023fcae4d874babd789484bc67ea7d8f'],
    ['cta', '86446a657a4380b52f9baaab23b211f1a82f4e937b2cba9164f68fa731e1f54a'],
  ] as const)('%s seed 2, fine grid with wide blur kernels', (kind, expected) => {
    const r = synthesize(kind, { seed: 2, rows: 40, cols: 40, slices: 10, spacing: [2, 2, 3], blur: 3.2, thickness: 6, lesions: 1 });
    expect(hash(r), 'phantom changed: bump GENERATOR_VERSION and update this hash').toBe(expected);
  });
});
