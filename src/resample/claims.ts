/**
 * Which output slices a slab runner computes next. Kernels pull slices one at a time from a
 * `SliceClaims` until it returns -1; every slice is computed by the same arithmetic in any order, so
 * results do not depend on who computed what.
 */
export interface SliceClaims {
  next(): number;
}

/** Slices [k0, k1) in order, on this thread alone. */
export function rangeClaims(k0: number, k1: number): SliceClaims {
  let k = k0;
  return { next: () => (k < k1 ? k++ : -1) };
}

/**
 * Output slices split into one segment per worker, shared through a SharedArrayBuffer: segment s is
 * one BigInt64 holding its remaining range [front, back) as front + back * 2^32, updated by
 * compare-and-swap. Its owner takes slices from the front; a worker done with its own segment steals
 * from the back of the segment with the most left. So a worker slowed by other load on the machine
 * computes fewer slices instead of holding up the result, and each worker still walks contiguous runs
 * (a jump costs re-computing the source planes under the new position; with 2 workers there is one).
 */
export interface SharedSlices {
  buffer: SharedArrayBuffer;
  segments: number;
}

const HALF = 2n ** 32n;
const pack = (front: number, back: number): bigint => BigInt(front) + BigInt(back) * HALF;
const frontOf = (v: bigint): number => Number(v % HALF);
const backOf = (v: bigint): number => Number(v / HALF);

/** `ranges` become the segments (one per worker, in worker order). */
export function shareSlices(ranges: ReadonlyArray<readonly [number, number]>): SharedSlices {
  const buffer = new SharedArrayBuffer(8 * Math.max(1, ranges.length));
  const a = new BigInt64Array(buffer);
  ranges.forEach(([k0, k1], s) => Atomics.store(a, s, pack(k0, k1)));
  return { buffer, segments: ranges.length };
}

/** Empties every segment: workers stop after the slice they are computing. */
export function cancelSlices(shared: SharedSlices): void {
  const a = new BigInt64Array(shared.buffer);
  for (let s = 0; s < shared.segments; s++) Atomics.store(a, s, 0n);
}

/** A worker's claims on shared slices: its own segment `own` first, then stolen runs. */
export function sharedClaims(shared: SharedSlices, own: number): SliceClaims {
  const a = new BigInt64Array(shared.buffer);
  let victim = -1;
  const takeFront = (s: number): number => {
    for (;;) {
      const v = Atomics.load(a, s);
      const f = frontOf(v), b = backOf(v);
      if (f >= b) return -1;
      if (Atomics.compareExchange(a, s, v, pack(f + 1, b)) === v) return f;
    }
  };
  const takeBack = (s: number): number => {
    for (;;) {
      const v = Atomics.load(a, s);
      const f = frontOf(v), b = backOf(v);
      if (f >= b) return -1;
      if (Atomics.compareExchange(a, s, v, pack(f, b - 1)) === v) return b - 1;
    }
  };
  const fullest = (): number => {
    let best = -1, most = 0;
    for (let s = 0; s < shared.segments; s++) {
      const v = Atomics.load(a, s);
      const left = backOf(v) - frontOf(v);
      if (left > most) {
        most = left;
        best = s;
      }
    }
    return best;
  };
  return {
    next: () => {
      if (own >= 0) {
        const k = takeFront(own);
        if (k >= 0) return k;
        own = -1;
      }
      for (;;) {
        if (victim >= 0) {
          const k = takeBack(victim);
          if (k >= 0) return k;
        }
        victim = fullest();
        if (victim < 0) return -1;
      }
    },
  };
}
