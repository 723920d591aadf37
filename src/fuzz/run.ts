#!/usr/bin/env node
/**
 * `node dist/fuzz/run.js [--cases N] [--seed S] [--corpus DIR] [--only I,J] [--timeout MS] [--memory MB] [--alloc MB] [--json]`
 * Mutates the conformance corpus and a generated series; exits 1 if any case ended in an uncoded
 * error, a timeout, a memory overrun or a worker crash.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { numberOption, parseCommandArgs, usageError } from '../cli/command.js';
import { runEntry } from '../cli/entry.js';
import { generatedSeries, listCorpus } from './corpus.js';
import { fuzz, formatSummary } from './fuzz.js';

function defaultCorpus(): string | undefined {
  const dir = process.env.CTSCOPE_SHARED_DATA ?? fileURLToPath(new URL('../../../shared/data', import.meta.url));
  return existsSync(join(dir, 'README.md')) ? dir : undefined;
}

const int = (text: string | undefined, name: string, fallback: number): number => numberOption('fuzz', name, text, { integer: true, min: 0 }) ?? fallback;

const USAGE = `Usage: node dist/fuzz/run.js [--cases N] [--seed S] [--corpus DIR] [--only I,J] [--timeout MS] [--memory MB] [--alloc MB] [--json] [--quiet]

Mutates the files of a DICOM corpus (default ../shared/data) and a generated series, and runs each case through
the parser, indexing, decoding and loading in a worker under a timeout and memory limits.
Exit status: 0 every case ended well or with a coded error, 1 a failure (uncoded error, timeout, memory, crash), 2 usage.`;

const OPTIONS = {
  cases: { type: 'string' },
  seed: { type: 'string' },
  corpus: { type: 'string' },
  only: { type: 'string' },
  timeout: { type: 'string' },
  memory: { type: 'string' },
  alloc: { type: 'string' },
  json: { type: 'boolean', default: false },
  quiet: { type: 'boolean', default: false },
} as const;

async function main(argv: string[], signal: AbortSignal): Promise<number> {
  const { values } = parseCommandArgs('fuzz', argv, OPTIONS, false);
  if (values.corpus !== undefined && !(existsSync(values.corpus) && statSync(values.corpus).isDirectory())) throw usageError(`fuzz: --corpus ${values.corpus}: no such folder`);
  const corpusDir = values.corpus ?? defaultCorpus();
  const files = listCorpus(corpusDir);
  if (corpusDir === undefined) console.error('no corpus folder (../shared/data absent, no --corpus): fuzzing the generated series only');
  else if (files.length === 0) console.error(`the corpus folder ${corpusDir} holds no files to fuzz: the generated series only`);
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
    signal,
    onResult: () => {
      done++;
      if (!values.quiet && !values.json && done % 1000 === 0) console.error(`${done} cases`);
    },
  });
  console.log(values.json ? JSON.stringify(summary, null, 2) : `${files.length} corpus files + ${series.length} generated slices\n${formatSummary(summary)}`);
  return summary.failures.length > 0 ? 1 : 0;
}


runEntry('fuzz', USAGE, main);
