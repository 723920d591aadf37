import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/pipeline/detect.js';
import { closeRunners } from '../../src/inference/runner.js';
import type { BufferInput } from '../../src/ingest/load.js';
import type { DetectProgress } from '../../src/pipeline/types.js';
import { fixturePackage, smallPhantom } from './helpers.js';
import type { SynthTruth } from '../../src/synth/truth.js';
import { writeCtSeries } from '../../src/synth/dicom-writer.js';
import { testSeriesSpec } from '../helpers/series-spec.js';
import { voxelToLps } from '../../src/volume/affine.js';
import type { Mat3, Vec3 } from '../../src/volume/types.js';
import { grid, renderBlobs, rotation } from '../inference/helpers.js';


afterAll(() => closeRunners());

let chest: { dir: string; truth: SynthTruth };
let cta: { dir: string; truth: SynthTruth };
let heat: string, boxes: string;
const buffersOf = (dir: string): BufferInput[] => readdirSync(dir).filter((f) => f.endsWith('.dcm')).map((f) => ({ name: f, bytes: readFileSync(join(dir, f)) }));

beforeAll(async () => {
  chest = await smallPhantom('chest');
  cta = await smallPhantom('cta', { seed: 5, slices: 32 });
  const root = mkdtempSync(join(tmpdir(), 'ctscope-models-'));
  heat = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 4 }, root);
  boxes = fixturePackage('boxes', { spacing: [4, 4, 4], maxFindings: 3 }, root);
}, 60_000);

