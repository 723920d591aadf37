/**
 * Records the largest single typed-array or ArrayBuffer allocation made by JavaScript in this thread
 * (ours and the pure-JS codecs'), so a case that asks for gigabytes is caught even when the buffer is
 * gone by the time the case ends. Imported first by the case worker so the globals are wrapped before
 * any module captures them. WebAssembly codec memories are not seen here; process RSS covers them. Nor are
 * Buffer.alloc, readFile's buffers and TypedArray#slice (made by constructors captured before this runs).
 */
const CONSTRUCTORS = [
  'Int8Array', 'Uint8Array', 'Uint8ClampedArray', 'Int16Array', 'Uint16Array',
  'Int32Array', 'Uint32Array', 'Float32Array', 'Float64Array', 'ArrayBuffer', 'SharedArrayBuffer',
] as const;

/** A typed array made over an existing buffer is a view: it allocates nothing, however large the buffer. */
const isView = (args: unknown[]): boolean => args[0] instanceof ArrayBuffer || (typeof SharedArrayBuffer !== 'undefined' && args[0] instanceof SharedArrayBuffer);

let largest = 0;

function wrap(name: (typeof CONSTRUCTORS)[number]): void {
  const g = globalThis as unknown as Record<string, object>;
  const target = g[name] as new (...args: unknown[]) => { byteLength: number };
  g[name] = new Proxy(target, {
    construct(t, args, newTarget) {
      const made = Reflect.construct(t, args, newTarget) as { byteLength: number };
      // A view over a codec's 256 MiB WebAssembly memory counted as a 256 MiB allocation; a view is none.
      if (!isView(args) && made.byteLength > largest) largest = made.byteLength;
      return made;
    },
  });
}

for (const name of CONSTRUCTORS) wrap(name);

/** Largest allocation since the last call, in bytes; resets the record. */
export function takeLargestAllocation(): number {
  const v = largest;
  largest = 0;
  return v;
}
