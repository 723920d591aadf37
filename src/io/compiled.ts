import { existsSync } from 'node:fs';
import { sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CtscopeError } from '../errors.js';

/**
 * Path of a compiled file that sits beside a module in dist/ (a worker entry, a native binding), given the module's
 * `import.meta.url`. Under vitest the sources run from src/, so the same path in dist/ is used; with `mustExist`
 * (the default) a missing build is E_INTERNAL saying to build.
 */
export function compiledSibling(moduleUrl: string, name: string, mustExist = true): string {
  const file = fileURLToPath(new URL(name, moduleUrl));
  if (fileURLToPath(moduleUrl).endsWith('.js')) return file;
  const at = file.lastIndexOf(`${sep}src${sep}`);
  const built = at < 0 ? file : `${file.slice(0, at)}${sep}dist${sep}${file.slice(at + 5)}`;
  if (mustExist && !existsSync(built)) throw new CtscopeError('E_INTERNAL', `${built} is missing: run \`npm run build\` first`);
  return built;
}
