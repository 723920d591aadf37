import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';

export const SCHEMA_PATH = fileURLToPath(new URL('../../schemas/findings.schema.json', import.meta.url));

/** Validates a parsed findings.json against the published schema; returns ajv's errors as text. */
export function schemaErrors(doc: unknown): string | undefined {
  const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(SCHEMA_PATH, 'utf8')) as object);
  return validate(doc) ? undefined : JSON.stringify(validate.errors, null, 1);
}

export { hasTool as has } from '../helpers/tools.js';

/** dciodvfy's verdict on a file: its Error lines and Warning lines. */
export function dciodvfy(path: string): { errors: string[]; warnings: string[]; output: string } {
  const r = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
  const output = `${r.stdout}${r.stderr}`;
  const lines = output.split('\n');
  return { errors: lines.filter((l) => /^Error/.test(l)), warnings: lines.filter((l) => /^Warning/.test(l)), output };
}

export function dsrdump(path: string): { status: number | null; output: string } {
  const r = spawnSync('dsrdump', ['-Ec', path], { encoding: 'utf8' });
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

export const CHROMIUM = '/usr/bin/chromium';
export const hasChromium = existsSync(CHROMIUM);
export const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
