import { setMaxListeners } from 'node:events';
import { CtscopeError } from '../errors.js';

/**
 * One 'abort' listener per host signal, shared by every run that watches it. A host that passes one long-lived
 * shutdown signal to many concurrent runs would otherwise get Node's MaxListenersExceededWarning (a leak warning
 * for what is not a leak) once more than ten are in flight.
 */
interface Watch {
  fns: Set<() => void>;
  fire: () => void;
}
const watches = new WeakMap<AbortSignal, Watch>();

/** Calls `fn` once when `signal` aborts; returns the call that stops watching. */
export function onAbort(signal: AbortSignal, fn: () => void): () => void {
  let w = watches.get(signal);
  if (!w) {
    const fns = new Set<() => void>();
    const fire = (): void => {
      watches.delete(signal);
      for (const f of fns) f();
    };
    w = { fns, fire };
    watches.set(signal, w);
    signal.addEventListener('abort', fire, { once: true });
  }
  const watch = w;
  watch.fns.add(fn);
  return () => {
    if (!watch.fns.delete(fn) || watch.fns.size > 0) return;
    // The last watcher leaves: the one listener goes too.
    if (watches.get(signal) === watch) watches.delete(signal);
    signal.removeEventListener('abort', watch.fire);
  };
}

/**
 * An internal controller for a run's worker tasks: each task given its signal adds one listener (piscina), so it
 * takes any number without Node's leak warning, and it follows `outer` through a single shared listener.
 * `release()` stops following.
 */
export function taskController(outer?: AbortSignal): { controller: AbortController; release: () => void } {
  const controller = new AbortController();
  setMaxListeners(0, controller.signal);
  const release = outer ? onAbort(outer, () => controller.abort()) : () => undefined;
  if (outer?.aborted) controller.abort();
  return { controller, release };
}

/**
 * `work`, or E_ABORTED as soon as `signal` aborts. The work itself goes on: it is shared with other callers (a
 * model session being created, a provider probe) or cannot be interrupted (a native session creation), and a
 * later caller reuses what it makes.
 */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal | undefined, what: string): Promise<T> {
  if (!signal) return work;
  const aborted = (): CtscopeError => new CtscopeError('E_ABORTED', `${what} was aborted`);
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(aborted());
  }
  return new Promise<T>((resolve, reject) => {
    const stop = onAbort(signal, () => reject(aborted()));
    work.then(
      (v) => (stop(), resolve(v)),
      (e: unknown) => (stop(), reject(e)),
    );
  });
}
