import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthToDirectory } from '../../src/synth/synthesize.js';
import type { SynthKind, SynthOptions } from '../../src/synth/options.js';
import type { SynthTruth } from '../../src/synth/truth.js';

export const FIXTURES = fileURLToPath(new URL('../fixtures/models/', import.meta.url));

/**
 * A real model package made from a fixture: the same ONNX file (and sha256) with manifest fields replaced,
 * e.g. a coarser grid so a phantom runs in a second, or another task.
 */
export function fixturePackage(id: string, overrides: { spacing?: [number, number, number]; task?: string; labels?: string[]; maxFindings?: number; score?: number; newId?: string; region?: Record<string, unknown>; patchSize?: [number, number, number]; refine?: Record<string, unknown> }, root = mkdtempSync(join(tmpdir(), 'ctscope-model-'))): string {
  const src = join(FIXTURES, id);
  const manifest = JSON.parse(readFileSync(join(src, 'manifest.json'), 'utf8')) as Record<string, any>;
  delete manifest.$schema;
  if (overrides.newId) manifest.id = overrides.newId;
  if (overrides.spacing) manifest.input.spacing = overrides.spacing;
  if (overrides.task) manifest.task = overrides.task;
  if (overrides.labels) manifest.labels = overrides.labels;
  if (overrides.maxFindings !== undefined) manifest.thresholds.maxFindings = overrides.maxFindings;
  if (overrides.score !== undefined) manifest.thresholds.score = overrides.score;
  if (overrides.region) manifest.region = overrides.region;
  if (overrides.patchSize) manifest.input.patchSize = overrides.patchSize;
  if (overrides.refine) manifest.refine = { ...manifest.refine, ...overrides.refine };
  const dir = join(root, manifest.id as string);
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(src, 'model.onnx'), join(dir, 'model.onnx'));
  if (manifest.refine) copyFileSync(join(src, manifest.refine.file as string), join(dir, manifest.refine.file as string));
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return dir;
}

/** A small phantom series on disk (5 mm voxels so the pipeline runs in about a second). */
export async function smallPhantom(kind: SynthKind, options: SynthOptions = {}): Promise<{ dir: string; truth: SynthTruth }> {
  const dir = join(mkdtempSync(join(tmpdir(), `ctscope-${kind}-`)), 'series');
  const r = await synthToDirectory(kind, { rows: 64, cols: 64, slices: 40, spacing: [5, 5, 5], seed: 3, lesions: 2, ...options }, dir);
  return { dir, truth: r.truth };
}