describe('detect pipeline', () => {
  it('runs two models on one series; findings map back to the original series', async () => {
    const events: DetectProgress[] = [];
    const r = await detect(chest.dir, { models: [heat, boxes], ep: 'cpu', onProgress: (p) => events.push(p) });
    const doc = r.document;
    expect(r.files).toEqual([]);
    expect(doc.series.seriesInstanceUid).toBe(chest.truth.series.seriesInstanceUid);
    expect(doc.series.frameOfReferenceUid).toBe(chest.truth.series.frameOfReferenceUid);
    expect(doc.series.dims).toEqual(chest.truth.series.dims);
    expect(doc.models.map((m) => m.id)).toEqual(['heatmap-fp32', 'boxes']);
    expect(doc.models[0]!.spacing).toEqual([4, 4, 4]);
    expect(doc.findings.length).toBeGreaterThan(1);
    expect(doc.findings.map((f) => f.n)).toEqual(doc.findings.map((_, i) => i + 1));
    const g = doc.series;
    for (const f of doc.findings) {
      // centreVoxel and centreLps describe the same point of the ORIGINAL grid (axis-aligned phantom).
      for (let a = 0; a < 3; a++) {
        const lps = g.origin[a]! + g.direction[a * 3 + a]! * g.spacing[a]! * f.centerVoxel[a]!;
        expect(Math.abs(lps - f.centerLps[a]!)).toBeLessThan(0.05);
      }
      expect(f.sliceIndex).toBe(Math.min(g.dims[2] - 1, Math.max(0, Math.round(f.centerVoxel[2]))));
      expect(f.sopInstanceUid).toMatch(/^2\.25\.\d+$/);
    }
    const stages = [...new Set(events.map((e) => `${e.stage}${e.model ? `:${e.model}` : ''}`))];
    expect(stages).toEqual(['scan', 'index', 'decode', 'resample:heatmap-fp32', 'infer:heatmap-fp32', 'resample:boxes', 'infer:boxes']);
    expect(doc.timings.stages.map((t) => t.stage)).toEqual(['scan', 'index', 'decode', 'resample', 'infer', 'resample', 'infer']);
    // Inference reports its sliding window's patches (it was 0/1 then 1/1 for most of a run), ending at total/total.
    const infer = events.filter((e) => e.stage === 'infer' && e.model === 'heatmap-fp32');
    const total = infer[infer.length - 1]!.total;
    expect(total).toBe(r.document.models[0]!.patches);
    expect(total).toBeGreaterThan(1);
    expect(infer[infer.length - 1]!.done).toBe(total);
    expect(infer.filter((e) => e.total === total).map((e) => e.done)).toEqual([...infer.filter((e) => e.total === total).map((e) => e.done)].sort((a, b) => a - b));
    expect(new Set(infer.map((e) => e.done)).size).toBeGreaterThan(2);
  });

  it('findings land where bright blobs were planted in patient space, on an oblique series stored feet first', async () => {
    // Written here from LPS points, not from the pipeline: a slip in reorientation, resampling or the map back to
    // the series would move the findings away from the planted points.
    const g = grid([48, 44, 36], [1.7, 1.7, 2.5], [-30, -20, 60], rotation(18, -12, 25));
    // Slices stored in descending position (feet first): the stack must be ordered by position, not by file.
    const planted: Vec3[] = ([[12.3, 11.6, 8.2], [30.5, 26.1, 19.7], [21.2, 33.4, 27.5]] as Vec3[]).map((v) => voxelToLps(g, v));
    const data = renderBlobs(g, planted, 4, -900, 1500);
    const dir = join(mkdtempSync(join(tmpdir(), 'ctscope-planted-')), 'series');
    mkdirSync(dir);
    const n = g.dims[2];
    const flipped = { ...g, origin: voxelToLps(g, [0, 0, n - 1]), direction: [g.direction[0], g.direction[1], -g.direction[2], g.direction[3], g.direction[4], -g.direction[5], g.direction[6], g.direction[7], -g.direction[8]] as Mat3 };
    const reversed = new Float32Array(data.length);
    const slice = g.dims[0] * g.dims[1];
    for (let k = 0; k < n; k++) reversed.set(data.subarray((n - 1 - k) * slice, (n - k) * slice), k * slice);
    // Unsigned pixels with intercept -1024 and FFS, unlike the defaults.
    writeCtSeries(dir, testSeriesSpec(flipped, '1.2.826.0.1.3680043.10.1', { encoding: { bitsStored: 16, signed: false, intercept: -1024, slope: 1 }, patientPosition: 'FFS', sliceThickness: 2.5 }), reversed);
    const r = await detect(dir, { models: fixturePackage('heatmap-fp32', { spacing: [2, 2, 2], maxFindings: 10 }), ep: 'cpu' });
    const found = r.document.findings.map((f) => f.centerLps);
    for (const p of planted) {
      const d = Math.min(...found.map((f) => Math.hypot(f[0] - p[0], f[1] - p[1], f[2] - p[2])));
      expect(d, `planted at ${p.join(', ')}; found ${JSON.stringify(found)}`).toBeLessThan(1.5);
    }
    expect(found).toHaveLength(planted.length);
  });

  it('scoreFloor keeps findings down to that score, up to 200 per model (FROC curves), and is checked', async () => {
    const pkg = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2, score: 0.6 });
    const plainDoc = (await detect(chest.dir, { models: pkg, ep: 'cpu' })).document;
    const lowDoc = (await detect(chest.dir, { models: pkg, ep: 'cpu', scoreFloor: 0.02 })).document;
    const plain = plainDoc.findings, low = lowDoc.findings;
    // findings.json says from which score, and how many at most, it kept (eval tells a cut file from a full one).
    expect(plainDoc.models[0]).toMatchObject({ scoreThreshold: 0.6, maxFindings: 2 });
    expect(lowDoc.models[0]).toMatchObject({ scoreThreshold: 0.02, maxFindings: 200 });
    expect(plain.length).toBeLessThanOrEqual(2);
    expect(plain.every((f) => f.score >= 0.6)).toBe(true);
    expect(low.length).toBeGreaterThan(plain.length);
    expect(low.every((f) => f.score >= 0.02)).toBe(true);
    expect(low.slice(0, plain.length).map((f) => f.centerLps)).toEqual(plain.map((f) => f.centerLps));
    await expect(detect(chest.dir, { models: pkg, scoreFloor: 2 })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/scoreFloor/) });
  });

  it('in-memory buffers give the same findings as the folder', async () => {
    const a = await detect(chest.dir, { models: heat, ep: 'cpu' });
    const b = await detect(buffersOf(chest.dir), { models: heat, ep: 'cpu', sr: true });
    expect(b.document.findings).toEqual(a.document.findings);
    expect(b.sr).toBeInstanceOf(Uint8Array);
    expect(Buffer.from(b.sr!.subarray(128, 132)).toString()).toBe('DICM');
  });

  it('in-memory input: the run keeps the list it was given, whatever the host does with its array afterwards', async () => {
    const a = await detect(chest.dir, { models: heat, ep: 'cpu' });
    const given = buffersOf(chest.dir);
    const emptied = detect(given, { models: heat, ep: 'cpu', sr: true });
    // A host reusing its array (emptied, or refilled with another study's instances under the same names).
    given.length = 0;
    const other = buffersOf(chest.dir).map((b) => ({ ...b }));
    const renamed = detect(other, { models: heat, ep: 'cpu', sr: true });
    for (const b of other) b.name = 'elsewhere';
    other.shift();
    for (const r of await Promise.all([emptied, renamed])) {
      expect(r.document.findings).toEqual(a.document.findings);
      expect(r.document.warnings.join('\n')).not.toMatch(/patient|could not/i);
      expect(Buffer.from(r.sr).includes('PHANTOM^CHEST')).toBe(true);
    }
    // An array with holes (filled by index as instances arrive) is a usage error naming the position.
    await expect(detect([, ...buffersOf(chest.dir)] as BufferInput[], { models: heat, ep: 'cpu' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/1 of \d+ is undefined/) });
  });

  it('in-memory input: ArrayBuffers work, names may repeat, a named non-DICOM buffer is warned about', async () => {
    const a = await detect(chest.dir, { models: heat, ep: 'cpu' });
    const given = buffersOf(chest.dir);
    // Names a host does not control: repeats, and one that looks like a repeat's key ('x#3').
    const renamed = given.map((b, n) => ({ name: n === 2 ? 'x#3' : 'x', bytes: n % 2 ? b.bytes.buffer.slice(b.bytes.byteOffset, b.bytes.byteOffset + b.bytes.byteLength) : b.bytes }));
    renamed.push({ name: 'junk', bytes: new Uint8Array(2000).fill(3) });
    const b = await detect(renamed, { models: heat, ep: 'cpu' });
    expect(b.document.findings).toEqual(a.document.findings);
    expect(b.document.warnings.join('\n')).toMatch(/1 input\(s\) skipped [^\n]*junk \(E_NOT_DICOM\)/);
    // Beside the images in a folder, the same non-DICOM file (truth.json) is expected and not warned about.
    expect(a.document.warnings.join('\n')).not.toMatch(/skipped/);
  });

  it('instances of two studies (two phantoms) are analysed with a warning that the input mixes studies', async () => {
    const one = await detect(chest.dir, { models: heat, ep: 'cpu' });
    expect(one.document.warnings.join('\n')).not.toMatch(/studies/);
    const mixed = await detect([...buffersOf(chest.dir), ...buffersOf(cta.dir)], { models: heat, ep: 'cpu' });
    expect(mixed.document.warnings.join('\n')).toMatch(/the input holds 2 studies \(2 series\); only study [0-9.]+ was analysed/);
  });

  it('a wrongly shaped input is E_USAGE naming its place and type, never echoing its bytes', async () => {
    const header = readFileSync(join(chest.dir, readdirSync(chest.dir).find((f) => f.endsWith('.dcm'))!));
    const bad: unknown[] = [[header], [{ name: 'a', bytes: null }], [{ name: 7, bytes: header }], ['a.dcm', { name: 'b', bytes: header }], { bytes: header }, 42];
    for (const input of bad) {
      const e = await detect(input as never, { models: heat, ep: 'cpu' }).catch((x: unknown) => x as Error & { code: string });
      expect(e).toMatchObject({ code: 'E_USAGE' });
      expect(e.message.length).toBeLessThan(300);
      expect(e.message).not.toMatch(/PHANTOM|DICM/);
    }
    await expect(detect([header] as never, { models: heat })).rejects.toThrow(/input 1 of 1 is a Buffer \(wrap bytes as \{ name, bytes \}\)/);
    await expect(detect('dicomweb+http://localhost:8042/dicom-web?study=1.2.3', { models: heat })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/DicomWebClient\.retrieve/) });
  });

  it('bytes from another JS context are accepted; an imitation AbortSignal (a polyfill) still aborts', async () => {
    const { runInNewContext } = await import('node:vm');
    const a = await detect(chest.dir, { models: heat, ep: 'cpu' });
    const foreign = buffersOf(chest.dir).map((b) => ({ name: b.name, bytes: runInNewContext('new Uint8Array(src)', { src: [...b.bytes] }) as Uint8Array }));
    expect(foreign[0]!.bytes instanceof Uint8Array).toBe(false);
    expect((await detect(foreign, { models: heat, ep: 'cpu' })).document.findings).toEqual(a.document.findings);
    class ImitationSignal extends EventTarget {
      aborted = false;
      reason: unknown = undefined;
      abort(): void {
        this.aborted = true;
        this.dispatchEvent(new Event('abort'));
      }
    }
    const imitation = new ImitationSignal();
    const run = detect(chest.dir, { models: heat, ep: 'cpu', signal: imitation as unknown as AbortSignal, onProgress: (p) => p.stage === 'decode' && imitation.abort() });
    await expect(run).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('a folder holds one run: a re-run removes the earlier outputs it does not write again, nothing else', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-rerun-'));
    const first = await detect(chest.dir, { models: heat, ep: 'cpu', outDir: out });
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['findings.json', 'sr.dcm', 'report.html', 'key-1.png']));
    expect(first.files.length).toBeGreaterThan(3);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    await detect(cta.dir, { models: heat, ep: 'cpu', outDir: out, outputs: ['json'] });
    expect(readdirSync(out).sort()).toEqual(['.ctscope-outputs.json', 'findings.json', 'notes.txt']);
    // Only what an earlier run's findings.json lists goes: a report.html of the user's own stays.
    const general = mkdtempSync(join(tmpdir(), 'ctscope-general-'));
    writeFileSync(join(general, 'report.html'), 'the user\'s own');
    await detect(cta.dir, { models: heat, ep: 'cpu', outDir: general, outputs: ['json'] });
    expect(readdirSync(general).sort()).toEqual(['.ctscope-outputs.json', 'findings.json', 'report.html']);
    // Without findings.json among the outputs, the hidden run index still lets the next run withdraw them.
    const noJson = mkdtempSync(join(tmpdir(), 'ctscope-nojson-'));
    await detect(chest.dir, { models: heat, ep: 'cpu', outDir: noJson, outputs: ['report', 'sr'] });
    expect(readdirSync(noJson)).toEqual(expect.arrayContaining(['key-1.png', 'report.html', 'sr.dcm']));
    await detect(cta.dir, { models: heat, ep: 'cpu', outDir: noJson, outputs: ['json'] });
    expect(readdirSync(noJson).sort()).toEqual(['.ctscope-outputs.json', 'findings.json']);
  });

  it('an SR alone (a DICOMweb URL naming the stored SR series) is "no image", not unsupported pixels', async () => {
    const { sr } = await detect(chest.dir, { models: heat, ep: 'cpu', sr: true });
    await expect(detect([{ name: 'sr.dcm', bytes: sr }], { models: heat })).rejects.toMatchObject({
      code: 'E_NO_CT_SERIES',
      message: 'no readable DICOM image among 1 input(s) (1 DICOM object(s) without pixel data, such as an SR)',
    });
    await expect(detect([{ name: 'sr.dcm', bytes: sr }, { name: 'junk', bytes: new Uint8Array(300) }], { models: heat })).rejects.toMatchObject({
      message: 'no readable DICOM image among 2 input(s) (1 DICOM object(s) without pixel data, such as an SR; skipped: E_NOT_DICOM)',
    });
  });

  it('a throwing onProgress ends the run with its own error at every stage; bad options are E_USAGE', async () => {
    for (const [stage, done] of [['index', 0], ['decode', 0], ['resample', 0], ['infer', 0], ['outputs', 0], ['outputs', 1]] as const) {
      const mine = new Error(`host bug at ${stage}`);
      const out = join(mkdtempSync(join(tmpdir(), 'ctscope-cb-')), 'out');
      const e = await detect(chest.dir, { models: heat, ep: 'cpu', outDir: out, onProgress: (p) => { if (p.stage === stage && p.done === done) throw mine; } }).catch((x: unknown) => x);
      expect(e, stage).toBe(mine);
      expect(existsSync(out), stage).toBe(false);
    }
    await expect(detect(chest.dir, { models: heat, signal: {} as never })).rejects.toMatchObject({ code: 'E_USAGE', message: 'detect option signal must be an AbortSignal (got a Object)' });
    await expect(detect(chest.dir, { models: heat, onProgress: 'x' as never })).rejects.toMatchObject({ code: 'E_USAGE' });
    for (const none of [undefined, null]) await expect(detect(chest.dir, none as never)).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/options object/) });
    await expect(detect(chest.dir, { models: heat, maxVoxels: 1000 })).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    // An empty outDir (an unset host setting) would write into the working folder; no outputs at all is no choice either.
    await expect(detect(chest.dir, { models: heat, outDir: '' })).rejects.toMatchObject({ code: 'E_USAGE', message: expect.stringMatching(/outDir must be a non-empty string/) });
    await expect(detect(chest.dir, { models: heat, outputs: [] })).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('maxVoxels caps the model grid too: a small series of coarse voxels cannot make a huge grid at the model spacing', async () => {
    // 64 x 64 x 16 voxels of 10 mm (65 k) pass; at the fixture's 4 mm that is 160 x 160 x 40 (1 M), over 500 k.
    const coarse = await smallPhantom('chest', { rows: 64, cols: 64, slices: 16, spacing: [10, 10, 10] });
    await expect(detect(coarse.dir, { models: heat, ep: 'cpu', maxVoxels: 500_000 })).rejects.toMatchObject({ code: 'E_TOO_LARGE', message: expect.stringMatching(/^model '[^']+' at 4 x 4 x 4 mm: output grid \d+x\d+x\d+ is over the limit of 500000 voxels/) });
    await expect(detect(coarse.dir, { models: heat, ep: 'cpu', maxVoxels: 2_000_000 })).resolves.toBeDefined();
  });

  it('several detects at once in one process do not interfere', async () => {
    const solo = [
      (await detect(chest.dir, { models: heat, ep: 'cpu' })).document,
      (await detect(cta.dir, { models: heat, ep: 'cpu' })).document,
      (await detect(buffersOf(cta.dir), { models: boxes, ep: 'cpu' })).document,
    ];
    const outs = [mkdtempSync(join(tmpdir(), 'ctscope-c1-')), mkdtempSync(join(tmpdir(), 'ctscope-c2-')), mkdtempSync(join(tmpdir(), 'ctscope-c3-'))];
    const together = await Promise.all([
      detect(chest.dir, { models: heat, ep: 'cpu', outDir: outs[0] }),
      detect(cta.dir, { models: heat, ep: 'cpu', outDir: outs[1] }),
      detect(buffersOf(cta.dir), { models: boxes, ep: 'cpu', outDir: outs[2] }),
    ]);
    together.forEach((t, n) => {
      expect(solo[n]!.findings.length).toBeGreaterThan(0);
      expect(t.document.series.seriesInstanceUid).toBe(solo[n]!.series.seriesInstanceUid);
      expect(t.document.findings).toEqual(solo[n]!.findings);
      const written = JSON.parse(readFileSync(join(outs[n]!, 'findings.json'), 'utf8'));
      expect(written.findings).toEqual(solo[n]!.findings);
    });
  });

  it('an abort ends the run with E_ABORTED and no findings.json', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-abort-'));
    const ac = new AbortController();
    const run = detect(chest.dir, { models: heat, ep: 'cpu', outDir: out, signal: ac.signal, onProgress: (p) => p.stage === 'resample' && ac.abort() });
    await expect(run).rejects.toMatchObject({ code: 'E_ABORTED' });
    expect(existsSync(join(out, 'findings.json'))).toBe(false);
    const pre = new AbortController();
    pre.abort();
    await expect(detect(chest.dir, { models: heat, signal: pre.signal })).rejects.toMatchObject({ code: 'E_ABORTED' });
  });

  it('a model id that is not bundled is E_MODEL saying so; bad inputs are coded', async () => {
    const empty = mkdtempSync(join(tmpdir(), 'ctscope-nomodels-'));
    await expect(detect(chest.dir, { models: 'nodule', modelDirs: [empty] })).rejects.toMatchObject({ code: 'E_MODEL', message: expect.stringMatching(/not bundled yet/) });
    await expect(detect(chest.dir, { models: 'no-such-model', modelDirs: [empty] })).rejects.toMatchObject({ code: 'E_MODEL' });
    await expect(detect(chest.dir, { models: [] })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(detect(chest.dir, { models: heat, ep: 'warp' as never })).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(detect(join(chest.dir, 'truth.json'), { models: heat })).rejects.toMatchObject({ code: 'E_NOT_DICOM' });
    await expect(detect(chest.dir, { models: heat, seriesUid: '1.2.3' })).rejects.toMatchObject({ code: 'E_SERIES_NOT_FOUND' });
    await expect(detect(chest.dir, { models: heat, outDir: join(chest.dir, 'truth.json') })).rejects.toMatchObject({ code: 'E_OUTPUT' });
  });

  it('never logs patient names or IDs', async () => {
    const lines: string[] = [];
    const r = await detect(chest.dir, { models: heat, ep: 'auto', onLog: (l) => lines.push(l), onProgress: (p) => lines.push(JSON.stringify(p)) });
    const all = lines.join('\n') + JSON.stringify(r.document);
    expect(all).not.toMatch(/PHANTOM|SYNTH-CHEST/);
  });
});

