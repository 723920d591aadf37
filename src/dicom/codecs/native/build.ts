/**
 * Builds the optional native OpenJPEG binding (openjpeg.c against the system's libopenjp2) into
 * dist/dicom/codecs/native/, as the last step of `npm run build`. Never fails the build: without a C
 * compiler, node-gyp, Node's headers or libopenjp2's development files it says why in one line, and
 * JPEG 2000 keeps decoding in WebAssembly. Skipped when the binding is newer than its source.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, rmSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { NATIVE_OPENJPEG_FILE } from './openjpeg.js';

const distDir = dirname(fileURLToPath(import.meta.url));
const root = resolve(distDir, '../../../..');
const srcDir = join(root, 'src/dicom/codecs/native');
const target = join(distDir, NATIVE_OPENJPEG_FILE);

function nodeGyp(): string | undefined {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  return candidates.find((c): c is string => !!c && existsSync(c));
}

/** Node's own headers, so node-gyp needs no download (nothing can be downloaded on an offline machine). */
function nodeDir(): string | undefined {
  const prefix = resolve(dirname(process.execPath), '..');
  if (existsSync(join(prefix, 'include/node/node_api.h'))) return prefix;
  return process.env.npm_config_nodedir || undefined;
}

function upToDate(source: string): boolean {
  if (!existsSync(target)) return false;
  const inputs = [source, join(srcDir, 'binding.gyp')].filter((f) => existsSync(f));
  return inputs.every((f) => statSync(target).mtimeMs > statSync(f).mtimeMs);
}

function build(): string {
  const source = join(srcDir, 'openjpeg.c');
  if (existsSync(source) && upToDate(source)) return 'up to date';
  // From here on any old binding is stale: remove it first, so a failed build cannot leave it in use.
  rmSync(target, { force: true });
  if (process.env.CTSCOPE_NO_NATIVE_BUILD !== undefined) return 'not built (CTSCOPE_NO_NATIVE_BUILD is set)';
  if (!existsSync(source) || !existsSync(join(srcDir, 'binding.gyp'))) return 'not built (no source: installed without src/)';
  try {
    execFileSync('pkg-config', ['--exists', 'libopenjp2'], { stdio: 'ignore' });
  } catch {
    return 'not built (no libopenjp2 development files: apt-get install libopenjp2-7-dev pkg-config)';
  }
  const gyp = nodeGyp();
  if (!gyp) return 'not built (node-gyp not found)';
  const nodedir = nodeDir();
  if (!nodedir) return 'not built (no Node headers next to this node binary)';
  try {
    execFileSync(process.execPath, [gyp, 'rebuild', `--directory=${srcDir}`, `--nodedir=${nodedir}`], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 180_000 });
    mkdirSync(distDir, { recursive: true });
    copyFileSync(join(srcDir, 'build/Release', NATIVE_OPENJPEG_FILE), target);
    return 'built';
  } catch (e) {
    const err = (e as { stderr?: Buffer }).stderr?.toString() ?? String(e);
    const line = err.split('\n').find((l) => /error/i.test(l)) ?? err.split('\n')[0] ?? '';
    return `not built (${line.trim().slice(0, 160)})`;
  } finally {
    rmSync(join(srcDir, 'build'), { recursive: true, force: true });
  }
}

let status: string;
try {
  status = build();
} catch (e) {
  status = `not built (${(e as Error).message.slice(0, 160)})`;
}
const fallback = status.startsWith('not built') ? '; JPEG 2000 decodes in WebAssembly' : '';
// On stderr: `npm pack --json` and `npm publish --json` print their JSON on stdout, after the build.
process.stderr.write(`native OpenJPEG: ${status}${fallback}\n`);
