import { CtscopeError, exitCodeFor, isCtscopeError } from '../errors.js';
import { oneLineSafe } from '../io/printable.js';

/**
 * Prints a failure as every ctscope program does, one `error[E_CODE]: message` line on stderr (an uncoded one as
 * E_INTERNAL, with its stack under CTSCOPE_DEBUG=1), and returns its exit status.
 */
export function reportFailure(e: unknown): number {
  // One line, always (node:util's parseArgs explains an ambiguous `--device -1` over three).
  const oneLine = (m: string): string => oneLineSafe(m.replace(/\s*\n\s*/g, ' '));
  if (isCtscopeError(e)) {
    process.stderr.write(`error[${(e as CtscopeError).code}]: ${oneLine((e as Error).message)}\n`);
  } else {
    process.stderr.write(`error[E_INTERNAL]: ${oneLine(e instanceof Error ? e.message : String(e))}\n`);
    if (process.env.CTSCOPE_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  }
  return exitCodeFor(e);
}

/**
 * A usage error from the library (a bad provider name, a phantom option out of range) said as the command's own:
 * `detect: --ep must be one of ...`, as the commands' own checks say theirs.
 */
export function usagePrefixed(e: unknown, command: string): unknown {
  if (!isCtscopeError(e) || e.code !== 'E_USAGE' || e.message.startsWith(`${command}:`)) return e;
  const m = e.message;
  // "Expected ..." reads as a sentence of its own: lower-case a plain first word after the prefix, not a name
  // ("ImageOrientationPatient", "DICOMweb").
  const text = /^[A-Z][a-z]*(?=[\s,:'(]|$)/.test(m) ? m[0]!.toLowerCase() + m.slice(1) : m;
  return new CtscopeError('E_USAGE', `${command}: ${text}`, { cause: e, ...(e.where !== undefined ? { where: e.where } : {}) });
}