describe('one output folder, one run at a time', () => {
  it('two detects into one folder at once leave one complete set, never a mix of both runs', async () => {
    const fewer = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 1, newId: 'heat-one' });
    const { setMaxConcurrentRuns, maxConcurrentRuns } = await import('../../src/pipeline/admission.js');
    const was = maxConcurrentRuns();
    setMaxConcurrentRuns(2);
    try {
      for (let round = 0; round < 8; round++) {
        const out = mkdtempSync(join(tmpdir(), 'ctscope-shared-out-'));
        // The same series, so both reach their writing at about the same time; different finding counts, so a
        // mix shows as key images that findings.json does not list.
        const [a, b] = await Promise.all([
          detect(chest.dir, { models: heat, ep: 'cpu', outDir: out }),
          detect(chest.dir, { models: fewer, ep: 'cpu', outDir: out }),
        ]);
        expect(a.document.findings.length).toBeGreaterThan(b.document.findings.length);
        const doc = JSON.parse(readFileSync(join(out, 'findings.json'), 'utf8'));
        // Exactly the files that findings.json lists (plus the run index): nothing of the other run beside them.
        expect(readdirSync(out).filter((f) => f !== '.ctscope-outputs.json').sort(), `round ${round}`).toEqual(['findings.json', ...doc.files].sort());
      }
    } finally {
      setMaxConcurrentRuns(was);
    }
  });

  it("a folder another process is writing into (its lock file fresh) is E_OUTPUT naming it; a stale lock is ignored", async () => {
    const { utimesSync } = await import('node:fs');
    const out = mkdtempSync(join(tmpdir(), 'ctscope-locked-'));
    const lock = join(out, '.ctscope-writing.4242.abcdef');
    writeFileSync(lock, '4242\n');
    // Refused before the run, not after its decoding and inference.
    const stages = new Set<string>();
    await expect(detect(chest.dir, { models: heat, ep: 'cpu', outDir: out, onProgress: (p) => void stages.add(p.stage) })).rejects.toMatchObject({ code: 'E_OUTPUT', message: expect.stringMatching(/another ctscope run \(process 4242\) is writing/) });
    expect([...stages]).toEqual([]);
    expect(existsSync(join(out, 'findings.json'))).toBe(false);
    // Its writer stopped touching it (gone, crashed): after 10 s it is no lock, and it is cleared away.
    const old = new Date(Date.now() - 20_000);
    utimesSync(lock, old, old);
    await detect(chest.dir, { models: heat, ep: 'cpu', outDir: out });
    expect(existsSync(join(out, 'findings.json'))).toBe(true);
    expect(readdirSync(out).filter((f) => f.startsWith('.ctscope-writing'))).toEqual([]);
  });
});

