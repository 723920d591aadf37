import { createRequire } from 'node:module';
import { readJpegFrameHeader } from './jpeg-markers.js';
import type { Codec } from './types.js';

/** The part of jpeg-lossless-decoder-js used here (the package ships no typings). */
interface LosslessDecoder {
  decode(buffer: ArrayBuffer, offset: number, length: number, numBytes?: number): Uint8Array | Uint16Array;
  stream?: { index: number; buffer: Uint8Array };
  xDim?: number;
  yDim?: number;
  numComp?: number;
}

const require = createRequire(import.meta.url);

/**
 * jpeg-lossless-decoder-js stops one sample early when the entropy-coded data runs straight into EOI
 * (the last sample of the image comes out 0). A few zero bytes before EOI let it finish the last unit;
 * they are never read as data because decoding stops once every sample is out.
 */
function padBeforeEoi(b: Uint8Array): Uint8Array {
  // EOI is at the end, give or take fragment padding (0x00 or 0xFF).
  let end = b.length;
  while (end > 2 && b.length - end < 8 && !(b[end - 2] === 0xff && b[end - 1] === 0xd9)) end--;
  if (b[end - 2] !== 0xff || b[end - 1] !== 0xd9) return b;
  const out = new Uint8Array(end + 8);
  out.set(b.subarray(0, end - 2), 0);
  out[end + 6] = 0xff;
  out[end + 7] = 0xd9;
  return out;
}
let Decoder: (new () => LosslessDecoder) | undefined;

/** JPEG Lossless, Process 14 (.57, .70 SV1) via jpeg-lossless-decoder-js (pure JS). */
export const jpegLosslessCodec: Codec = {
  id: 'jpeg-lossless',
  package: 'jpeg-lossless-decoder-js',
  async decode(encoded, layout) {
    Decoder ??= (require('jpeg-lossless-decoder-js') as { Decoder: new () => LosslessDecoder }).Decoder;
    // The decoder allocates X*Y*Nf samples from the SOF before reading any data: check the size first,
    // or a damaged SOF (e.g. 65535 x 32768) makes it reserve gigabytes.
    const sof = readJpegFrameHeader(encoded);
    if (sof?.rows !== undefined && (sof.rows !== layout.rows || sof.columns !== layout.columns || sof.components !== layout.samplesPerPixel)) {
      throw new Error(`frame header says ${sof.columns}x${sof.rows}x${sof.components}, data set says ${layout.columns}x${layout.rows}x${layout.samplesPerPixel}`);
    }
    const d = new Decoder();
    const bytesPerSample = layout.bitsAllocated > 8 ? 2 : 1;
    const input = padBeforeEoi(encoded);
    const out = d.decode(input.buffer as ArrayBuffer, input.byteOffset, input.length, bytesPerSample);
    // The decoder reads undefined (as 0) past the end of a cut stream instead of failing.
    if (d.stream && d.stream.index > d.stream.buffer.length) throw new Error('JPEG Lossless stream ends before the last sample');
    const samples = layout.rows * layout.columns * layout.samplesPerPixel;
    if (d.xDim !== undefined && d.yDim !== undefined && (d.xDim !== layout.columns || d.yDim !== layout.rows)) {
      throw new Error(`decoded ${d.xDim}x${d.yDim}, header says ${layout.columns}x${layout.rows}`);
    }
    if (out.length < samples) throw new Error(`decoder returned ${out.length} samples, expected ${samples}`);
    return { pixels: out.length === samples ? out : out.subarray(0, samples), raw: false };
  },
};
