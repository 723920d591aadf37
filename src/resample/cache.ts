/**
 * Drops the cached plane farthest from `ks` and returns its storage for reuse. Output slices walk the
 * source monotonically (either way), so the farthest plane is the one not needed again, and it is never
 * one of the current slice's taps: they all lie within the kernel support of `ks`.
 */
export function evict<P>(cache: Map<number, P>, ks: number): P {
  let victim = ks, far = -1;
  for (const k of cache.keys())
    if (Math.abs(k - ks) > far) {
      far = Math.abs(k - ks);
      victim = k;
    }
  const p = cache.get(victim)!;
  cache.delete(victim);
  return p;
}
