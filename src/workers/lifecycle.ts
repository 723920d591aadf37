import { closePool as closeSharedPool, warmPool as warmSharedPool } from './pool.js';

/*
 * The pool's start and stop as the package exports them. A separate module so that the public typings do not
 * reference piscina's (which need `resolveJsonModule` in a consumer that checks library typings).
 */

/** Starts the shared worker threads now (a host's start-up), so its first study does not wait for them. */
export function warmPool(threads?: number): void {
  warmSharedPool(threads);
}

/** Ends the shared worker threads; safe to call when none run. Not needed for a process to exit. */
export function closePool(): Promise<void> {
  return closeSharedPool();
}
