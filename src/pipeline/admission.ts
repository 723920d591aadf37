import { usableCores } from '../workers/cores.js';
import { CtscopeError } from '../errors.js';
import { decimal } from '../io/decimal.js';

/**
 * Process-wide admission of whole `detect` runs. Each run holds a full HU volume, its resampled model
 * grids and the window buffers; the decode pool and the model sessions already use every core, so running
 * more than a couple at once buys no speed, only memory. Callers may start any number of runs: the
 * extra ones wait here, in the order detect() was called: each takes its place at the call, before its own
 * checks and indexing, whose time varies (a model read, an output folder probed, the headers of a large folder),
 * and a later run does not take a slot that an earlier one still in them will need (at a limit of 1 it waits for it;
 * with more slots it may start beside it). An abort while waiting rejects at once.
 */
let limit = defaultLimit();
let active = 0;
/** Waiting runs, by place: the earliest call first. */
const waiting: Array<{ place: number; start: () => void; signal: AbortSignal | undefined; onAbort: () => void }> = [];
/** Places taken by runs still in their checks: a later run does not start before them. */
const checking = new Set<number>();
let nextPlace = 0;

/**
 * A run's place in line, taken when it is called. It must end in admit() or abandonPlace() (a run that fails its
 * checks): until then, later runs wait for it.
 */
export function takePlace(): number {
  const place = nextPlace++;
  checking.add(place);
  return place;
}

/** A place whose run ended before admission (its checks failed, or it was aborted): later runs stop waiting for it. */
export function abandonPlace(place: number): void {
  if (checking.delete(place)) pump();
}

/** Runs with an earlier place still in their checks: each will need a slot before this one. */
function earlierChecking(place: number): number {
  let n = 0;
  for (const p of checking) if (p < place) n++;
  return n;
}

/** A slot is free for `place` once the runs working and those called before it that still come all fit. */
const slotFor = (place: number): boolean => active + earlierChecking(place) < limit;

function defaultLimit(): number {
  const env = decimal(process.env.CTSCOPE_MAX_RUNS ?? '');
  if (Number.isInteger(env) && env > 0) return env;
  return Math.max(1, Math.min(2, Math.floor(usableCores() / 2)));
}

/** How many detect runs may work at once in this process (default $CTSCOPE_MAX_RUNS, else 1-2 by cores). */
export function setMaxConcurrentRuns(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new CtscopeError('E_USAGE', `Expected a whole number >= 1 for the run limit but received ${String(n)}`);
  limit = n;
  pump();
}

export function maxConcurrentRuns(): number {
  return limit;
}

function pump(): void {
  while (waiting.length > 0 && slotFor(waiting[0]!.place)) {
    const w = waiting.shift()!;
    w.signal?.removeEventListener('abort', w.onAbort);
    active++;
    w.start();
  }
}

/**
 * Runs `work` once a slot is free and no run with an earlier place is waiting or still in its checks; the slot is
 * released however it ends.
 */
export async function admit<T>(signal: AbortSignal | undefined, work: () => Promise<T>, place = takePlace()): Promise<T> {
  checking.delete(place);
  if (signal?.aborted) {
    pump();
    throw new CtscopeError('E_ABORTED', 'detect was aborted');
  }
  if (waiting.length > 0 || !slotFor(place)) {
    await new Promise<void>((resolve, reject) => {
      const entry = {
        place,
        start: resolve,
        signal,
        onAbort: () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          reject(new CtscopeError('E_ABORTED', 'detect was aborted while waiting for a free slot'));
          // Runs behind it may be free to start now.
          pump();
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      // In place order: a run whose checks took longer than a later call's still goes before it.
      let at = waiting.length;
      while (at > 0 && waiting[at - 1]!.place > place) at--;
      waiting.splice(at, 0, entry);
      // A slot may be free, held back only for an earlier place that has just arrived or gone.
      pump();
    });
  } else active++;
  try {
    return await work();
  } finally {
    active--;
    pump();
  }
}
