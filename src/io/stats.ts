/** The q-quantile of `values`, interpolated linearly between order statistics (NaN if none); the input is not reordered. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((a, b) => a - b);
  const at = q * (s.length - 1);
  const lo = Math.floor(at);
  const f = at - lo;
  // Written as a weighted sum so that q = 0.5 gives exactly (a + b) / 2.
  return lo + 1 < s.length ? (1 - f) * s[lo]! + f * s[lo + 1]! : s[lo]!;
}

/** The median of `values` (the mean of the middle two for an even count); the input is not reordered. */
export function median(values: readonly number[]): number {
  return quantile(values, 0.5);
}
