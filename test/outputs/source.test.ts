import { describe, expect, it } from 'vitest';
import { loadSeries } from '../../src/ingest/load.js';
import { readSourceContext } from '../../src/outputs/source.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const DIST_INDEX = fileURLToPath(new URL('../../dist/index.js', import.meta.url));

describe('the source header for the SR', () => {
  it('is parsed on the worker pool: the host thread never loads dcmjs (40-100 ms of synchronous work)', () => {
    // A process of its own: in the test runner another file may have loaded dcmjs already.
    const dir = mkdtempSync(join(tmpdir(), 'source-header-'));
    const script = `
      import { createRequire } from 'node:module';
      import { synthesize, writeSynthResult, loadSeries, readSourceContext, closePool } from ${JSON.stringify(DIST_INDEX)};
      writeSynthResult(synthesize('chest', { rows: 64, slices: 6, seed: 3, lesions: 0 }), ${JSON.stringify(dir)});
      const volume = await loadSeries(${JSON.stringify(dir)});
      const ctx = await readSourceContext(volume, ${JSON.stringify(dir)});
      await closePool();
      const onHost = Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('/node_modules/dcmjs/'));
      console.log(JSON.stringify({ onHost, tags: Object.keys(ctx.elements), frame: ctx.frameOfReferenceUid !== undefined, warnings: ctx.warnings }));`;
    const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as { onHost: boolean; tags: string[]; frame: boolean; warnings: string[] };
    expect(out.warnings).toEqual([]);
    expect(out.tags).toContain('00100010');
    expect(out.frame).toBe(true);
    expect(out.onHost).toBe(false);
  });
});

describe.skipIf(!hasSharedData)('the source header, cut before the pixel data for the worker, in every transfer syntax', () => {
  it('every syntax of the chest slice, and the enhanced multi-frame series, give the same attributes as the whole file', async () => {
    const { readdirSync, readFileSync } = await import('node:fs');
    const { parseSourceHeader } = await import('../../src/outputs/source.js');
    const dir = sharedPath('ct_chest_slice_transfer_syntaxes');
    const files = [...readdirSync(dir).map((f) => join(dir, f)), sharedPath('ct_enhanced_multiframe', 'eCT_Supplemental.dcm')];
    for (const file of files) {
      const volume = await loadSeries(file);
      const ctx = await readSourceContext(volume, file);
      const whole = parseSourceHeader(readFileSync(file));
      expect(ctx.warnings, file).toEqual(whole.warnings);
      expect(ctx.elements, file).toEqual(whole.elements);
      expect(ctx.frameOfReferenceUid, file).toBe(whole.frameOfReferenceUid);
      expect(Object.keys(ctx.elements).length, file).toBeGreaterThan(3);
    }
    await closePool();
  });
});

describe.skipIf(!hasSharedData)('the SR repeats the source patient and study, also from files without File Meta', () => {
  it('no_meta.dcm (no preamble, no File Meta, one stray leading byte): the header is re-read through a Part 10 wrapper', async () => {
    const file = sharedPath('no_preamble_no_meta', 'no_meta.dcm');
    const volume = await loadSeries(file);
    const ctx = await readSourceContext(volume, file);
    await closePool();
    expect(ctx.warnings.join('\n')).not.toMatch(/could not re-read/);
    // Present, never printed: only which attributes were found is checked.
    for (const tag of ['00100010', '00100020', '00080020', '00200010']) expect(ctx.elements[tag]?.Value?.length, tag).toBe(1);
    expect(ctx.frameOfReferenceUid).toMatch(/^[0-9.]+$/);
  });
});
