import type { Command } from './command.js';

/**
 * Every CLI subcommand, in the order `--help` lists them: name -> loader. A command's module (and what it
 * imports: onnxruntime, sharp, dcmjs...) is loaded only when that command runs, so `ctscope info` does not
 * pay for the inference stack at start-up. One line per command file.
 */
export const COMMANDS: Readonly<Record<string, () => Promise<Command>>> = {
  info: async () => (await import('./info.js')).infoCommand,
  convert: async () => (await import('./convert.js')).convertCommand,
  synth: async () => (await import('./synth.js')).synthCommand,
  doctor: async () => (await import('./doctor.js')).doctorCommand,
  detect: async () => (await import('./detect.js')).detectCommand,
  eval: async () => (await import('./eval.js')).evalCommand,
  bench: async () => (await import('./bench.js')).benchCommand,
};

/** All commands, loaded (for the top-level help). */
export async function loadAllCommands(): Promise<Command[]> {
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
}
