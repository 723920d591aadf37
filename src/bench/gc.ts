import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/**
 * Makes `globalThis.gc` available when node was started without --expose-gc (`ctscope bench`): the flag set at
 * run time applies to contexts created after it, whose `gc` is the same collector. Returns whether gc is there;
 * without it the suites still run, with less prompt frees between samples.
 */
export function ensureGc(): boolean {
  const g = globalThis as { gc?: () => void };
  if (typeof g.gc === 'function') return true;
  try {
    setFlagsFromString('--expose-gc');
    const fn = runInNewContext('gc') as unknown;
    if (typeof fn === 'function') g.gc = fn as () => void;
  } catch {
    /* no gc: measure() and the resample suite skip it */
  }
  return typeof g.gc === 'function';
}
