#!/usr/bin/env node
// A PACS-plugin style host for ctscope: the host receives instances as bytes (here: read from a folder),
// hands them to `detect` with an AbortSignal and a progress callback, and stores the DICOM SR it gets
// back (here: writes it to a file). A timer shows that the host's event loop stays free while the
// pipeline runs: decoding and resampling run in worker threads, inference in onnxruntime's own thread.
//
//   npx ctscope synth chest --out samples/chest --seed 1 --nodules 3     (the README's quick start made it)
//   node samples/pacs-plugin.mjs samples/chest nodule
//
// Arguments: <series folder> <model: nodule, aneurysm or a package folder> [timeout seconds, default 300].
// Every file of the folder is handed over, whatever its name: a PACS names instances by UID, not by
// extension, and ctscope skips (and reports) what is not DICOM. The SR is stored as pacs-plugin-sr.dcm in the
// current folder; like any derived SR it repeats the source's patient and study attributes.
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { closePool, closeRunners, detect, isCtscopeError, warmPool } from 'ctscope';

const [folder, model = 'nodule', timeoutS = '300'] = process.argv.slice(2);
if (!folder) {
  console.error('usage: node samples/pacs-plugin.mjs <series folder> [nodule|aneurysm|package folder] [timeout seconds]');
  process.exit(2);
}

// 0. At plugin start-up: start ctscope's worker threads, so the first study does not wait for them.
warmPool();

// 1. What a PACS hands a plugin: in-memory instances, named only for error messages.
const names = (await readdir(folder, { withFileTypes: true })).filter((d) => d.isFile()).map((d) => d.name).sort();
const instances = await Promise.all(names.map(async (name) => ({ name, bytes: await readFile(join(folder, name)) })));
console.log(`host: received ${instances.length} instances (${(instances.reduce((n, i) => n + i.bytes.length, 0) / 1e6).toFixed(1)} MB)`);

// 2. The host stays responsive: a 20 ms heartbeat records how late it fires.
let beats = 0;
let worstLagMs = 0;
let last = performance.now();
const heartbeat = setInterval(() => {
  const now = performance.now();
  worstLagMs = Math.max(worstLagMs, now - last - 20);
  last = now;
  beats++;
}, 20);

// 3. The host can cancel (user closed the study, shutdown...): here after a timeout.
const controller = new AbortController();
const timer = setTimeout(() => controller.abort(), Number(timeoutS) * 1000);

const t0 = performance.now();
const started = new Set();
try {
  const { document, sr } = await detect(instances, {
    models: [model],
    signal: controller.signal,
    sr: true, // SR bytes back in memory: the host stores them itself (C-STORE, STOW-RS...)
    onProgress: (p) => {
      // A stage may report done 0 more than once (its total becomes known later): say each one once.
      const name = `${p.stage}${p.model ? ` (${p.model})` : ''}`;
      if (!started.has(name)) console.log(`host: ${name} started`);
      started.add(name);
    },
  });
  console.log(`host: ${document.findings.length} finding(s) in ${(performance.now() - t0).toFixed(0)} ms`);
  for (const f of document.findings.slice(0, 5)) {
    console.log(`  #${f.n} ${f.label} score ${f.score.toFixed(3)} at LPS ${f.centerLps.map((x) => x.toFixed(1)).join(', ')} mm, image ${f.instanceNumber ?? '?'} (slice ${f.sliceIndex + 1}), SOP ${f.sopInstanceUid}`);
  }
  if (document.findings.length > 5) console.log(`  ... and ${document.findings.length - 5} more`);
  // Warnings name what was skipped (non-DICOM files, a corrupt instance) or doubtful (uneven spacing...).
  for (const w of document.warnings) console.log(`host: warning: ${w}`);
  await writeFile('pacs-plugin-sr.dcm', sr);
  console.log(`host: stored the SR (${sr.length} bytes) as pacs-plugin-sr.dcm`);
} catch (e) {
  // Coded errors: branch on e.code (E_ABORTED, E_NO_CT_SERIES, E_MODEL...), never on the message.
  if (isCtscopeError(e)) console.error(`host: detect failed with ${e.code}: ${e.message}`);
  else throw e;
  process.exitCode = 1;
} finally {
  clearTimeout(timer);
  clearInterval(heartbeat);
  console.log(`host: heartbeat ran ${beats} times; worst delay ${worstLagMs.toFixed(0)} ms`);
  await Promise.all([closePool(), closeRunners()]);
}
