/**
 * Worker entry for the fuzzer: loads the corpus once, then runs the cases it is sent, one at a time,
 * reporting each result with this thread's memory so the runner can enforce the declared limit.
 */
import { takeLargestAllocation } from './alloc-watch.js';
import { readFileSync } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { runCase, type Corpus, type CorpusEntry } from './case.js';

export interface WorkerInit {
  seed: number;
  files: { name: string; path: string }[];
  series: CorpusEntry[];
  /** The run's scratch folder for file cases (see runCase). */
  scratchDir: string;
}

export interface CaseRequest {
  index: number;
}

export interface CaseReply {
  result: Awaited<ReturnType<typeof runCase>>;
  /** Heap plus array buffers of this thread after the case, in bytes. */
  memory: number;
  /** Largest single typed array / ArrayBuffer made by JavaScript during the case, in bytes. */
  largestAllocation: number;
  /** Resident size of the whole process after the case (codec WebAssembly memories show here), in bytes. */
  rss: number;
}

const init = workerData as WorkerInit;
const corpus: Corpus = {
  files: init.files.map((f) => ({ name: f.name, bytes: new Uint8Array(readFileSync(f.path)) })),
  series: init.series,
};

parentPort!.on('message', (req: CaseRequest) => {
  takeLargestAllocation();
  void runCase(corpus, init.seed, req.index, init.scratchDir).then((result) => {
    const m = process.memoryUsage();
    const reply: CaseReply = { result, memory: m.heapUsed + m.arrayBuffers, rss: m.rss, largestAllocation: takeLargestAllocation() };
    parentPort!.postMessage(reply);
  });
});
parentPort!.postMessage('ready');
