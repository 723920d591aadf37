import { readFileSync, readdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { detect } from '../../src/pipeline/detect.js';
import { closeRunners } from '../../src/inference/runner.js';
import type { FindingsDocument } from '../../src/outputs/document.js';
import { fixturePackage, smallPhantom } from '../pipeline/helpers.js';
import { CHROMIUM, CHROMIUM_ARGS, dciodvfy, dsrdump, has, hasChromium, schemaErrors } from './helpers.js';

afterAll(() => closeRunners());

interface Run {
  name: string;
  out: string;
  doc: FindingsDocument;
  seriesUid: string;
}
const runs: Run[] = [];

beforeAll(async () => {
  const root = mkdtempSync(join(tmpdir(), 'ctscope-models-'));
  const nodule = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 3, newId: 'nodule-fixture' }, root);
  const aneurysm = fixturePackage('heatmap-fp32', { spacing: [3, 3, 3], maxFindings: 2, task: 'aneurysm', labels: ['aneurysm'], newId: 'aneurysm-fixture' }, root);
  const chest = await smallPhantom('chest');
  const cta = await smallPhantom('cta', { spacing: [3.5, 3.5, 3.5], slices: 48 });
  for (const [name, series, model] of [['chest', chest, nodule], ['cta', cta, aneurysm]] as const) {
    const out = mkdtempSync(join(tmpdir(), `ctscope-${name}-out-`));
    const { document } = await detect(series.dir, { models: [model], ep: 'cpu', outDir: out });
    runs.push({ name, out, doc: document, seriesUid: series.truth.series.seriesInstanceUid });
  }
}, 60_000);

