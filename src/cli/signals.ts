import { releaseHeldLocksSync } from '../io/folder-lock.js';
import { signalTrackedGroupsSync } from '../io/child-groups.js';

/** How long an interrupted run may take to clean up before the process exits regardless. */
export const ABORT_GRACE_MS = 10_000;

/**
 * An AbortSignal that Ctrl-C, SIGTERM and SIGHUP (a closed terminal) abort, for the CLI and the npm scripts alike:
 * the run stops and cleans up (its temporary folders, its output folder's lock) and ends with E_ABORTED (130). A
 * second signal, or a run that has not stopped within ABORT_GRACE_MS, ends the process at once by that signal.
 */
export function interruptSignal(graceMs = ABORT_GRACE_MS): AbortSignal {
  const controller = new AbortController();
  let interrupts = 0;
  // Die of the signal itself, as Unix tools do (a shell shows 130 for SIGINT, 143 for SIGTERM): process.exit()
  // would run native teardown while an onnxruntime session is mid-run on its thread, which aborts with a C++
  // exception.
  const dieOf = (signal: NodeJS.Signals, why: string): void => {
    process.stderr.write(`error[E_ABORTED]: ${why}\n`);
    process.removeAllListeners('SIGINT');
    process.removeAllListeners('SIGTERM');
    process.removeAllListeners('SIGHUP');
    // Dying of a signal skips 'exit' handlers: an output folder's lock must not outlive the process, nor a child
    // group of its own (which the terminal's signal does not reach).
    releaseHeldLocksSync();
    signalTrackedGroupsSync();
    process.kill(process.pid, signal);
  };
  const onSignal = (signal: NodeJS.Signals): void => {
    interrupts++;
    if (interrupts > 1) return dieOf(signal, 'interrupted again: exiting at once');
    controller.abort();
    // A run always ends after an interrupt: should some step not notice the abort (a blocked system call, a
    // library that ignores signals, a long model run), the process ends anyway, saying so.
    setTimeout(() => dieOf(signal, `did not stop within ${graceMs / 1000} s of the interrupt: exiting`), graceMs).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);
  return controller.signal;
}
