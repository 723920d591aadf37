import { CtscopeError } from '../errors.js';

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
