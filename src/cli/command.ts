import { parseArgs, type ParseArgsConfig } from 'node:util';
import { CtscopeError } from '../errors.js';
import { decimal } from '../io/decimal.js';
import { MAX_THREADS } from '../workers/pool.js';

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
    throw usageError(`${command}: ${explainParseError(e as Error & { code?: string }, options)}`);
  }
  const seen = new Set<string>();
  for (const t of parsed.tokens) {
    // `-o=x.nii` gives -o the value "=x.nii" (a file named so): the = form belongs to long options.
    if (t.kind === 'option' && t.inlineValue && !t.rawName.startsWith('--') && t.value?.startsWith('=')) {
      const v = t.value.slice(1);
      // A value that is empty or starts with a dash only goes in the long = form.
      const spaced = v === '' || v.startsWith('-') ? '' : `after a space (${t.rawName} ${v}) or `;
      throw usageError(`${command}: ${t.rawName} takes its value ${spaced}as --${t.name}=${v}`);
    }
    if (t.kind !== 'option' || options[t.name]?.type !== 'string' || options[t.name]?.multiple) continue;
    if (seen.has(t.name)) throw usageError(`${command}: --${t.name} was given more than once`);
    seen.add(t.name);
  }
  return parsed;
}

/** What a numeric option accepts: a whole number or any finite one, within [min, max]; `positive` excludes 0. */
export interface NumberRule {
  integer?: boolean;
  min?: number;
  max?: number;
  positive?: boolean;
}

function describeRule(r: NumberRule): string {
  const what = r.integer ? 'an integer' : 'a number';
  if (r.positive) return `a positive ${r.integer ? 'integer' : 'number'}${r.max !== undefined ? ` up to ${r.max}` : ''}`;
  if (r.min !== undefined && r.max !== undefined) return r.integer ? `${what} from ${r.min} to ${r.max}` : `${what} in [${r.min}, ${r.max}]`;
  if (r.min === 0) return `a non-negative ${r.integer ? 'integer' : 'number'}`;
  if (r.min !== undefined) return `${what} of at least ${r.min}`;
  return what;
}

/**
 * The one parser of numeric options (`--threads 2`, `--spacing 0.5`): decimal only (not `0x10`, `Infinity` or an
 * empty string, which Number() takes), then the rule; anything else is E_USAGE naming the command and the flag.
 */
export function numberOption(command: string, flag: string, text: string | undefined, rule: NumberRule = {}): number | undefined {
  if (text === undefined) return undefined;
  const n = decimal(text);
  const ok =
    Number.isFinite(n) &&
    (!rule.integer || Number.isSafeInteger(n)) &&
    (rule.min === undefined || n >= rule.min) &&
    (rule.max === undefined || n <= rule.max) &&
    (!rule.positive || n > 0);
  if (!ok) throw usageError(`${command}: --${flag} needs ${describeRule(rule.integer && rule.positive ? { max: Number.MAX_SAFE_INTEGER, ...rule } : rule)} (got '${text}')`);
  return n;
}

/** node:util's parseArgs messages, made plain: a near miss of an option named, a dash-led value explained. */
function explainParseError(e: Error & { code?: string }, options: CommandOptions): string {
  const flag = /'(-{1,2}[^' ]+)/.exec(e.message)?.[1];
  if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && flag) {
    const near = closestOption(flag.replace(/^-+/, ''), Object.keys(options));
    return `unknown option ${flag}${near ? ` (did you mean --${near}?)` : ''}`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && flag && /ambiguous/.test(e.message)) {
    // `-o=-1` would read as the value "=-1": the long name takes the = form.
    const long = flag.startsWith('--') ? flag : `--${Object.entries(options).find(([, o]) => o.short === flag.slice(1))?.[0] ?? flag.slice(1)}`;
    return `${flag} needs a value; a value that starts with a dash is written ${long}=-1`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /argument missing/.test(e.message)) {
    const name = /'(?:-\w, )?(--[\w-]+)/.exec(e.message)?.[1];
    if (name) return `${name} needs a value`;
  }
  if (e.code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /does not take an argument/.test(e.message)) {
    const name = /'(?:-\w, )?(--[\w-]+)/.exec(e.message)?.[1];
    if (name) return `${name} takes no value`;
  }
  if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
    const arg = /argument '([^']*)'/.exec(e.message)?.[1];
    if (arg !== undefined) return `unexpected argument '${arg}': this command takes options only`;
  }
  return e.message.replace(/\s*\n\s*/g, ' ');
}

/** The option within two edits of `name`, or that it begins or is begun by (`--output` for `--out`). */
function closestOption(name: string, known: string[]): string | undefined {
  let best: string | undefined, bestCost = 3;
  for (const k of known) {
    const cost = name.startsWith(k) || k.startsWith(name) ? 1 : editDistance(name, k);
    if (cost < bestCost) [best, bestCost] = [k, cost];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row[j] = Math.min(prev[j]! + 1, row[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = row;
  }
  return prev[b.length]!;
}

/** `--threads N`: an integer from 1 to MAX_THREADS (a pool of millions of threads would exhaust the heap). */
export function parseThreads(text: string | undefined, command: string): number | undefined {
  return numberOption(command, 'threads', text, { integer: true, min: 1, max: MAX_THREADS });
}

/** `--device N`: the GPU index for cuda, tensorrt or dml, a non-negative integer (default 0). */
export function parseDeviceId(text: string | undefined, command: string): number {
  return numberOption(command, 'device', text, { integer: true, min: 0 }) ?? 0;
}
