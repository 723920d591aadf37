import { describe, expect, it } from 'vitest';
import { loadSeries } from '../../src/ingest/load.js';
import { readSourceContext } from '../../src/outputs/source.js';
import { closePool } from '../../src/workers/pool.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';

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
