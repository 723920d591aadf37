import { parseArgs, type ParseArgsConfig } from 'node:util';
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

export type CommandOptions = NonNullable<ParseArgsConfig['options']>;
export type CommandArgs<O extends CommandOptions> = ReturnType<typeof parseArgs<{ args: string[]; options: O; allowPositionals: boolean; strict: true; tokens: true }>>;

/**
 * node:util parseArgs for a subcommand, strict: an unknown flag or a missing value is E_USAGE, and so is an option
 * that takes a value given twice (`--out a --out b`), which parseArgs would settle silently by keeping the last.
 */
export function parseCommandArgs<O extends CommandOptions>(command: string, args: string[], options: O, allowPositionals = true): CommandArgs<O> {
  const config = { args, options, allowPositionals, strict: true as const, tokens: true as const };
  let parsed: CommandArgs<O>;
  try {
    parsed = parseArgs(config);
  } catch (e) {
    throw usageError(`${command}: ${(e as Error).message}`);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    if (t.kind !== 'option' || options[t.name]?.type !== 'string' || options[t.name]?.multiple) continue;
    if (seen.has(t.name)) throw usageError(`${command}: --${t.name} was given more than once`);
    seen.add(t.name);
  }
  return parsed;
}

/** `--threads N`: an integer from 1 to MAX_THREADS (a pool of millions of threads would exhaust the heap). */
export function parseThreads(text: string | undefined, command: string): number | undefined {
  if (text === undefined) return undefined;
  const n = decimal(text);
  if (!isThreadCount(n)) throw usageError(`${command}: --threads needs an integer from 1 to ${MAX_THREADS} (got ${text})`);
  return n;
}

/** `--device N`: the GPU index for cuda, tensorrt or dml, a non-negative integer (default 0). */
export function parseDeviceId(text: string | undefined, command: string): number {
  if (text === undefined) return 0;
  const n = decimal(text);
  if (!Number.isInteger(n) || n < 0) throw usageError(`${command}: --device needs a non-negative integer (got ${text})`);
  return n;
}
