import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * vitest globalSetup: every temporary directory a test run makes (the tests' own mkdtemp calls, the library's
 * scratch space, CLI child processes) goes under one root that is removed at the end, so `npm test` leaves
 * nothing in the system's temporary directory. Runs before the test workers start, which inherit TMPDIR.
 */
export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'ctscope-test-'));
  const before = process.env.TMPDIR;
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    if (!process.env.CTSCOPE_KEEP_TEST_TMP) rmSync(root, { recursive: true, force: true });
  };
}
