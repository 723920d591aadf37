import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { compiledSibling } from '../../../io/compiled.js';

/** What the native binding (openjpeg.c) returns for one codestream. */
export interface NativeJ2kFrame {
  width: number;
  height: number;
  components: number;
  precision: number;
  signed: boolean;
  /** Interleaved samples, 1 byte each for precision <= 8, else 2 (little endian). */
  data: Uint8Array;
  /** OpenJPEG's warnings, ';'-separated (empty when none). */
  warnings: string;
}

interface NativeOpenJpeg {
  decode(codestream: Uint8Array): NativeJ2kFrame;
  version(): string;
}

export const NATIVE_OPENJPEG_FILE = 'ctscope_openjpeg.node';

/** Where the build puts the binding: next to this module in dist/ (absent where it was not built). */
export function nativeOpenJpegPath(): string {
  return compiledSibling(import.meta.url, `./${NATIVE_OPENJPEG_FILE}`, false);
}

let loaded: NativeOpenJpeg | null | undefined;
let why = '';

/**
 * The native OpenJPEG binding, or undefined where it was not built (no compiler or no libopenjp2 at
 * install time), fails to load, or CTSCOPE_NO_NATIVE is set; JPEG 2000 then decodes in WebAssembly.
 */
export function nativeOpenJpeg(): NativeOpenJpeg | undefined {
  if (loaded === undefined) {
    loaded = null;
    const path = nativeOpenJpegPath();
    if (process.env.CTSCOPE_NO_NATIVE !== undefined) why = 'CTSCOPE_NO_NATIVE is set';
    else if (!existsSync(path)) why = 'not built';
    else
      try {
        loaded = createRequire(import.meta.url)(path) as NativeOpenJpeg;
      } catch (e) {
        why = `cannot load: ${(e as Error).message}`;
      }
  }
  return loaded ?? undefined;
}

/** For `doctor`: the libopenjp2 version in use, or why the WebAssembly build is used instead. */
export function nativeOpenJpegStatus(): { ok: true; version: string } | { ok: false; reason: string } {
  const m = nativeOpenJpeg();
  return m ? { ok: true, version: m.version() } : { ok: false, reason: why };
}
