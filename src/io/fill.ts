/** Drops keys whose value is undefined, so `{ ...DEFAULTS, ...definedOnly(options) }` keeps every default. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) (out as Record<string, unknown>)[k] = v;
  return out;
}
