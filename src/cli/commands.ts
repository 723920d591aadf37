import type { Command } from './command.js';

/** Every CLI subcommand, in the order `--help` lists them. One import line per command file. */
export const commands: Command[] = [];
