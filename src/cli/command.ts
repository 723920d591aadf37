import { CtscopeError } from '../errors.js';
import { decimal } from '../io/decimal.js';
import { isThreadCount, MAX_THREADS } from '../workers/pool.js';

/** One CLI subcommand: a thin mapping from argv onto a library call. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  /** Returns the process exit status (0 on success). Throws CtscopeError for coded failures. */
  run(argv: string[], io: CliIO): Promise<number>;
}

export interface CliIO {
  out: (line: string) => void;
  err: (line: string) => void;
  /** True when stderr is a terminal (progress bars), false for plain lines. */
  isTTY: boolean;
  signal: AbortSignal;
}

export function usageError(message: string): CtscopeError {
  return new CtscopeError('E_USAGE', message);
}

/** `--threads N`: an integer from 1 to MAX_THREADS (a pool of millions of threads would exhaust the heap). */
export function parseThreads(text: string | undefined, command: string): number | undefined {
  if (text === undefined) return undefined;
  const n = decimal(text);
  if (!isThreadCount(n)) throw usageError(`${command}: --threads needs an integer from 1 to ${MAX_THREADS} (got ${text})`);
  return n;
}
