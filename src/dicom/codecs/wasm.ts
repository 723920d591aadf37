import { createRequire } from 'node:module';
import { CtscopeError } from '../../errors.js';
import type { DecodedFrame, FrameLayout } from './types.js';

/** The embind surface shared by the cornerstone codec builds (OpenJPEG, CharLS, libjpeg-turbo, OpenJPH). */
export interface WasmFrameInfo {
  width: number;
  height: number;
  bitsPerSample: number;
  componentCount: number;
  isSigned?: boolean;
}

interface WasmDecoder {
  getEncodedBuffer(length: number): Uint8Array;
  getDecodedBuffer(): Uint8Array;
  decode(): void;
  getFrameInfo(): WasmFrameInfo;
  delete(): void;
}

export interface WasmCodec {
  create(): WasmDecoder;
  /** Lines the module printed (OpenJPEG reports stream errors only there); cleared per decode. */
  log: string[];
}

type Factory = (module: { print: (s: string) => void; printErr: (s: string) => void }) => Promise<Record<string, unknown>>;

const require = createRequire(import.meta.url);
const LOG_LINES = 32;

/**
 * Loads an Emscripten codec once, on first use. Its stdout/stderr go to a log instead of the
 * console (OpenJPEG prints "[INFO]" lines for every frame).
 */
export function lazyWasmCodec(specifier: string, className: string): () => Promise<WasmCodec> {
  let loading: Promise<WasmCodec> | undefined;
  return () =>
    (loading ??= (async () => {
      const log: string[] = [];
      const keep = (s: string) => {
        if (log.length < LOG_LINES) log.push(String(s));
      };
      try {
        const factory = require(specifier) as Factory;
        const mod = await factory({ print: keep, printErr: keep });
        const Ctor = mod[className] as (new () => WasmDecoder) | undefined;
        if (typeof Ctor !== 'function') throw new Error(`${specifier} has no ${className}`);
        return { log, create: () => new Ctor() };
      } catch (e) {
        loading = undefined;
        throw new CtscopeError('E_CODEC', `cannot load ${specifier}: ${(e as Error).message ?? String(e)}`, { cause: e });
      }
    })());
}

/** Text of whatever a WASM decoder threw (embind throws C++ exception pointers as numbers). */
export function wasmErrorText(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (typeof e === 'number') return `native exception ${e}`;
  return String(e);
}

/** Runs one decode and copies the result out of the WASM heap (the next decode reuses it). */
export async function runWasm(load: () => Promise<WasmCodec>, encoded: Uint8Array): Promise<{ info: WasmFrameInfo; data: Uint8Array; log: string[] }> {
  const codec = await load();
  const d = codec.create();
  codec.log.length = 0;
  try {
    d.getEncodedBuffer(encoded.length).set(encoded);
    d.decode();
    const info = d.getFrameInfo();
    const data = d.getDecodedBuffer().slice();
    return { info, data, log: codec.log.slice() };
  } catch (e) {
    const log = codec.log.filter((l) => /error|warn/i.test(l)).slice(0, 3).join('; ');
    throw new Error(`${wasmErrorText(e)}${log ? ` (${log})` : ''}`, { cause: e });
  } finally {
    d.delete();
  }
}

/** Checks a decoder's frame info against the data set and wraps its bytes as samples. */
export function toDecodedFrame(info: WasmFrameInfo, data: Uint8Array, layout: FrameLayout, raw = false): DecodedFrame {
  if (info.width !== layout.columns || info.height !== layout.rows) {
    throw new Error(`decoded ${info.width}x${info.height}, header says ${layout.columns}x${layout.rows}`);
  }
  if (info.componentCount !== layout.samplesPerPixel) {
    throw new Error(`decoded ${info.componentCount} components, header says ${layout.samplesPerPixel}`);
  }
  const bytesPerSample = info.bitsPerSample > 8 ? 2 : 1;
  const samples = info.width * info.height * info.componentCount;
  if (data.length < samples * bytesPerSample) {
    throw new Error(`decoder returned ${data.length} bytes for ${samples} samples`);
  }
  if (bytesPerSample === 1) return { pixels: data.subarray(0, samples), raw };
  // `data` is a fresh copy at offset 0, so a 16-bit view is aligned.
  const pixels = info.isSigned ? new Int16Array(data.buffer, data.byteOffset, samples) : new Uint16Array(data.buffer, data.byteOffset, samples);
  return { pixels, raw };
}
