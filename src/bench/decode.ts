import { readFile } from 'node:fs/promises';
import { decodeFrameToHu } from '../dicom/decode.js';
import { parseInstance } from '../dicom/parse.js';
import type { DicomInstance } from '../dicom/types.js';
import type { StageContext } from './context.js';
import { seriesDirs, seriesFiles } from './data.js';
import { measure, type BenchRow, type TaskSpec } from './harness.js';

/** Frames decoded per row: enough for a stable Mvox/s, few enough that JPEG 2000 (about 35 ms a frame) stays short. */
export const DECODE_FRAMES = 100;

/**
 * Decode of frames to HU on the calling thread, per transfer syntax: files read and parsed untimed first, so
 * the row is the codec and the HU mapping alone and a codec regression shows apart from the pool and the disk.
 */
export async function benchDecode(ctx: StageContext): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  // One measure per syntax, so each syntax's files are dropped before the next one's are read.
  for (const { syntax, dir } of await seriesDirs(ctx)) {
    let items: Array<{ bytes: Uint8Array; instance: DicomInstance }> = [];
    let out = new Int16Array(0);
    let frameVox = 0;
    const files = seriesFiles(dir).files.slice(0, DECODE_FRAMES);
    const task: TaskSpec = {
      name: `decode ${syntax}`,
      setup: async () => {
        items = await Promise.all(files.map(async (f) => {
          const bytes = await readFile(f);
          return { bytes, instance: parseInstance(bytes, f) };
        }));
        const first = items[0]!.instance;
        frameVox = first.rows * first.columns;
        out = new Int16Array(frameVox * items.length);
      },
      fn: async () => {
        for (let n = 0; n < items.length; n++) await decodeFrameToHu(items[n]!.bytes, items[n]!.instance, 0, out, n * frameVox);
      },
      get work() {
        return { amount: out.length, unit: 'vox' as const };
      },
      get bytes() {
        return out.byteLength;
      },
      note: `${files.length} frames, 1 thread`,
    };
    rows.push(...(await measure('decode', [task], ctx.baselines, { iterations: 5 })));
  }
  return rows;
}
