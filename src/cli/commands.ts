import type { Command } from './command.js';
import { synthCommand } from './synth.js';
import { infoCommand } from './info.js';
import { convertCommand } from './convert.js';
import { doctorCommand } from './doctor.js';
import { detectCommand } from './detect.js';
import { evalCommand } from './eval.js';

/** Every CLI subcommand, in the order `--help` lists them. One import line per command file. */
export const commands: Command[] = [infoCommand, convertCommand, synthCommand, doctorCommand, detectCommand, evalCommand];
