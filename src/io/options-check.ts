import { CtscopeError } from '../errors.js';

/**
 * What one option's value must be: a test and the words for the error. Plain-JS hosts get no type check, and a
 * wrong value would otherwise fail later as an uncoded TypeError, or be read as something else (NaN as "no cap",
 * the string 'false' as true).
 */
export interface OptionRule {
  test: (v: unknown) => boolean;
  expected: string;
}

const rule = (expected: string, test: (v: unknown) => boolean): OptionRule => ({ expected, test });
const isInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v);

export const is = {
  string: rule('a string', (v) => typeof v === 'string'),
  nonEmptyString: rule('a non-empty string', (v) => typeof v === 'string' && v.length > 0),
  boolean: rule('true or false', (v) => typeof v === 'boolean'),
  function: rule('a function', (v) => typeof v === 'function'),
  finite: rule('a finite number', (v) => typeof v === 'number' && Number.isFinite(v)),
  // Checked by shape, not instanceof: a polyfill's or another realm's signal is one too.
  signal: rule('an AbortSignal', (v) => {
    const s = v as { aborted?: unknown; addEventListener?: unknown } | null;
    return typeof s === 'object' && s !== null && typeof s.aborted === 'boolean' && typeof s.addEventListener === 'function';
  }),
  strings: rule('a list of strings', (v) => Array.isArray(v) && v.every((x) => typeof x === 'string')),
  integer: (min: number, max = Number.MAX_SAFE_INTEGER): OptionRule => rule(max === Number.MAX_SAFE_INTEGER ? `an integer of at least ${min}` : `an integer from ${min} to ${max}`, (v) => isInt(v) && v >= min && v <= max),
  either: (a: OptionRule, b: OptionRule): OptionRule => rule(`${a.expected} or ${b.expected}`, (v) => a.test(v) || b.test(v)),
  where: (expected: string, test: (v: unknown) => boolean): OptionRule => rule(expected, test),
};

/**
 * E_USAGE for options that are not an object, for a key `spec` does not name (a typo such as `singal` would
 * otherwise leave a run that cannot be aborted), and for a value that breaks its rule (see checkValues).
 */
export function checkOptions<T extends object>(what: string, options: unknown, spec: Readonly<Record<keyof T & string, OptionRule>>): Partial<T> {
  for (const level of hostLevels(what, options))
    for (const key of Object.keys(level))
      if (!Object.hasOwn(spec, key)) throw new CtscopeError('E_USAGE', `unknown ${what} option '${key}' (known: ${Object.keys(spec).join(', ')})`);
  return checkValues<T>(what, options, spec);
}

/**
 * E_USAGE for a value that breaks its rule; keys `spec` does not name are left alone (options passed on to an
 * inner stage carry the outer one's too). Undefined values pass: they take the default. Returns the defined
 * values of the known keys, read as a host's code would read them (getters and inherited values included), so
 * what is checked is what is used. The error names the option and the kind of value, never a string's content.
 */
export function checkValues<T extends object>(what: string, options: unknown, spec: Readonly<Record<keyof T & string, OptionRule>>): Partial<T> {
  const levels = hostLevels(what, options);
  const out: Record<string, unknown> = {};
  for (const [key, r] of Object.entries(spec) as Array<[string, OptionRule]>) {
    const value = levels.some((level) => Object.hasOwn(level, key)) ? (Reflect.get(options as object, key) as unknown) : undefined;
    if (value === undefined) continue;
    if (!r.test(value)) throw new CtscopeError('E_USAGE', `${what} option ${key} must be ${r.expected} (got ${describe(value)})`);
    out[key] = value;
  }
  return out as Partial<T>;
}

/**
 * The options object and its own prototypes, never Object.prototype: a polyfill or a polluted prototype must
 * neither fail every call nor set an option.
 */
function hostLevels(what: string, options: unknown): object[] {
  if (typeof options !== 'object' || options === null || Array.isArray(options)) throw new CtscopeError('E_USAGE', `${what} options must be an object (got ${describe(options)})`);
  const levels: object[] = [];
  for (let o: object | null = options; o && o !== Object.prototype; o = Object.getPrototypeOf(o) as object | null) levels.push(o);
  return levels;
}

function describe(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'boolean' || v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? `a ${(v as object).constructor?.name ?? 'object'}` : `a ${typeof v}`;
}
