import { CtscopeError } from '../errors.js';
import { decodeFrameToHu } from '../dicom/decode.js';
import type { LoadedSeries, StudyInput } from '../ingest/load.js';
import type { SliceReader } from '../outputs/key-image.js';
import { bytesOf } from '../outputs/source.js';


/**
 * A reader that decodes acquired slices again from the input (files, or the caller's buffers), with the same HU
 * mapping as detect's load. Lets `detect` drop the whole volume once the model grids are made: the volume is the
 * largest thing a run holds, and the outputs need only the slices through the findings.
 */
export function sliceReader(volume: LoadedSeries, input: StudyInput): SliceReader {
  const slices = volume.series.layout?.slices ?? [];
  const [nx, ny] = volume.geometry.dims;
  const float = volume.data instanceof Float32Array;
  return async (k) => {
    const ref = slices[k];
    if (!ref) throw new CtscopeError('E_INTERNAL', `slice ${k} is outside the series (${slices.length} slices)`);
    const bytes = await bytesOf(input, ref.instance.source);
    const out = float ? new Float32Array(nx * ny) : new Int16Array(nx * ny);
    // detect loads with the default HU options, so the default here gives the same values.
    await decodeFrameToHu(bytes, ref.instance, ref.frameIndex, out, 0);
    return out;
  };
}
