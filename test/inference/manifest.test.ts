import { describe, expect, it } from 'vitest';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import { AJV_OPTIONS, readManifestSchema, validateManifest } from '../../src/inference/manifest.js';
import { loadModel, resolveModelDir } from '../../src/inference/model.js';
import { FIXTURES, fixture } from './helpers.js';

const good = (): Record<string, unknown> => JSON.parse(readFileSync(join(fixture('heatmap-fp32'), 'manifest.json'), 'utf8')) as Record<string, unknown>;

function expectManifestError(mutate: (m: any) => void, field: string): void {
  const m = good();
  mutate(m);
  try {
    validateManifest(m, 'test');
    expect.unreachable('validation passed');
  } catch (e: any) {
    expect(e.code).toBe('E_MANIFEST');
    expect(e.message).toContain(field);
  }
}

describe('model manifest', () => {
  it('loads every fixture package, fills defaults and checks the sha256', () => {
    for (const id of ['heatmap-fp32', 'heatmap-fp16', 'boxes', 'bench']) {
      const pkg = loadModel(fixture(id));
      expect(pkg.manifest.id).toBe(id);
      expect(pkg.bytes.length).toBeGreaterThan(100);
    }
    const m = loadModel(fixture('boxes')).manifest;
    expect(m.output.boxes!.anchorOffset).toEqual([0.5, 0.5, 0.5]);
    expect(m.input.layout).toBe('NCDHW');
    expect(m.window.tta).toBe('none');
  });

  it.each([
    [(m: any) => delete m.licence, 'licence'],
    [(m: any) => (m.input.patchSize = [32, 32]), 'input.patchSize'],
    [(m: any) => (m.input.patchSize[2] = 0), 'input.patchSize[2]'],
    [(m: any) => (m.input.dtype = 'int8'), 'input.dtype'],
    [(m: any) => (m.output.kind = 'mask'), 'output.kind'],
    [(m: any) => (m.input.channels[0].window = [400, -1000]), 'input.channels[0].window'],
    [(m: any) => (m.input.channels[0].normalisation = 'zscore'), 'input.channels[0]'],
    [(m: any) => (m.sha256 = 'ABC'), 'sha256'],
    [(m: any) => (m.thresholds.scor = 1), 'thresholds.scor'],
    [(m: any) => (m.output.kind = 'boxes'), 'output.boxes'],
    [(m: any) => (m.window.margin = 16), 'window.margin'],
  ])('names the bad field (%#)', (mutate, field) => expectManifestError(mutate, field));

  it("the build's precompiled validator is made from this schema and judges every case as a fresh Ajv compile does", () => {
    const load = createRequire(import.meta.url);
    const built = load(fileURLToPath(new URL('../../dist/inference/manifest-validator.cjs', import.meta.url))) as ValidateFunction & { schemaSha256: string };
    const { text, sha256 } = readManifestSchema();
    expect(built.schemaSha256).toBe(sha256);
    const fresh = new Ajv(AJV_OPTIONS).compile(JSON.parse(text) as object);
    const bundled = ['nodule', 'aneurysm'].map((id) => JSON.parse(readFileSync(join(resolveModelDir(id), 'manifest.json'), 'utf8')) as unknown);
    const cases: unknown[] = [...bundled, good(), { ...good(), licence: 3 }, { ...good(), extra: 1 }, {}, null, [], 'x'];
    for (const c of cases) {
      expect(built(c)).toBe(fresh(c));
      expect(built.errors?.map((e) => [e.instancePath, e.keyword]) ?? null).toEqual(fresh.errors?.map((e) => [e.instancePath, e.keyword]) ?? null);
    }
    expect(bundled.every((m) => built(m))).toBe(true);
  });

  it('rejects a model file whose sha256 differs with E_MODEL', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-model-'));
    cpSync(fixture('heatmap-fp32'), dir, { recursive: true });
    const bytes = readFileSync(join(dir, 'model.onnx'));
    bytes[bytes.length - 1] ^= 1;
    writeFileSync(join(dir, 'model.onnx'), bytes);
    expect(() => loadModel(dir)).toThrow(expect.objectContaining({ code: 'E_MODEL', message: expect.stringContaining('sha256') }));
  });

  it('rejects broken JSON with E_MANIFEST and resolves bundled ids from search folders', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-model-'));
    writeFileSync(join(dir, 'manifest.json'), '{ "id": ');
    expect(() => loadModel(dir)).toThrow(expect.objectContaining({ code: 'E_MANIFEST' }));
    expect(resolveModelDir('boxes', { searchDirs: [FIXTURES] })).toBe(join(FIXTURES, 'boxes'));
    expect(() => resolveModelDir('no-such-model', { searchDirs: [FIXTURES] })).toThrow(expect.objectContaining({ code: 'E_NOT_FOUND' }));
  });
});
