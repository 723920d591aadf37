// Child process for the load test: sequential vs concurrent library detect runs, with exact peak RSS.
// Usage: node --expose-gc concurrent-load.mjs '{"series": [...], "model": "...", "copies": 5, "limit": 2}'
import { readFileSync, writeFileSync } from 'node:fs';
import { closePool, closeRunners, detect, setMaxConcurrentRuns } from '../../dist/index.js';

const { series, model, copies, limit } = JSON.parse(process.argv[2]);

/** Resets the kernel's peak-RSS mark (Linux clear_refs 5), so VmHWM measures one phase only. */
function resetPeak() {
  globalThis.gc?.();
  globalThis.gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
}
const peakMiB = () => Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]) / 1024;
const rssMiB = () => process.memoryUsage.rss() / 2 ** 20;
const summary = (doc) => doc.findings.map((f) => ({ label: f.label, score: f.score, centerLps: f.centerLps }));

const options = { models: model, ep: 'cpu', sessionThreads: 1 };
setMaxConcurrentRuns(limit);
for (const s of series) await detect(s, options); // warm: sessions, pool, code

resetPeak();
const baseMiB = rssMiB();
const sequential = [];
for (const s of series) sequential.push(summary((await detect(s, options)).document));
const sequentialPeakMiB = peakMiB();

resetPeak();
const concurrentBaseMiB = rssMiB();
const jobs = [];
// A run is working from its first decode progress event (admitted: the scan and index stages come before admission) until it resolves.
let working = 0, maxWorking = 0;
const tracked = (s) => {
  let started = false;
  const onProgress = (p) => {
    if (started || p.stage === 'scan' || p.stage === 'index') return;
    started = true;
    maxWorking = Math.max(maxWorking, ++working);
  };
  return detect(s, { ...options, onProgress }).finally(() => { if (started) working--; });
};
for (let c = 0; c < copies; c++) series.forEach((s, i) => jobs.push(tracked(s).then((r) => ({ i, findings: summary(r.document) }))));
const concurrent = await Promise.all(jobs);
const concurrentPeakMiB = peakMiB();

await closeRunners();
await closePool();
process.stdout.write(JSON.stringify({ baseMiB, sequentialPeakMiB, concurrentBaseMiB, concurrentPeakMiB, maxWorking, sequential, concurrent }) + '\n');
