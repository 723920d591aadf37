import { closeRunners } from '../inference/runner.js';
import { closePool } from '../workers/pool.js';
import { reportFailure, usagePrefixed } from './failure.js';
import { interruptSignal } from './signals.js';

/**
 * Runs a script entry point (`npm run bench`, `npm run eval`, the fuzzer) the way the CLI runs a command: `--help`
 * or `-h` prints `usage`; otherwise its status, or the failure's (a usage error said as `command`'s); `main` gets the
 * signal that Ctrl-C, SIGTERM and SIGHUP abort. Model sessions
 * and worker threads are closed before the process ends: exiting under a running session aborts it.
 */
export function runEntry(command: string, usage: string, main: (argv: string[], signal: AbortSignal) => Promise<number>): void {
  const argv = process.argv.slice(2);
  // Ctrl-C stops the script as it stops a CLI command: cleaning up, E_ABORTED, 130 (it used to die of the signal,
  // leaving its temporary folders).
  const signal = interruptSignal();
  const run = argv.includes('--help') || argv.includes('-h') ? async () => (process.stdout.write(`${usage}\n`), 0) : () => main(argv, signal);
  // Through a promise, so that a main that throws before its first await is reported like any other failure.
  Promise.resolve()
    .then(run)
    .catch((e: unknown) => reportFailure(usagePrefixed(e, command)))
    .then(async (status) => {
      await closeRunners().catch(() => undefined);
      await closePool().catch(() => undefined);
      process.exitCode = status;
    });
}
