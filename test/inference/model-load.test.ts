import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadModelShared } from '../../src/inference/model.js';
import { fixturePackage } from '../pipeline/helpers.js';

/** A package whose model file is `mb` MiB of random bytes with the right sha256 (never run, only loaded). */
function bigPackage(mb: number): string {
  const dir = fixturePackage('heatmap-fp32', { newId: `big-${mb}` });
  const bytes = randomBytes(mb << 20);
  writeFileSync(join(dir, 'model.onnx'), bytes);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { sha256: string };
  manifest.sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

describe('loadModelShared (what detect loads models with)', () => {
  it('reads and hashes between event-loop turns, not in one blocking step', async () => {
    const dir = bigPackage(64);
    let turns = 0;
    const tick = setInterval(() => turns++, 0);
    const pkg = await loadModelShared(dir);
    clearInterval(tick);
    expect(pkg.bytes.byteLength).toBe(64 << 20);
    // 16 reads of 4 MiB each give timers their turns; readFileSync and one hash gave none.
    expect(turns).toBeGreaterThan(3);
  });

  it('concurrent and later calls share one read while the files are unchanged; a changed file is read again', async () => {
    const dir = bigPackage(8);
    const [a, b] = await Promise.all([loadModelShared(dir), loadModelShared(dir)]);
    expect(a).toBe(b);
    expect(await loadModelShared(dir)).toBe(a);
    // Replaced (same size, other bytes): the sha256 no longer matches.
    writeFileSync(join(dir, 'model.onnx'), randomBytes(8 << 20));
    await expect(loadModelShared(dir)).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/does not match/) });
  });
});
