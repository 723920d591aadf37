import { createRequire } from 'node:module';
import { CtscopeError } from '../../errors.js';
import type { DecodedFrame, FrameLayout } from './types.js';
import { toDecodedFrame, type WasmFrameInfo } from './wasm.js';
import { endsWithEoi, readJpegFrameHeader } from './jpeg-markers.js';

/** The part of dcmjs-codecs used here (frame-level decoders; its Transcoder is not needed). */
interface DcmjsCodecs {
  log: { setLevel(level: 'silent'): void; info: (...args: unknown[]) => void };
  Context: new (attrs: Record<string, unknown>) => DcmtkContext;
  NativeCodecs: {
    initializeAsync(opts: { logCodecsInfo: boolean; logCodecsTrace: boolean }): Promise<void>;
    decodeJpeg(ctx: DcmtkContext, params?: { convertColorspaceToRgb?: boolean }): DcmtkContext;
  };
}

interface DcmtkContext {
  getWidth(): number | undefined;
  getHeight(): number | undefined;
  getBitsAllocated(): number | undefined;
  getSamplesPerPixel(): number | undefined;
  getDecodedBuffer(): Uint8Array | undefined;
}

const require = createRequire(import.meta.url);
let ready: Promise<DcmjsCodecs> | undefined;
let failures = 0;
/**
 * A decoder that throws leaves its native context (and the IJG state) in the module's heap; after this many
 * failures the module is instantiated afresh, so a long-running host fed corrupt files does not grow.
 */
const REINIT_AFTER_FAILURES = 16;

/** IJG's messages during the current decode (decodeJpeg is synchronous, so one list serves every call). */
const messages: string[] = [];
/**
 * IJG's warnings that the entropy-coded data is damaged. IJG fills in what it cannot decode and returns a whole
 * frame, so without them a hole in a JPEG stream comes back as a garbled slice (dcmdjpeg and GDCM print them).
 */
const DAMAGED = /corrupt jpeg data|premature end of jpeg file|bad huffman code/i;

/** dcmjs-codecs on first use: nothing reaches the console; IJG's messages are kept for the damage check. */
function load(): Promise<DcmjsCodecs> {
  return (ready ??= (async () => {
    try {
      const lib = require('dcmjs-codecs') as DcmjsCodecs;
      lib.log.setLevel('silent');
      lib.log.info = (...args: unknown[]) => {
        if (messages.length < 64) messages.push(args.join(' '));
      };
      await lib.NativeCodecs.initializeAsync({ logCodecsInfo: true, logCodecsTrace: false });
      return lib;
    } catch (e) {
      ready = undefined;
      throw new CtscopeError('E_CODEC', `cannot load dcmjs-codecs: ${(e as Error).message ?? String(e)}`, { cause: e });
    }
  })());
}

/**
 * Decodes one JPEG frame (any process: lossless, 8- or 12-bit DCT) with dcmtk's IJG-based decoders, compiled to
 * WebAssembly by dcmjs-codecs. The output is the samples as stored (bit patterns; sign extension from
 * BitsStored happens downstream), checked against the data set's layout.
 */
export async function decodeJpegWithDcmtk(encoded: Uint8Array, layout: FrameLayout): Promise<DecodedFrame> {
  const sof = readJpegFrameHeader(encoded);
  if (!sof) throw new Error('not a JPEG stream (no SOI/SOF marker)');
  // IJG sizes its buffers from the SOF before reading any data: check it first, or a damaged SOF (e.g.
  // 65535 x 32768) makes it reserve gigabytes.
  if (sof.rows !== undefined && (sof.rows !== layout.rows || sof.columns !== layout.columns || sof.components !== layout.samplesPerPixel)) {
    throw new Error(`frame header says ${sof.columns}x${sof.rows}x${sof.components}, data set says ${layout.columns}x${layout.rows}x${layout.samplesPerPixel}`);
  }
  // IJG fills a cut stream's missing samples and only warns; a stream without EOI is cut.
  if (!endsWithEoi(encoded)) throw new Error('JPEG stream does not end with an EOI marker (cut or corrupt)');
  const lib = await load();
  const ctx = new lib.Context({
    width: layout.columns,
    height: layout.rows,
    bitsAllocated: layout.bitsAllocated,
    bitsStored: layout.bitsStored,
    samplesPerPixel: layout.samplesPerPixel,
    pixelRepresentation: 0,
    planarConfiguration: 0,
    photometricInterpretation: layout.samplesPerPixel === 3 ? 'RGB' : 'MONOCHROME2',
    encodedBuffer: encoded,
  });
  let out: DcmtkContext;
  messages.length = 0;
  try {
    out = lib.NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false });
  } catch (e) {
    if (++failures >= REINIT_AFTER_FAILURES) {
      failures = 0;
      ready = undefined;
    }
    throw e;
  }
  const damage = messages.find((m) => DAMAGED.test(m));
  if (damage) throw new Error(`IJG: ${damage.slice(damage.lastIndexOf('::') + 2)}`);
  const data = out.getDecodedBuffer() ?? new Uint8Array(0);
  const info: WasmFrameInfo = {
    width: out.getWidth() ?? 0,
    height: out.getHeight() ?? 0,
    bitsPerSample: out.getBitsAllocated() ?? layout.bitsAllocated,
    componentCount: out.getSamplesPerPixel() ?? 0,
    isSigned: false,
  };
  // A fresh copy at offset 0 (dcmjs-codecs slices it out of its heap), so a 16-bit view is aligned.
  return toDecodedFrame(info, data, layout);
}
