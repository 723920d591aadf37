import { spawn } from 'node:child_process';
import { chmodSync, readdirSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** Root ignores file permissions; run the CLI as `nobody` then, so permission faults are real. */
export const AS_ROOT = process.getuid?.() === 0;
export const NOBODY = 65534;

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Every line printed, stdout and stderr. */
  lines: string[];
}

export interface CliOptions {
  /** Run as this uid/gid (root only). */
  uid?: number;
  /** Extra environment variables. */
  env?: Record<string, string>;
  /** Shell words run before exec'ing node (e.g. `ulimit -f 8`). */
  shellPrefix?: string;
  /** Called for each stderr line as it arrives, with the child to signal. */
  onStderrLine?: (line: string, kill: (signal: NodeJS.Signals) => void) => void;
  timeoutMs?: number;
}

/** Runs `ctscope <args>` as a separate process and collects what it prints. */
export function cli(args: string[], options: CliOptions = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const quoted = [process.execPath, CLI, ...args].map((a) => `'${a.replaceAll("'", "'\\''")}'`).join(' ');
    // Another user gets a minimal environment (its own HOME), not this process's.
    const env = options.uid !== undefined ? { PATH: process.env.PATH ?? '', HOME: '/tmp', ...options.env } : { ...process.env, ...options.env };
    const child = options.shellPrefix
      ? spawn('bash', ['-c', `${options.shellPrefix}; exec ${quoted}`], { stdio: ['ignore', 'pipe', 'pipe'], env })
      : spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env, ...(options.uid !== undefined ? { uid: options.uid, gid: options.uid } : {}) });
    let stdout = '', stderr = '', partial = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`ctscope ${args.join(' ')} did not end within ${options.timeoutMs ?? 60_000} ms`));
    }, options.timeoutMs ?? 60_000);
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => {
      const text = d.toString();
      stderr += text;
      partial += text;
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const line of parts) options.onStderrLine?.(line, (s) => child.kill(s));
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      const lines = [...stdout.split('\n'), ...stderr.split('\n')].filter((l) => l.length > 0);
      resolve({ code, signal, stdout, stderr, lines });
    });
  });
}

/** Makes a test tree readable (and folders enterable) by everyone, up to and including its tmp parent. */
export function openToAll(path: string): void {
  const walk = (p: string): void => {
    const st = statSync(p);
    chmodSync(p, st.isDirectory() ? 0o755 : 0o644);
    if (st.isDirectory()) for (const e of readdirSync(p)) walk(join(p, e));
  };
  walk(path);
  chmodSync(dirname(path), 0o755);
}

/** Every entry under a folder, relative names, hidden ones included. */
export function listAll(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string, rel: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      out.push(r);
      if (e.isDirectory()) walk(join(d, e.name), r);
    }
  };
  walk(dir, '');
  return out.sort();
}
