import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fillBenchOptions } from '../../src/bench/suite.js';
import { parseBenchArgs } from '../../src/cli/bench.js';
import { MODEL_STAGES, STAGES } from '../../src/bench/stages.js';
import { BENCH_STAGE_NAMES, BENCH_USAGE } from '../../src/bench/usage.js';
import type { BaselineFile } from '../../src/bench/baseline.js';
import { isCtscopeError } from '../../src/errors.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    return isCtscopeError(e) ? e.code : 'not coded';
  }
  return undefined;
};

describe('bench stage table and options', () => {
  it('has a suite for every pipeline stage of the issue, and the usage names each of them', () => {
    for (const s of ['read', 'parse', 'decode', 'ingest', 'resample', 'preprocess', 'infer', 'postprocess', 'report', 'detect']) expect(STAGES[s], s).toBeTypeOf('function');
    // The usage (kept import-free for `ctscope --help`) lists the table's stages in run order.
    expect([...BENCH_STAGE_NAMES]).toEqual(Object.keys(STAGES).filter((s) => BENCH_STAGE_NAMES.includes(s as never)));
    for (const s of Object.keys(STAGES)) expect(BENCH_USAGE, s).toContain(s);
    for (const s of MODEL_STAGES) expect(Object.keys(STAGES)).toContain(s);
  });

  it('parses the flags both entry points share', () => {
    const o = fillBenchOptions(parseBenchArgs(['--stage', 'decode', '--stage', 'infer,detect', '--quick', '--json', '--ep', 'auto', '--device', '1', '--tolerance', '1.5']));
    expect(o.stages).toEqual(['decode', 'infer', 'detect']);
    expect(o).toMatchObject({ quick: true, json: true, ep: 'auto', deviceId: 1, tolerance: 1.5 });
    expect(o.dataDir).toMatch(/bench[/\\]data-quick$/);
    const d = fillBenchOptions(parseBenchArgs([]));
    expect(d.ep).toBe('cpu');
    expect(d.stages).toEqual(Object.keys(STAGES));
    expect(d.dataDir).toMatch(/bench[/\\]data$/);
  });

  it('rejects unknown stages, providers and flags with E_USAGE', () => {
    expect(codeOf(() => fillBenchOptions(parseBenchArgs(['--stage', 'nope'])))).toBe('E_USAGE');
    expect(codeOf(() => parseBenchArgs(['--ep', 'gpu']))).toBe('E_USAGE');
    expect(codeOf(() => parseBenchArgs(['--device', '-1']))).toBe('E_USAGE');
    expect(codeOf(() => parseBenchArgs(['--tolerance', '0']))).toBe('E_USAGE');
    expect(codeOf(() => parseBenchArgs(['--frobnicate']))).toBe('E_USAGE');
    expect(codeOf(() => parseBenchArgs(['--check', 'a.json', '--update', 'b.json']))).toBe('E_USAGE');
  });

  it('keeps committed quick baselines unique and on known stages', () => {
    const file = JSON.parse(readFileSync(new URL('../../bench/baselines/quick.json', import.meta.url), 'utf8')) as BaselineFile;
    const keys = file.entries.map((e) => `${e.stage} / ${e.name}`);
    expect(new Set(keys).size).toBe(keys.length);
    for (const e of file.entries) {
      expect(Object.keys(STAGES), e.stage).toContain(e.stage);
      expect(e.ratio).toBeGreaterThan(0);
    }
  });
});
