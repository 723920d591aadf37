/**
 * One error class for the whole toolkit. Every failure a user can meet carries a stable code,
 * so the CLI can map it to an exit status and a library host can branch on it.
 */
export type ErrorCode =
  | 'E_USAGE'
  | 'E_NOT_FOUND'
  | 'E_IO'
  | 'E_BAD_INPUT'
  | 'E_NOT_DICOM'
  | 'E_TRUNCATED'
  | 'E_BAD_DICOM'
  | 'E_UNSUPPORTED_SYNTAX'
  | 'E_UNSUPPORTED_PIXELS'
  | 'E_CODEC'
  | 'E_NO_CT_SERIES'
  | 'E_SERIES_NOT_FOUND'
  | 'E_GEOMETRY'
  | 'E_TOO_LARGE'
  | 'E_ABORTED'
  | 'E_WORKER'
  | 'E_MODEL'
  | 'E_MANIFEST'
  | 'E_EP_UNAVAILABLE'
  | 'E_INFERENCE'
  | 'E_OUTPUT'
  | 'E_INTERNAL';

/** Exit status per code class: 2 usage, 3 bad input, 4 runtime/environment, 1 internal. */
const EXIT_CODES: Record<ErrorCode, number> = {
  E_USAGE: 2,
  E_NOT_FOUND: 3,
  E_IO: 4,
  E_BAD_INPUT: 3,
  E_NOT_DICOM: 3,
  E_TRUNCATED: 3,
  E_BAD_DICOM: 3,
  E_UNSUPPORTED_SYNTAX: 3,
  E_UNSUPPORTED_PIXELS: 3,
  E_CODEC: 3,
  E_NO_CT_SERIES: 3,
  E_SERIES_NOT_FOUND: 3,
  E_GEOMETRY: 3,
  E_TOO_LARGE: 3,
  E_ABORTED: 130,
  E_WORKER: 4,
  E_MODEL: 3,
  E_MANIFEST: 3,
  E_EP_UNAVAILABLE: 4,
  E_INFERENCE: 4,
  E_OUTPUT: 4,
  E_INTERNAL: 1,
};

/** Every error code, in the order of the exit status table. */
export const ERROR_CODES = Object.keys(EXIT_CODES) as readonly ErrorCode[];

export class CtscopeError extends Error {
  override readonly name = 'CtscopeError';
  readonly code: ErrorCode;
  /** Where it happened (a file path, a stage); never a patient attribute. */
  readonly where?: string;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; where?: string } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.code = code;
    if (options.where !== undefined) this.where = options.where;
  }

  get exitCode(): number {
    return EXIT_CODES[this.code];
  }
}

export function isCtscopeError(e: unknown): e is CtscopeError {
  return e instanceof CtscopeError || (typeof e === 'object' && e !== null && (e as { name?: unknown }).name === 'CtscopeError' && typeof (e as { code?: unknown }).code === 'string');
}

/** Wraps anything thrown into a CtscopeError, keeping coded errors as they are. */
export function toCtscopeError(e: unknown, fallback: ErrorCode, message?: string, where?: string): CtscopeError {
  if (e instanceof CtscopeError) return e;
  if (isCtscopeError(e)) {
    // Errors that crossed a worker boundary lose their prototype; rebuild them.
    const o = e as unknown as { code: ErrorCode; message: string; where?: string };
    return new CtscopeError(o.code, o.message, o.where !== undefined ? { where: o.where } : {});
  }
  const text = e instanceof Error ? e.message : String(e);
  return new CtscopeError(fallback, message ? `${message}: ${text}` : text, { cause: e, ...(where !== undefined ? { where } : {}) });
}

export function exitCodeFor(e: unknown): number {
  return isCtscopeError(e) ? EXIT_CODES[(e as CtscopeError).code] ?? 1 : 1;
}

export function throwIfAborted(signal: AbortSignal | undefined, what = 'operation'): void {
  if (signal?.aborted) throw new CtscopeError('E_ABORTED', `${what} was aborted`);
}
