import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { CtscopeError, ERROR_CODES, type ErrorCode } from '../../src/errors.js';
import { smallPhantom } from '../pipeline/helpers.js';
import { CLI } from '../helpers/cli.js';

const README = readFileSync(fileURLToPath(new URL('../../README.md', import.meta.url)), 'utf8');

describe('exit status per error code', () => {
  it("is what the README's error section says, for every code, each named once", () => {
    const section = README.slice(README.indexOf('## Errors and guarantees'));
    const paragraph = section.slice(0, section.indexOf('\n\n', section.indexOf('Every failure')));
    // "exits with 2 (usage: `E_USAGE`), 3 (bad input: `E_NOT_DICOM`, ...), 4 (...), 130 (...) or 1 (...)"
    const said = new Map<string, number>();
    for (const m of paragraph.matchAll(/(\d+) \(([^()]*(?:\([^()]*\)[^()]*)*)\)/g)) {
      for (const c of m[2]!.matchAll(/`(E_[A-Z_]+)`/g)) {
        expect(said.has(c[1]!), `${c[1]} named twice`).toBe(false);
        said.set(c[1]!, Number(m[1]));
      }
    }
    expect([...said.keys()].sort()).toEqual([...ERROR_CODES].sort());
    for (const code of ERROR_CODES) expect(new CtscopeError(code as ErrorCode, '').exitCode, code).toBe(said.get(code));
  });
});

/** Runs the CLI with stdout on a given fd or a pipe closed before it prints. */
function run(args: string[], stdout: 'closed' | number): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', stdout === 'closed' ? 'pipe' : stdout, 'pipe'] });
    if (stdout === 'closed') child.stdout!.destroy();
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code) => resolve({ code, stderr }));
  });
}

describe('printing the result', () => {
  let series: string;
  beforeAll(async () => {
    series = (await smallPhantom('chest', { slices: 8 })).dir;
  }, 60_000);

  it('into a closed pipe (`ctscope info … | head -0`) ends quietly with exit 0', async () => {
    const r = await run(['info', series, '--json', '--quiet'], 'closed');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
  });

  it('onto a full disk is one E_IO line and exit 4', async () => {
    const full = openSync('/dev/full', 'w');
    try {
      const r = await run(['info', series, '--json', '--quiet'], full);
      expect(r.stderr).toMatch(/^error\[E_IO\]: cannot write to standard output: ENOSPC\n$/);
      expect(r.code).toBe(4);
    } finally {
      closeSync(full);
    }
  });
});
