import { usableCores } from '../workers/cores.js';
import { CtscopeError } from '../errors.js';

/**
 * Process-wide admission of whole `detect` runs. Each run holds a full HU volume, its resampled model
 * grids and the window buffers; the decode pool and the model sessions already use every core, so running
 * more than a couple at once buys no speed, only memory. Callers may start any number of runs: the
 * extra ones wait here, in the order detect() was called (each takes its place at the call, before its own
 * checks, whose time varies: reading a model, probing an output folder), and an abort while waiting rejects at once.
 */
let limit = defaultLimit();
let active = 0;
/** Waiting runs, by place: the earliest call first. */
const waiting: Array<{ place: number; start: () => void; signal: AbortSignal | undefined; onAbort: () => void }> = [];
let nextPlace = 0;

/** A run's place in line, taken when it is called. */
export function takePlace(): number {
  return nextPlace++;
}

function defaultLimit(): number {
  const env = Number(process.env.CTSCOPE_MAX_RUNS);
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
  while (active < limit && waiting.length > 0) {
    const w = waiting.shift()!;
    w.signal?.removeEventListener('abort', w.onAbort);
    active++;
    w.start();
  }
}

/** Runs `work` once a slot is free and no earlier place waits; the slot is released however it ends. */
export async function admit<T>(signal: AbortSignal | undefined, work: () => Promise<T>, place = takePlace()): Promise<T> {
  if (signal?.aborted) throw new CtscopeError('E_ABORTED', 'detect was aborted');
  if (active >= limit) {
    await new Promise<void>((resolve, reject) => {
      const entry = {
        place,
        start: resolve,
        signal,
        onAbort: () => {
          const at = waiting.indexOf(entry);
          if (at >= 0) waiting.splice(at, 1);
          reject(new CtscopeError('E_ABORTED', 'detect was aborted while waiting for a free slot'));
        },
      };
      signal?.addEventListener('abort', entry.onAbort, { once: true });
      // In place order: a run whose checks took longer than a later call's still goes before it.
      let at = waiting.length;
      while (at > 0 && waiting[at - 1]!.place > place) at--;
      waiting.splice(at, 0, entry);
    });
  } else active++;
  try {
    return await work();
  } finally {
    active--;
    pump();
  }
}
