import { readFileSync, readdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DicomWebClient } from '../../src/dicomweb/client.js';
import { closeRunners } from '../../src/inference/runner.js';
import { dcmjs, toArrayBuffer } from '../../src/outputs/dcmjs.js';
import { COMPREHENSIVE_3D_SR } from '../../src/outputs/sr.js';
import { detect } from '../../src/pipeline/detect.js';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';
import { dsrdump, has } from '../outputs/helpers.js';
import { orthancMissing, startOrthanc, type OrthancServer } from './orthanc.js';
import { cli } from '../helpers/cli.js';

const missing = orthancMissing();
if (missing) console.warn(`SKIP DICOMweb round trip: ${missing}`);

/** A loopback reverse proxy in front of Orthanc that demands one bearer token (Orthanc has none built in). */
function tokenProxy(target: string, token: string): Promise<{ server: Server; url: string }> {
  const t = new URL(target);
  const server = createServer((req, res) => {
    if (req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, { 'Content-Type': 'text/plain' }).end('missing or wrong token');
      return;
    }
    const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
      res.writeHead(r.statusCode ?? 502, r.headers);
      r.pipe(res);
    });
    req.pipe(up);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as { port: number }).port}` })));
}

describe.skipIf(missing !== undefined)('DICOMweb round trip against a real Orthanc', () => {
  let orthanc: OrthancServer;
  let phantom: Awaited<ReturnType<typeof smallPhantom>>;
  let model: string;
  let study: string, series: string;

  beforeAll(async () => {
    orthanc = await startOrthanc();
    phantom = await smallPhantom('chest', { slices: 24 });
    model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
    study = phantom.truth.series.studyInstanceUid;
    series = phantom.truth.series.seriesInstanceUid;
  }, 60_000);
  afterAll(async () => {
    await closeRunners();
    await orthanc?.stop();
  });

  it('stores the phantom (STOW-RS) and finds it (QIDO-RS)', async () => {
    const client = new DicomWebClient({ baseUrl: orthanc.dicomWeb });
    const files = readdirSync(phantom.dir).filter((f) => f.endsWith('.dcm')).map((f) => readFileSync(join(phantom.dir, f)));
    const r = await client.store(files);
    expect(r.stored).toHaveLength(files.length);
    const found = await client.searchSeries(study);
    expect(found.map((s) => s.seriesInstanceUid)).toContain(series);
    expect(found.find((s) => s.seriesInstanceUid === series)!.modality).toBe('CT');
    expect(await client.searchInstances(study, series)).toHaveLength(files.length);
  });

  it('library: WADO-RS -> detect on buffers -> STOW-RS of the SR -> QIDO and WADO return it', async () => {
    const client = new DicomWebClient({ baseUrl: orthanc.dicomWeb });
    const buffers = await client.retrieve(study, series);
    expect(buffers).toHaveLength(24);
    const { document, sr } = await detect(buffers, { models: [model], ep: 'cpu', sr: true });
    expect(document.series.seriesInstanceUid).toBe(series);
    expect(sr).toBeDefined();
    await client.store([sr!], study);
    const srSeries = (await client.searchSeries(study)).filter((s) => s.modality === 'SR');
    expect(srSeries).toHaveLength(1);
    const [inst] = await client.searchInstances(study, srSeries[0]!.seriesInstanceUid);
    expect(inst!.sopClassUid).toBe(COMPREHENSIVE_3D_SR);
    expect(inst!.sopInstanceUid).toBe(document.sr!.sopInstanceUid);
    expect(srSeries[0]!.seriesInstanceUid).toBe(document.sr!.seriesInstanceUid);
    const back = await client.retrieveInstance(study, srSeries[0]!.seriesInstanceUid, inst!.sopInstanceUid);
    const ds = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(back)).dict);
    expect(ds.SOPInstanceUID).toBe(inst!.sopInstanceUid);
    expect((ds.CurrentRequestedProcedureEvidenceSequence as Array<{ ReferencedSeriesSequence: Array<{ SeriesInstanceUID: string }> }>)[0]!.ReferencedSeriesSequence[0]!.SeriesInstanceUID).toBe(series);
    if (has('dsrdump')) {
      const path = join(mkdtempSync(join(tmpdir(), 'ctscope-sr-')), 'back.dcm');
      writeFileSync(path, back);
      const d = dsrdump(path);
      expect(d.status, d.output).toBe(0);
      expect(d.output.match(/"Measurement Group"/g)?.length).toBe(document.findings.length);
    }
  }, 60_000);

  it('CLI: detect dicomweb+http://...?study=&series= --stow writes the outputs and stores a second SR', async () => {
    const out = mkdtempSync(join(tmpdir(), 'ctscope-dw-out-'));
    const url = `dicomweb+${orthanc.dicomWeb}?study=${study}&series=${series}`;
    const r = await cli(['detect', url, '--model', model, '--ep', 'cpu', '--out', out, '--stow', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as { series: { seriesInstanceUid: string } };
    expect(doc.series.seriesInstanceUid).toBe(series);
    expect(readdirSync(out)).toEqual(expect.arrayContaining(['findings.json', 'sr.dcm', 'report.html']));
    const client = new DicomWebClient({ baseUrl: orthanc.dicomWeb });
    const srSeries = (await client.searchSeries(study)).filter((s) => s.modality === 'SR');
    const total = (await Promise.all(srSeries.map((s) => client.searchInstances(study, s.seriesInstanceUid)))).flat();
    expect(total).toHaveLength(2);
    // Study only: the whole study (CT + the SRs) comes back and the CT series is chosen.
    const whole = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}`, '--model', model, '--ep', 'cpu', '--json', '--quiet']);
    expect(whole.code, whole.stderr).toBe(0);
    const d2 = JSON.parse(whole.stdout) as { series: { seriesInstanceUid: string }; warnings: string[] };
    expect(d2.series.seriesInstanceUid).toBe(series);
    // The two SRs stored back are no images: expected in a study, so not warned about as skipped inputs.
    expect(d2.warnings.join('\n')).not.toMatch(/skipped/);
  }, 60_000);

  it('Ctrl-C while the SR is being stored says the results are in --out and the upload is of unknown outcome (exit 130)', async () => {
    // Retrievals go through to Orthanc; the upload is taken and never answered.
    const t = new URL(orthanc.url);
    const server = createServer((req, res) => {
      if (req.method === 'POST') return void req.resume();
      const up = request({ host: t.hostname, port: t.port, path: req.url, method: req.method, headers: { ...req.headers, host: t.host } }, (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    try {
      const out = join(mkdtempSync(join(tmpdir(), 'ctscope-stow-int-')), 'out');
      const url = `dicomweb+http://127.0.0.1:${(server.address() as { port: number }).port}/dicom-web?study=${study}&series=${series}`;
      const r = await cli(['detect', url, '--model', model, '--ep', 'cpu', '--out', out, '--stow'], { onStderrLine: (line, kill) => /^storing the SR back \(STOW-RS\)/.test(line) && kill('SIGINT') });
      expect(r.code).toBe(130);
      expect(r.stderr).toMatch(/^error\[E_ABORTED\]: storing the SR back was interrupted: whether the server stored it is unknown; the results are in /m);
      expect(readdirSync(out)).toEqual(expect.arrayContaining(['findings.json', 'sr.dcm']));
    } finally {
      server.closeAllConnections();
      server.close();
    }
  }, 60_000);

  it('an unknown series is a coded bad-input error (exit 3)', async () => {
    const r = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}&series=1.2.3.4`, '--model', model, '--json', '--quiet']);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/E_SERIES_NOT_FOUND/);
  });

  it('sends the bearer token, and never shows it in errors', async () => {
    const token = 'sekrit-token-4f9a';
    const proxy = await tokenProxy(orthanc.url, token);
    try {
      const base = `${proxy.url}/dicom-web`;
      await expect(new DicomWebClient({ baseUrl: base }).searchSeries(study)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/HTTP 401/) });
      const wrong = new DicomWebClient({ baseUrl: base, token: 'wrong' });
      await expect(wrong.searchSeries(study)).rejects.toMatchObject({ code: 'E_IO' });
      const ok = new DicomWebClient({ baseUrl: base, token });
      expect((await ok.retrieve(study, series)).length).toBe(24);
      expect(JSON.stringify(ok)).not.toContain(token);
      expect(inspect(ok, { showHidden: true, depth: 5 })).not.toContain(token);
      expect(() => new DicomWebClient({ baseUrl: 'http://user:pw@127.0.0.1/dicom-web' })).toThrow(/must not hold credentials \(http:\/\/127\.0\.0\.1\/dicom-web\)/);
      const tokenFile = join(mkdtempSync(join(tmpdir(), 'ctscope-tok-')), 'token');
      writeFileSync(tokenFile, `${token}\n`);
      const r = await cli(['detect', `dicomweb+${base}/studies/${study}/series/${series}`, '--model', model, '--ep', 'cpu', '--json', '--token-file', tokenFile]);
      expect(r.code, r.stderr).toBe(0);
      const bad = await cli(['detect', `dicomweb+${base}?study=${study}`, '--model', model, '--json'], { env: { CTSCOPE_DICOMWEB_TOKEN: 'nope-nope' } });
      expect(bad.code).toBe(4);
      expect(bad.stderr).toMatch(/access denied/);
      expect(`${r.stdout}${r.stderr}${bad.stderr}`).not.toMatch(/sekrit|nope-nope/);
    } finally {
      proxy.server.close();
    }
  }, 60_000);
});

describe.skipIf(missing !== undefined)("Orthanc's own login (HTTP Basic)", () => {
  const password = 'pw-Zq7-secret';
  let orthanc: OrthancServer;
  let phantom: Awaited<ReturnType<typeof smallPhantom>>;
  let model: string;
  let study: string, series: string;
  let dir: string;

  beforeAll(async () => {
    orthanc = await startOrthanc({ alice: password });
    phantom = await smallPhantom('chest', { slices: 12 });
    model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 2 });
    study = phantom.truth.series.studyInstanceUid;
    series = phantom.truth.series.seriesInstanceUid;
    dir = mkdtempSync(join(tmpdir(), 'ctscope-basic-'));
    const files = readdirSync(phantom.dir).filter((f) => f.endsWith('.dcm')).map((f) => readFileSync(join(phantom.dir, f)));
    await new DicomWebClient({ baseUrl: orthanc.dicomWeb, credentials: { username: 'alice', password } }).store(files);
  }, 60_000);
  afterAll(async () => {
    await closeRunners();
    await orthanc?.stop();
  });

  it('library: credentials retrieve the series; none, or a wrong password, say what the server wants', async () => {
    const ok = new DicomWebClient({ baseUrl: orthanc.dicomWeb, credentials: { username: 'alice', password } });
    expect((await ok.retrieve(study, series)).length).toBe(12);
    expect(`${JSON.stringify(ok)} ${inspect(ok, { showHidden: true, depth: 5 })}`).not.toContain(password);
    await expect(new DicomWebClient({ baseUrl: orthanc.dicomWeb }).searchSeries(study)).rejects.toMatchObject({ code: 'E_IO', message: expect.stringMatching(/wants a user name and password \(HTTP Basic/) });
    await expect(new DicomWebClient({ baseUrl: orthanc.dicomWeb, credentials: { username: 'alice', password: 'nope' } }).searchSeries(study)).rejects.toMatchObject({ message: expect.stringMatching(/check the user name and password/) });
  });

  it('CLI: --credentials-file or CTSCOPE_DICOMWEB_CREDENTIALS; --series with a study URL fetches that series alone', async () => {
    const file = join(dir, 'credentials');
    writeFileSync(file, `alice:${password}\n`);
    // The SR stored back makes the study 13 instances: --series then fetches the 12 of the CT series alone.
    const env = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}`, '--model', model, '--ep', 'cpu', '--out', join(dir, 'out'), '--stow'], { env: { CTSCOPE_DICOMWEB_CREDENTIALS: `alice:${password}` } });
    expect(env.code, env.stderr).toBe(0);
    expect(env.stderr).toMatch(/stored 1 SR instance/);
    const r = await cli(['detect', `dicomweb+${orthanc.dicomWeb}/studies/${study}/series`, '--series', series, '--model', model, '--ep', 'cpu', '--json', '--credentials-file', file]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/retrieving series from .*\n(.*\n)*retrieved 12 instance\(s\)/);
    const whole = await cli(['detect', `dicomweb+${orthanc.dicomWeb}/studies/${study}/series`, '--model', model, '--ep', 'cpu', '--json', '--credentials-file', file]);
    expect(whole.stderr).toMatch(/retrieved 13 instance\(s\)/);
    const none = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}`, '--model', model, '--json', '--quiet']);
    expect(none.code).toBe(4);
    expect(none.stderr).toMatch(/^error\[E_IO\]: .*wants a user name and password/m);
    // Malformed secrets are usage errors naming their source, never their content.
    writeFileSync(join(dir, 'token'), 'abcSECRET1\ndefSECRET2\n');
    const lines = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}`, '--model', model, '--json', '--token-file', join(dir, 'token')]);
    expect(lines.code).toBe(2);
    expect(lines.stderr).toMatch(/^error\[E_USAGE\]: detect: the bearer token from --token-file holds characters an HTTP header cannot carry/m);
    writeFileSync(join(dir, 'nocolon'), 'alice\n');
    const nocolon = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}`, '--model', model, '--json', '--credentials-file', join(dir, 'nocolon')]);
    expect(nocolon.stderr).toMatch(/^error\[E_USAGE\]: detect: the credentials from --credentials-file must be user:password on one line/m);
    const other = await cli(['detect', `dicomweb+${orthanc.dicomWeb}?study=${study}&series=${series}`, '--series', '1.2.3', '--model', model, '--json', '--credentials-file', file]);
    expect(other.code).toBe(2);
    expect(other.stderr).toMatch(/--series names another series than the DICOMweb URL/);
    expect([r, env, whole, none, lines, nocolon, other].map((x) => x.stdout + x.stderr).join('')).not.toMatch(/pw-Zq7|SECRET/);
  }, 120_000);
});
