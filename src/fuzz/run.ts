#!/usr/bin/env node
/**
 * `node dist/fuzz/run.js [--cases N] [--seed S] [--corpus DIR] [--only I,J] [--timeout MS] [--memory MB] [--alloc MB] [--json]`
 * Mutates the conformance corpus and a generated series; exits 1 if any case ended in an uncoded
 * error, a timeout, a memory overrun or a worker crash.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generatedSeries, listCorpus } from './corpus.js';
import { fuzz, formatSummary } from './fuzz.js';

function defaultCorpus(): string | undefined {
  const dir = process.env.CTSCOPE_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));
  return existsSync(join(dir, 'README.md')) ? dir : undefined;
}

function int(text: string | undefined, name: string, fallback: number): number {
  if (text === undefined) return fallback;
  const v = Number(text);
  if (!Number.isInteger(v) || v < 0) {
    console.error(`Expected --${name} to be a non-negative integer but received '${text}'`);
    process.exit(2);
  }
  return v;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      cases: { type: 'string' },
      seed: { type: 'string' },
      corpus: { type: 'string' },
      only: { type: 'string' },
      timeout: { type: 'string' },
      memory: { type: 'string' },
      alloc: { type: 'string' },
      json: { type: 'boolean', default: false },
      quiet: { type: 'boolean', default: false },
    },
  });
  const corpusDir = values.corpus ?? defaultCorpus();
  const files = listCorpus(corpusDir);
  if (corpusDir === undefined) console.error('no corpus folder (../shared/data absent, no --corpus): fuzzing the generated series only');
  const series = generatedSeries();
  const cases = int(values.cases, 'cases', 10_000);
  let done = 0;
  const summary = await fuzz(files, series, {
    cases,
    seed: int(values.seed, 'seed', 1),
    caseTimeoutMs: int(values.timeout, 'timeout', 2000),
    memoryLimitMb: int(values.memory, 'memory', 1024),
    allocationLimitMb: int(values.alloc, 'alloc', 256),
    only: values.only?.split(',').map((s) => int(s, 'only', 0)),
    onResult: () => {
      done++;
      if (!values.quiet && !values.json && done % 1000 === 0) console.error(`${done} cases`);
    },
  });
  console.log(values.json ? JSON.stringify(summary, null, 2) : `${files.length} corpus files + ${series.length} generated slices\n${formatSummary(summary)}`);
  process.exitCode = summary.failures.length > 0 ? 1 : 0;
}

main().catch((e) => {
  console.error(e instanceof Error ? e.stack : String(e));
  process.exitCode = 1;
});
