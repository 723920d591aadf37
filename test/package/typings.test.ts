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
          "import { closePool, detect, isCtscopeError, loadSeries, resample, warmPool, writeNifti } from 'ctscope';",
          'warmPool();',
          // Resample, then write: the transforms return Volume, which writeNifti takes (it took only int16/float32).
          "await writeNifti('x.nii.gz', await resample(await loadSeries('dir'), { spacing: 1, outType: 'uint8' }));",
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

  it("resolves from CommonJS too: require('ctscope') on Node with require(esm), package.json and the findings schema", () => {
    const app = mkdtempSync(join(tmpdir(), 'ctscope-cjs-'));
    try {
      mkdirSync(join(app, 'node_modules'));
      symlinkSync(ROOT, join(app, 'node_modules', 'ctscope'), 'dir');
      writeFileSync(
        join(app, 'app.cjs'),
        [
          "console.log(require.resolve('ctscope/package.json').endsWith('package.json'));",
          "console.log(require('ctscope/schemas/findings.schema.json').$schema !== undefined);",
          // require(esm) needs no flag from Node 20.19 and 22.12 (22.0-22.11 still want one); else the dynamic import.
          "const [maj, min] = process.versions.node.split('.').map(Number);",
          "if ((maj === 20 && min >= 19) || (maj === 22 && min >= 12) || maj >= 23) console.log(typeof require('ctscope').detect);",
          "else import('ctscope').then((m) => console.log(typeof m.detect));",
        ].join('\n'),
      );
      const out = execFileSync(process.execPath, ['--no-warnings', join(app, 'app.cjs')], { cwd: app, encoding: 'utf8' });
      expect(out.trim().split('\n')).toEqual(['true', 'true', 'function']);
    } finally {
      rmSync(app, { recursive: true, force: true });
    }
  }, 60_000);

  it('importing the package loads no image or SR library (sharp, dcmjs) and no onnxruntime: a host pays for them on first use', () => {
    const script = `import(${JSON.stringify(join(ROOT, 'dist', 'index.js'))}).then(() => console.log(JSON.stringify(Object.keys(require.cache).filter((f) => /node_modules[\\/\\\\](sharp|@img|dcmjs|onnxruntime)/.test(f)))))`;
    const out = execFileSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(JSON.parse(out)).toEqual([]);
  });

  it("every type of the package that an export names (a parameter, a result, an option's field, at any depth) is exported too", async () => {
    // Without it a caller can name it only through Parameters<> or ReturnType<> (the exports map blocks deep imports).
    const ts = (await import('typescript')).default;
    const dist = join(ROOT, 'dist');
    const index = join(dist, 'index.d.ts');
    const program = ts.createProgram([index], { strict: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, noEmit: true });
    const checker = program.getTypeChecker();
    const real = (s: import('typescript').Symbol): import('typescript').Symbol => (s.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(s) : s);
    const exported = new Set(checker.getExportsOfModule(checker.getSymbolAtLocation(program.getSourceFile(index)!)!).map(real));
    const ours = (d: import('typescript').Node): boolean => d.getSourceFile().fileName.startsWith(dist);
    const named = (d: import('typescript').Node): boolean => ts.isInterfaceDeclaration(d) || ts.isTypeAliasDeclaration(d) || ts.isClassDeclaration(d) || ts.isEnumDeclaration(d);
    const missing = new Set<string>();
    const seen = new Set<import('typescript').Node>();
    const visit = (decl: import('typescript').Node): void => {
      if (seen.has(decl)) return;
      seen.add(decl);
      const walk = (node: import('typescript').Node): void => {
        if (ts.isTypeReferenceNode(node) || ts.isExpressionWithTypeArguments(node)) {
          const sym = checker.getSymbolAtLocation(ts.isTypeReferenceNode(node) ? node.typeName : node.expression);
          const target = sym && real(sym);
          for (const d of target?.declarations ?? []) {
            if (!ours(d) || !named(d)) continue;
            if (!exported.has(target!)) missing.add(`${target!.name} (${d.getSourceFile().fileName.slice(dist.length + 1)})`);
            visit(d);
          }
        }
        ts.forEachChild(node, walk);
      };
      // Private members are no part of the API.
      ts.forEachChild(decl, (n) => {
        if (!(ts.canHaveModifiers(n) && ts.getModifiers(n)?.some((m) => m.kind === ts.SyntaxKind.PrivateKeyword))) walk(n);
      });
    };
    for (const s of exported) for (const d of s.declarations ?? []) if (ours(d)) visit(d);
    expect(exported.size).toBeGreaterThan(200);
    expect([...missing]).toEqual([]);
  });
});
