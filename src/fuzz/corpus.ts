/** Fuzz inputs: every file of a conformance corpus folder plus one small generated CT series. */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { synthesize, writeSynthResult } from '../synth/synthesize.js';
import type { CorpusEntry } from './case.js';

/** Documentation and reference outputs beside the DICOM files are not inputs. */
const NOT_INPUT = /\.(md|txt|json|csv|sha256|nii|nii\.gz|bval|bvec|py|sh)$/i;

export interface CorpusFile {
  name: string;
  path: string;
}

/** Files under `dir` (sorted, so a seed means the same cases on every machine); [] when it is absent. */
export function listCorpus(dir: string | undefined, maxBytes = 8 * 1024 * 1024): CorpusFile[] {
  if (dir === undefined) return [];
  const out: CorpusFile[] = [];
  const walk = (d: string): void => {
    let names: string[];
    try {
      names = readdirSync(d).sort();
    } catch {
      return;
    }
    for (const n of names) {
      const p = join(d, n);
      const st = statSync(p);
      if (st.isDirectory()) walk(p);
      else if (st.isFile() && !NOT_INPUT.test(n) && st.size <= maxBytes) out.push({ name: relative(dir, p), path: p });
    }
  };
  walk(dir);
  return out;
}

/** A 4-slice 32x32 chest phantom written and read back as bytes (the files are removed). */
export function generatedSeries(seed = 1): CorpusEntry[] {
  const result = synthesize('chest', { seed, rows: 32, cols: 32, slices: 4, truth: false, lesions: 0 });
  const dir = mkdtempSync(join(tmpdir(), 'ctscope-fuzz-'));
  try {
    const { files } = writeSynthResult(result, dir);
    return files.map((f) => ({ name: `synth/${f}`, bytes: new Uint8Array(readFileSync(join(dir, f))) }));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
