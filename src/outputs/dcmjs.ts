import { createRequire } from 'node:module';

/**
 * The part of dcmjs ctscope uses. dcmjs ships no typings, so this module is the one typed door to it;
 * it is loaded through require because its CommonJS build is what Node resolves for `main`.
 */
export interface DcmjsElement {
  vr: string;
  Value?: unknown[];
  InlineBinary?: string;
}
export type DcmjsDict = Record<string, DcmjsElement>;

interface DicomDictInstance {
  meta: DcmjsDict;
  dict: DcmjsDict;
  write(options?: { allowInvalidVRLength?: boolean }): ArrayBuffer;
}

export interface Dcmjs {
  data: {
    DicomDict: new (meta: DcmjsDict) => DicomDictInstance;
    DicomMessage: {
      readFile(buffer: ArrayBuffer, options?: { ignoreErrors?: boolean; untilTag?: string | null; includeUntilTagValue?: boolean; noCopy?: boolean; forceStoreRaw?: boolean }): DicomDictInstance;
    };
    DicomMetaDictionary: {
      denaturalizeDataset(ds: Record<string, unknown>): DcmjsDict;
      naturalizeDataset(dict: DcmjsDict): Record<string, unknown>;
    };
  };
}

interface Loglevel {
  setLevel(level: 'silent' | 'error' | 'warn' | 'info' | 'debug' | 'trace'): void;
  getLogger(name: string): Loglevel;
}

let loaded: Dcmjs | undefined;

/** dcmjs, loaded on first use: a host that imports ctscope but writes no SR does not pay for it. */
export function dcmjs(): Dcmjs {
  if (!loaded) {
    loaded = createRequire(import.meta.url)('dcmjs') as Dcmjs;
    // dcmjs reports what it repairs in the source headers it copies (e.g. "Invalid vr type xs - using US" for a
    // private element) on the console: not the user's concern, and it must not mix into ctscope's output.
    if (!process.env.CTSCOPE_DEBUG) {
      const log = (loaded as unknown as { log: Loglevel }).log;
      log.setLevel('silent');
      log.getLogger('validation.dcmjs').setLevel('silent');
    }
  }
  return loaded;
}

/** A Uint8Array's bytes as a standalone ArrayBuffer (dcmjs reads ArrayBuffers from offset 0). */
export function toArrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}
