import { throwIfAborted } from '../errors.js';

/**
 * For loops over in-memory data that never wait on I/O (parsing buffers, decoding frames on this thread):
 * the returned function gives the event loop a turn (setImmediate) once `everyMs` have passed since the
 * last one, so a host's timers, I/O and abort signals still run. Await it once per item.
 */
export function eventLoopTurns(everyMs = 10): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < everyMs) return;
    await new Promise((r) => setImmediate(r));
    last = performance.now();
  };
}

/**
 * Work written once as a generator that yields at safe points (e.g. after each slice of a volume) can run
 * either way: to the end at once (`runToEnd`) or with event-loop turns between steps (`runWithTurns`).
 */
export function runToEnd<T>(work: Generator<void, T>): T {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
  }
}

export async function runWithTurns<T>(work: Generator<void, T>, turn: () => Promise<void> = eventLoopTurns()): Promise<T> {
  for (;;) {
    const r = work.next();
    if (r.done) return r.value;
    await turn();
  }
}

/** Event-loop turns (every `everyMs`) that also end the steps with E_ABORTED once `signal` fires. */
export function abortableTurns(signal: AbortSignal | undefined, stage: string, everyMs = 10): () => Promise<void> {
  const turn = eventLoopTurns(everyMs);
  return async () => {
    await turn();
    throwIfAborted(signal, stage);
  };
}
