/**
 * Loads one series to HU and exits: the whole-process unit that native-bench times against dcm2niix and
 * pydicom. Prints dims and the in-process load time to stderr.   usage: node dist/bench/load-once.js DIR
 */
import { loadSeries } from '../ingest/load.js';
import { closePool } from '../workers/pool.js';

const dir = process.argv[2];
if (!dir) {
  process.stderr.write('usage: load-once <dicom folder>\n');
  process.exit(2);
}
const t0 = performance.now();
const vol = await loadSeries(dir);
const ms = performance.now() - t0;
process.stderr.write(`${vol.geometry.dims.join('x')} ${vol.data.constructor.name} in ${ms.toFixed(0)} ms\n`);
await closePool();
