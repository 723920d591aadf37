import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

describe('the published typings, as a strict TypeScript consumer sees them', () => {
  it('type-check with skipLibCheck off, no DOM lib, exactOptionalPropertyTypes on and Node16 resolution; detect(..., { sr: true }) gives SR bytes', () => {
    const app = mkdtempSync(join(tmpdir(), 'ctscope-consumer-'));
    try {
      mkdirSync(join(app, 'node_modules'));
      symlinkSync(ROOT, join(app, 'node_modules', 'ctscope'), 'dir');
      writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', type: 'module', private: true }));
      writeFileSync(
        join(app, 'tsconfig.json'),
        JSON.stringify({
          // lib without DOM, as a Node-only host sets it: onnxruntime's own typings need DOM types, so they must not be
          // reachable from ctscope's.
          compilerOptions: { target: 'ES2022', lib: ['ES2022'], module: 'Node16', moduleResolution: 'Node16', strict: true, exactOptionalPropertyTypes: true, skipLibCheck: false, noEmit: true, types: ['node'], typeRoots: [join(ROOT, 'node_modules', '@types')] },
          files: ['app.ts'],
        }),
      );
      writeFileSync(
        join(app, 'app.ts'),
        [
          "import { closePool, detect, isCtscopeError, warmPool } from 'ctscope';",
          'warmPool();',
          "const { document, sr } = await detect([{ name: 'a', bytes: new Uint8Array(0) }], { models: ['nodule'], sr: true });",
          'const bytes: Uint8Array = sr;',
          'console.log(document.series.id, bytes.length, isCtscopeError(null));',
          'await closePool();',
        ].join('\n'),
      );
      const tsc = join(ROOT, 'node_modules', '.bin', 'tsc');
      let out = '';
      try {
        execFileSync(tsc, ['-p', join(app, 'tsconfig.json')], { encoding: 'utf8', stdio: 'pipe' });
      } catch (e) {
        out = String((e as { stdout?: string }).stdout ?? e);
      }
      expect(out).toBe('');
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }, 60_000);
});
