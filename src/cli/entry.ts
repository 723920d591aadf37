import { closeRunners } from '../inference/runner.js';
import { closePool } from '../workers/pool.js';
import { reportFailure, usagePrefixed } from './failure.js';

/**
 * Runs a script entry point (`npm run bench`, `npm run eval`, the fuzzer) the way the CLI runs a command: its
 * status, or the failure's (a usage error said as `command`'s). Model sessions and worker threads are closed
 * before the process ends: exiting under a running session aborts it.
 */
export function runEntry(command: string, main: () => Promise<number>): void {
  main()
    .catch((e: unknown) => reportFailure(usagePrefixed(e, command)))
    .then(async (status) => {
      await closeRunners().catch(() => undefined);
      await closePool().catch(() => undefined);
      process.exitCode = status;
    });
}
