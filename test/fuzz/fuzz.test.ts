import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { planCase } from '../../src/fuzz/case.js';
import { parseInstance } from '../../src/dicom/parse.js';
import { isCtscopeError } from '../../src/errors.js';
import { generatedSeries, listCorpus } from '../../src/fuzz/corpus.js';
import { walkElements } from '../../src/fuzz/elements.js';
import { fuzz, formatSummary } from '../../src/fuzz/fuzz.js';
import { MUTATION_KINDS, mutate } from '../../src/fuzz/mutate.js';
import { hasSharedData, SHARED_DATA } from '../helpers/shared-data.js';

const series = generatedSeries();
const slice = series[0]!.bytes;

describe('mutator', () => {
  it('is deterministic, leaves its input alone and names every kind', () => {
    const copy = new Uint8Array(slice);
    const seen = new Set<string>();
    for (let seed = 0; seed < 400; seed++) {
      const a = mutate(slice, seed);
      const b = mutate(slice, seed);
      expect(b.kind).toBe(a.kind);
      expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
      seen.add(a.kind);
    }
    expect(Buffer.compare(copy, slice)).toBe(0);
    expect([...seen].sort()).toEqual([...MUTATION_KINDS].sort());
  });

  it('never throws, even on its own output, on tiny inputs or on empty ones', () => {
    for (let seed = 0; seed < 300; seed++) {
      let b: Uint8Array = slice;
      for (let k = 0; k < 4; k++) b = mutate(b, seed * 4 + k).bytes;
      expect(b).toBeInstanceOf(Uint8Array);
    }
    for (const kind of MUTATION_KINDS) {
      for (const tiny of [new Uint8Array(0), new Uint8Array(7), slice.subarray(0, 140)]) expect(mutate(tiny, 9, kind).kind).toBe(kind);
    }
  });

  it('every kind changes the bytes of a real slice and aims at structure', () => {
    const spots = walkElements(slice);
    expect(spots.find((s) => s.group === 0x7fe0 && s.element === 0x0010)).toBeDefined();
    expect(spots.find((s) => s.group === 0x0002 && s.element === 0x0010)).toBeDefined();
    for (const kind of MUTATION_KINDS) {
      let changed = 0;
      for (let seed = 1; seed <= 20; seed++) {
        const m = mutate(slice, seed, kind);
        expect(m.kind).toBe(kind);
        if (m.bytes.length !== slice.length || Buffer.compare(m.bytes, slice) !== 0) changed++;
      }
      expect(changed, kind).toBeGreaterThanOrEqual(15);
    }
  });

  it('deep but closed sequences parse to the same image or give a coded error', () => {
    const a = parseInstance(slice, 'a');
    let same = 0;
    for (let seed = 1; seed <= 12; seed++) {
      const m = mutate(slice, seed, 'deep-sequence');
      expect(m.bytes.length).toBeGreaterThan(slice.length + 64 * 12);
      try {
        const b = parseInstance(m.bytes, 'b');
        expect([b.rows, b.columns, b.bitsAllocated]).toEqual([a.rows, a.columns, a.bitsAllocated]);
        same++;
      } catch (e) {
        expect(isCtscopeError(e), String(e)).toBe(true);
      }
    }
    expect(same).toBeGreaterThan(0);
  });
});

describe('fuzz run (fixed seed, needs `npm run build` for the case worker)', () => {
  const files = hasSharedData ? listCorpus(SHARED_DATA) : [];

  it('500 cases end in success or a coded error, within the time and memory bounds', async () => {
    const summary = await fuzz(files, series, { cases: 500, seed: 20261123 });
    const text = formatSummary(summary);
    expect(summary.failures, text).toEqual([]);
    const totals = Object.values(summary.counts).reduce((a, r) => ({ ok: a.ok + r.ok, coded: a.coded + r.coded }), { ok: 0, coded: 0 });
    expect(totals.ok + totals.coded).toBe(500);
    // Both outcomes must occur, or the mutations are too weak (or too strong) to test anything.
    expect(totals.ok).toBeGreaterThan(50);
    expect(totals.coded).toBeGreaterThan(50);
    if (hasSharedData) expect(files.length).toBeGreaterThan(100);
  }, 90_000);

  it('the watchdog ends a case that runs past its bound and the run goes on in a fresh worker', async () => {
    const summary = await fuzz([], series, { only: [0, 1, 2], seed: 5, caseTimeoutMs: 0 });
    expect(summary.cases).toBe(3);
    expect(summary.failures.length).toBeGreaterThan(0);
    for (const f of summary.failures) expect(f.outcome).toBe('timeout');
  }, 30_000);

  it('file cases ended by the watchdog leave no file behind (their own cleanup never runs in a terminated worker)', async () => {
    const corpus = { files: [], series };
    // 30 file cases under a 1 ms bound: most are ended mid-case (before, 21 of them left a folder behind).
    const fileCases = Array.from({ length: 2000 }, (_, i) => i).filter((i) => planCase(corpus, 5, i).plan.via === 'file').slice(0, 30);
    expect(fileCases.length).toBe(30);
    const tmp = mkdtempSync(join(tmpdir(), 'ctscope-fuzz-tmp-'));
    const before = process.env.TMPDIR;
    process.env.TMPDIR = tmp;
    try {
      const summary = await fuzz([], series, { only: fileCases, seed: 5, caseTimeoutMs: 1 });
      expect(summary.vias.file).toBe(30);
      expect(summary.failures.length).toBeGreaterThan(0);
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      if (before === undefined) delete process.env.TMPDIR;
      else process.env.TMPDIR = before;
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 30_000);

  it('a case allocating past the declared limit is a memory failure with the size, and the run goes on', async () => {
    // Limit 0: every case that decodes pixels (it allocates the output frame) must be flagged.
    const summary = await fuzz([], series, { cases: 12, seed: 5, allocationLimitMb: 0 });
    expect(summary.cases).toBe(12);
    expect(summary.failures.length).toBeGreaterThan(0);
    for (const f of summary.failures) expect(f.outcome).toBe('memory');
    expect(summary.failures[0]!.detail).toMatch(/largest allocation \d+ MiB \(limit 0\)/);
  }, 30_000);
});
