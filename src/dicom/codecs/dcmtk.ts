import { createRequire } from 'node:module';
import { CtscopeError } from '../../errors.js';
import type { DecodedFrame, FrameLayout } from './types.js';
import { toDecodedFrame, type WasmFrameInfo } from './wasm.js';
import { endsWithEoi, readJpegFrameHeader } from './jpeg-markers.js';

/** The part of dcmjs-codecs used here (frame-level decoders; its Transcoder is not needed). */
interface DcmjsCodecs {
  log: { setLevel(level: 'silent'): void };
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

/** dcmjs-codecs on first use: its log (console) silenced, info and trace callbacks off. */
function load(): Promise<DcmjsCodecs> {
  return (ready ??= (async () => {
    try {
      const lib = require('dcmjs-codecs') as DcmjsCodecs;
      lib.log.setLevel('silent');
      await lib.NativeCodecs.initializeAsync({ logCodecsInfo: false, logCodecsTrace: false });
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
  try {
    out = lib.NativeCodecs.decodeJpeg(ctx, { convertColorspaceToRgb: false });
  } catch (e) {
    if (++failures >= REINIT_AFTER_FAILURES) {
      failures = 0;
      ready = undefined;
    }
    throw e;
  }
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
