import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

/**
 * The layers of src/, lowest first: a module may import its own folder and the folders before it, never one
 * after it. The scripts behind `npm run bench|eval|fuzz` (`<folder>/run.ts`) are shells like the CLI and may use it;
 * the worker entry (`workers/entry.cts`) loads the stage modules its tasks run, by design.
 */
const LAYERS = [
  'errors.ts', 'version.ts', 'io', 'wasm', 'workers',
  'volume', 'dicom', 'series', 'ingest', 'resample',
  'postprocess', 'anatomy', 'inference', 'outputs', 'pipeline',
  'dicomweb', 'synth', 'eval', 'bench', 'fuzz',
  'cli', 'cli.ts', 'index.ts',
];
const SHELLS = new Set(['bench/run.ts', 'eval/run.ts', 'fuzz/run.ts'].map((p) => p.split('/').join(sep)));
const WORKER_ENTRY = ['workers', 'entry.cts'].join(sep);

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? sources(join(dir, e.name)) : /\.[cm]?ts$/.test(e.name) ? [join(dir, e.name)] : []));
}

const layerOf = (path: string): string => relative(SRC, path).split(sep)[0]!.replace(/\.js$/, '.ts');

describe('layers', () => {
  it('every import in src/ goes to its own layer or a lower one (workers, codecs and scripts included)', () => {
    const up: string[] = [];
    const files = sources(SRC);
    for (const file of files) {
      const from = layerOf(file);
      expect(LAYERS, `${relative(SRC, file)}: its folder is not in LAYERS`).toContain(from);
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(/(?:from |import\()'(\.{1,2}\/[^']+\.[cm]?js)'/g)) {
        const target = normalize(join(dirname(file), m[1]!));
        if (!target.startsWith(SRC)) continue;
        const to = layerOf(target);
        const rel = relative(SRC, file);
        if (to === from || (SHELLS.has(rel) && to === 'cli') || rel === WORKER_ENTRY) continue;
        if (LAYERS.indexOf(to) > LAYERS.indexOf(from)) up.push(`${relative(SRC, file)} imports ${relative(SRC, target)}`);
      }
    }
    expect(files.length).toBeGreaterThan(150);
    expect(up).toEqual([]);
  });
});