describe('findings.json', () => {
  it('validates against schemas/findings.schema.json and names the series and model', () => {
    for (const r of runs) {
      const doc = JSON.parse(readFileSync(join(r.out, 'findings.json'), 'utf8')) as FindingsDocument;
      expect(schemaErrors(doc), r.name).toBeUndefined();
      expect(doc.series.seriesInstanceUid).toBe(r.seriesUid);
      expect(doc.series.id).toBe(r.seriesUid); // one stack under its UID: the id is the UID itself
      expect(doc.models[0]!.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(doc.findings.length).toBeGreaterThan(0);
      expect(doc.files).toEqual(expect.arrayContaining(['sr.dcm', 'report.html', ...doc.findings.map((f) => `key-${f.n}.png`)]));
      expect(doc.timings.totalMs).toBeGreaterThan(0);
      // Only UIDs: the phantom's patient name and ID never reach the findings.
      const text = JSON.stringify(doc);
      expect(text).not.toMatch(/PHANTOM\^|SYNTH-(CHEST|CTA)/);
    }
  });

  it('the schema rejects a document with a missing or extra field', () => {
    const doc = structuredClone(runs[0]!.doc) as unknown as Record<string, unknown>;
    expect(schemaErrors({ ...doc, patientName: 'X' })).toBeDefined();
    const { findings: _f, ...rest } = doc;
    expect(schemaErrors(rest)).toBeDefined();
  });

  it('leaves no temporary files behind', () => {
    for (const r of runs) expect(readdirSync(r.out).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });
});

describe.skipIf(!has('dciodvfy'))('sr.dcm passes dciodvfy (dicom3tools)', () => {
  it('has zero errors for both phantoms', () => {
    for (const r of runs) {
      const v = dciodvfy(join(r.out, 'sr.dcm'));
      expect(v.output, r.name).toMatch(/Comprehensive3DSR/);
      expect(v.errors, `${r.name}:\n${v.output}`).toEqual([]);
      // The only warnings allowed are for the local coding scheme of the detection score.
      expect(v.warnings.filter((w) => !/99CTSCOPE/.test(w)), v.output).toEqual([]);
    }
  });
});
if (!has('dciodvfy')) console.warn('SKIP sr.dcm dciodvfy check: dciodvfy not installed (Debian package dicom3tools)');

describe.skipIf(!has('dsrdump'))('sr.dcm loads in dsrdump (dcmtk)', () => {
  it('shows one measurement group per finding with its centre, diameter and volume', () => {
    for (const r of runs) {
      const d = dsrdump(join(r.out, 'sr.dcm'));
      expect(d.status, d.output).toBe(0);
      expect(d.output).toMatch(/Comprehensive 3D SR Document/);
      expect(d.output).toMatch(/"Imaging Measurement Report"/);
      expect(d.output.match(/"Measurement Group"/g)?.length).toBe(r.doc.findings.length);
      const f = r.doc.findings[0]!;
      expect(d.output).toContain(`"Tracking Identifier")="finding-1"`);
      // The centre as dcmjs writes a point: NUM "Center" inferred from a SCOORD3D POINT.
      expect(d.output).toContain(`<contains NUM:(,,"Center")="0" (1,UCUM,"no units")>`);
      expect(d.output).toContain('<inferred from SCOORD3D:=(POINT,');
      expect(d.output).toMatch(/"Diameter"\)="[\d.]+" \(mm,UCUM/);
      expect(d.output).toMatch(/"Volume"\)="[\d.e+]+" \(mm3,UCUM/);
      // Sizes are the detector's output, and the SR says so on each of them.
      expect(d.output.match(/"Measurement Method"\)=\(heatmap-blob,99CTSCOPE,/g)?.length).toBe(2 * r.doc.findings.length);
      expect(readFileSync(join(r.out, 'report.html'), 'utf8')).toContain('not a measurement of the lesion');
      expect(d.output).toContain(r.name === 'chest' ? '(786838002,SCT,"Pulmonary nodule")' : '(432119003,SCT,"Aneurysm")');
      expect(f.sopInstanceUid).not.toBe('');
    }
  });
});
if (!has('dsrdump')) console.warn('SKIP sr.dcm dsrdump check: dsrdump not installed (Debian package dcmtk)');

describe.skipIf(!hasChromium)('report.html in headless Chromium', () => {
  it('loads with every key image decoded and the findings table filled', async () => {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      for (const r of runs) {
        const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
        const failed: string[] = [];
        page.on('requestfailed', (q) => failed.push(q.url()));
        // The page's Content-Security-Policy (no script, no remote resource) blocks nothing the report itself uses.
        const errors: string[] = [];
        page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
        await page.goto(pathToFileURL(join(r.out, 'report.html')).href, { waitUntil: 'load' });
        const images = await page.$$eval('img', (els) => els.map((e) => ({ src: e.getAttribute('src'), w: (e as HTMLImageElement).naturalWidth, ok: (e as HTMLImageElement).complete })));
        expect(images).toHaveLength(r.doc.findings.length);
        for (const im of images) expect(im.w, String(im.src)).toBeGreaterThan(0);
        const rows = await page.$$eval('#findings tbody tr', (trs) => trs.map((tr) => Array.from(tr.querySelectorAll('td')).map((td) => td.textContent ?? '')));
        expect(rows).toHaveLength(r.doc.findings.length);
        expect(errors).toEqual([]);
        expect(await page.$eval('meta[http-equiv="Content-Security-Policy"]', (m) => m.getAttribute('content'))).toMatch(/^default-src 'none'/);
        // The inline style sheet applies under it (a browser default would be 'separate').
        expect(await page.$eval('table#findings', (t) => getComputedStyle(t).borderCollapse)).toBe('collapse');
        r.doc.findings.forEach((f, n) => {
          expect(rows[n]![0]).toBe(String(f.n));
          expect(rows[n]![2]).toBe(f.score.toFixed(3));
          expect(rows[n]![4]).toBe(`image ${f.instanceNumber} (${f.sliceIndex + 1}/${r.doc.series.dims[2]})`);
        });
        expect(await page.textContent('body')).toContain('not for clinical use');
        // Prose wraps between words; only UIDs and hashes may break anywhere.
        const breaks = await page.$$eval('dl.model dd', (dds) => dds.map((d) => [d.className, getComputedStyle(d).wordBreak]));
        for (const [cls, wb] of breaks) expect(wb, cls).toBe(cls === 'uid' ? 'break-all' : 'normal');
        expect(await page.textContent('#timings tbody tr:last-child')).toMatch(/^total before writing the outputs.*\d+$/);
        expect(failed).toEqual([]);
        await page.screenshot({ path: join(tmpdir(), `ctscope-report-${r.name}.png`), fullPage: true });
        await page.close();
      }
    } finally {
      await browser.close();
    }
  }, 60_000);
});
if (!hasChromium) console.warn(`SKIP report.html browser check: ${CHROMIUM} not installed (Debian package chromium)`);

describe('report.html series facts', () => {
  it('gives the slice interval along the slice normal, not the sheared k step of a tilted series', async () => {
    const { reportHtml } = await import('../../src/outputs/report.js');
    const doc = structuredClone(runs[0]!.doc);
    const t = (18.5 * Math.PI) / 180;
    doc.series = { ...doc.series, spacing: [0.488, 0.488, 5.627], direction: [1, 0, 0, 0, 1, Math.sin(t), 0, 0, Math.cos(t)], tiltDeg: 18.5 };
    const html = reportHtml(doc, []);
    expect(html).toContain('<dt>Pixel spacing</dt><dd>0.488 x 0.488 mm</dd>');
    expect(html).toContain(`<dt>Slice interval</dt><dd>${(5.627 * Math.cos(t)).toFixed(3)} mm</dd>`);
  });
});

describe('report.html sizes', () => {
  it('marks each size by where it comes from and explains only the methods present', async () => {
    const { reportHtml } = await import('../../src/outputs/report.js');
    const doc = structuredClone(runs[0]!.doc);
    doc.findings = doc.findings.slice(0, 1).map((f) => ({ ...f, sizeMethod: 'half-max' as const }));
    const measured = reportHtml(doc, []);
    expect(measured).toContain('&dagger; Measured automatically on the image');
    expect(measured).not.toContain('not a measurement of the lesion');
    doc.findings = [...doc.findings, { ...doc.findings[0]!, n: 2, sizeMethod: 'model-region' as const }];
    const both = reportHtml(doc, []);
    expect(both).toContain('&dagger; Measured automatically on the image');
    expect(both).toContain('* The size of the detector');
  });
});

describe('a model with a second stage', () => {
  it('findings.json and the report name its combination rule, with the first stage weight where the rule has one', async () => {
    const { reportHtml } = await import('../../src/outputs/report.js');
    const root = mkdtempSync(join(tmpdir(), 'ctscope-models-'));
    const chest = await smallPhantom('chest');
    for (const [combine, firstWeight, text] of [['mean', 0.25, 'mean of both stages, first weighted 0.25'], ['geometric', undefined, 'geometric mean of both stages']] as const) {
      const model = fixturePackage('heatmap-refine', { spacing: [4, 4, 4], score: 0, newId: `refine-${combine}`, refine: { combine, ...(firstWeight ? { firstWeight } : {}) } }, root);
      const { document } = await detect(chest.dir, { models: [model], ep: 'cpu' });
      expect(schemaErrors(document), combine).toBeUndefined();
      expect(document.models[0]!.refine).toMatchObject({ combine, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
      expect(document.models[0]!.refine?.firstWeight).toBe(firstWeight);
      expect(reportHtml(document, [])).toContain(`(${text})`);
    }
  }, 30_000);
});

describe('where a finding is, as a PACS numbers it', () => {
  it('findings carry the InstanceNumber of their image; report and summary show it with the stack position', async () => {
    const { summaryTable } = await import('../../src/cli/console.js');
    for (const r of runs) {
      const seriesDir = JSON.parse(readFileSync(join(r.out, 'findings.json'), 'utf8')) as FindingsDocument;
      const html = readFileSync(join(r.out, 'report.html'), 'utf8');
      for (const f of seriesDir.findings) {
        expect(f.instanceNumber, r.name).toEqual(expect.any(Number));
        expect(html).toContain(`image ${f.instanceNumber} (${f.sliceIndex + 1}/${seriesDir.series.dims[2]})`);
      }
      expect(summaryTable(seriesDir, r.out, []).join('\n')).toContain(`image ${seriesDir.findings[0]!.instanceNumber} (`);
    }
  });
});

describe('imageLabel', () => {
  it('names the frame of a multi-frame image, whose frames share one InstanceNumber', async () => {
    const { imageLabel } = await import('../../src/outputs/labels.js');
    expect(imageLabel({ sliceIndex: 11, instanceNumber: 1, frameNumber: 12 }, 40)).toBe('image 1, frame 12 (12/40)');
    expect(imageLabel({ sliceIndex: 0, instanceNumber: 7, frameNumber: 1 }, 40)).toBe('image 7 (1/40)');
    expect(imageLabel({ sliceIndex: 4 }, 40)).toBe('slice 5/40');
  });
});

describe('sr.dcm in a viewer library', () => {
  it('dcmjs measurement-report parsing finds each finding on its image, at its pixel', async () => {
    const { dcmjs, toArrayBuffer } = await import('../../src/outputs/dcmjs.js');
    const adapters = (dcmjs() as unknown as { adapters: { Cornerstone: { MeasurementReport: { getSetupMeasurementData(g: unknown): { ReferencedSOPInstanceUID: string; SCOORDGroup: { GraphicData: number[] }; defaultState: { description?: string } } } } } }).adapters;
    for (const r of runs) {
      const ds = dcmjs().data.DicomMetaDictionary.naturalizeDataset(dcmjs().data.DicomMessage.readFile(toArrayBuffer(readFileSync(join(r.out, 'sr.dcm')))).dict) as { ContentSequence: any[] };
      const meas = ds.ContentSequence.find((c) => [c.ConceptNameCodeSequence].flat()[0].CodeValue === '126010');
      const groups = [meas.ContentSequence].flat();
      expect(groups).toHaveLength(r.doc.findings.length);
      groups.forEach((g, n) => {
        const f = r.doc.findings[n]!;
        const parsed = adapters.Cornerstone.MeasurementReport.getSetupMeasurementData(g);
        expect(parsed.ReferencedSOPInstanceUID).toBe(f.sopInstanceUid);
        expect(parsed.SCOORDGroup.GraphicData[0]).toBeCloseTo(f.centerVoxel[0] + 0.5, 1);
        expect(parsed.SCOORDGroup.GraphicData[1]).toBeCloseTo(f.centerVoxel[1] + 0.5, 1);
        expect(parsed.defaultState.description).toBe(r.name === 'chest' ? 'Pulmonary nodule' : 'Aneurysm');
      });
    }
  });
});
