#!/usr/bin/env node
import { CtscopeError, exitCodeFor } from './errors.js';
import { reportFailure, usagePrefixed } from './cli/failure.js';
import type { Command, CliIO } from './cli/command.js';
import { closePool } from './workers/pool.js';
import { interruptSignal } from './cli/signals.js';
import { printable } from './io/printable.js';
import { COMMANDS, loadAllCommands } from './cli/commands.js';

function help(list: Command[]): string {
  const lines = ['ctscope: CT/CTA DICOM to Hounsfield-unit volumes and AI findings', '', 'Usage: ctscope <command> [options]', '', 'Commands:'];
  for (const c of list) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `ctscope <command> --help` for the options of one command.', '', EXIT_STATUS);
  return lines.join('\n');
}

/** Every command maps errors to these (errors.ts exitCodeFor); a command's help says it where its usage does not. */
const EXIT_STATUS = 'Exit status: 0 ok, 1 internal error, 2 usage, 3 bad input, 4 runtime (outputs, workers, a full disk), 130 interrupted.';

// A closed pipe (`ctscope info … | head`) is the reader's choice, not an error: stop quietly. Any other
// failure to print (a full disk behind `> file`) is an E_IO line on stderr and exit 4, not a stack trace.
process.stdout.on('error', (e: NodeJS.ErrnoException) => {
  if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
  process.stderr.write(`error[E_IO]: cannot write to standard output: ${e.code ?? e.message}\n`);
  process.exit(exitCodeFor(new CtscopeError('E_IO', '')));
});
process.stderr.on('error', (e: NodeJS.ErrnoException) => {
  process.exit(e.code === 'EPIPE' ? (process.exitCode ?? 0) : exitCodeFor(new CtscopeError('E_IO', '')));
});

async function main(argv: string[]): Promise<number> {
  const signal = interruptSignal();
  const io: CliIO = {
    out: (l) => process.stdout.write(printable(l) + '\n'),
    err: (l) => process.stderr.write(printable(l) + '\n'),
    isTTY: Boolean(process.stderr.isTTY),
    signal,
  };
  const [first, ...more] = argv;
  // `ctscope help detect` is `ctscope detect --help`.
  const [name, ...rest] = first === 'help' && more.length > 0 ? [more[0]!, '--help'] : [first, ...more];
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    // Asked for: stdout, exit 0. No command at all is a usage error: stderr, exit 2, like every other one.
    (name ? io.out : io.err)(help(await loadAllCommands()));
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    const { version } = await import('./version.js');
    io.out(version);
    return 0;
  }
  const load = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!load) {
    const known = Object.keys(COMMANDS).join(', ');
    throw new CtscopeError('E_USAGE', name.startsWith('-') ? `a command comes first (${known}), then its options: got '${name}'` : `unknown command '${name}' (commands: ${known})`);
  }
  const cmd = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    // What it does, how to call it, then how it ends.
    io.out(`ctscope ${cmd.name}: ${cmd.summary}\n\nUsage: ctscope ${cmd.usage}${cmd.usage.includes('Exit status') ? '' : `\n\n${EXIT_STATUS}`}`);
    return 0;
  }
  return cmd.run(rest, io).catch((e: unknown) => {
    throw usagePrefixed(e, cmd.name);
  });
}


main(process.argv.slice(2))
  .then(async (status) => {
    await closePool();
    process.exitCode = status;
  })
  .catch(async (e: unknown) => {
    await closePool().catch(() => undefined);
    process.exitCode = reportFailure(e);
  });