describe('admission', () => {
  it('runs wait in the order detect was called, not in the order their checks before admission finish', async () => {
    const { admit, takePlace, setMaxConcurrentRuns, maxConcurrentRuns } = await import('../../src/pipeline/admission.js');
    const was = maxConcurrentRuns();
    setMaxConcurrentRuns(1);
    try {
      let release = (): void => undefined;
      const blocker = admit(undefined, () => new Promise<void>((r) => (release = r)));
      const first = takePlace();
      const second = takePlace();
      const order: string[] = [];
      // The second caller's checks finished first, so it reached admission first.
      const b = admit(undefined, async () => void order.push('second'), second);
      const a = admit(undefined, async () => void order.push('first'), first);
      release();
      await Promise.all([blocker, a, b]);
      expect(order).toEqual(['first', 'second']);
    } finally {
      setMaxConcurrentRuns(was);
    }
  });

  it('a run still in its checks keeps a slot for itself, no more: with a free second slot a later run starts beside it', async () => {
    const { admit, takePlace, abandonPlace, setMaxConcurrentRuns, maxConcurrentRuns } = await import('../../src/pipeline/admission.js');
    const was = maxConcurrentRuns();
    try {
      for (const limit of [1, 2]) {
        setMaxConcurrentRuns(limit);
        const checking = takePlace(); // an earlier call still indexing
        let started = false;
        const later = admit(undefined, async () => void (started = true), takePlace());
        await new Promise((r) => setImmediate(r));
        expect(started, `limit ${limit}`).toBe(limit === 2);
        abandonPlace(checking); // its checks failed: the later run goes
        await later;
        expect(started).toBe(true);
      }
    } finally {
      setMaxConcurrentRuns(was);
    }
  });

  it('through detect: a later call with a quick index does not start before an earlier one still indexing', async () => {
    const { cpSync, mkdtempSync: mk, rmSync, writeFileSync: wf } = await import('node:fs');
    const { setMaxConcurrentRuns, maxConcurrentRuns } = await import('../../src/pipeline/admission.js');
    // The earlier call's folder: the series plus 3000 small files that are not DICOM, so its index takes a while.
    const big = mk(join(tmpdir(), 'ctscope-slow-index-'));
    cpSync(chest.dir, big, { recursive: true });
    for (let i = 0; i < 3000; i++) wf(join(big, `note-${i}.txt`), `not dicom ${i}`);
    const was = maxConcurrentRuns();
    setMaxConcurrentRuns(1);
    try {
      const order: string[] = [];
      const admitted = (name: string) => (p: DetectProgress): void => {
        if (p.stage === 'decode' && !order.includes(name)) order.push(name);
      };
      const a = detect(big, { models: heat, ep: 'cpu', onProgress: admitted('earlier') });
      const b = detect(chest.dir, { models: heat, ep: 'cpu', onProgress: admitted('later') });
      await Promise.all([a, b]);
      expect(order).toEqual(['earlier', 'later']);
    } finally {
      setMaxConcurrentRuns(was);
      rmSync(big, { recursive: true, force: true });
    }
  });

  it('input with nothing to load is refused at once, not after the runs ahead of it', async () => {
    const { setMaxConcurrentRuns, maxConcurrentRuns } = await import('../../src/pipeline/admission.js');
    const was = maxConcurrentRuns();
    setMaxConcurrentRuns(1);
    try {
      const order: string[] = [];
      const run = detect(chest.dir, { models: heat, ep: 'cpu' }).then(() => void order.push('run'));
      const junk = detect([{ name: 'junk', bytes: new Uint8Array(4096).fill(7) }], { models: heat, ep: 'cpu' }).catch((e: { code?: string }) => void order.push(e.code ?? 'failed'));
      await Promise.all([run, junk]);
      expect(order).toEqual(['E_NOT_DICOM', 'run']);
    } finally {
      setMaxConcurrentRuns(was);
    }
  });
});
