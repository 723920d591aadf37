import type { SizeMethod } from '../inference/findings.js';
import { DEFAULT_FIRST_WEIGHT, type RefineCombine } from '../inference/manifest.js';
import type { FindingsDocument } from './document.js';
import { WINDOWS } from './key-image.js';
import { imageLabel, regionNote } from './labels.js';
import { dot, sliceNormal } from '../volume/affine.js';

/**
 * Distance between slices along their normal. The grid's third spacing is the step along its k axis, which a
 * gantry tilt shears: 5.627 mm for slices 5.337 mm apart at 18.5 degrees.
 */
function sliceInterval(s: FindingsDocument['series']): number {
  const d = s.direction;
  return s.spacing[2] * Math.abs(dot([d[2], d[5], d[8]], sliceNormal(d)));
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export const esc = (s: unknown): string => String(s).replace(/[&<>"']/g, (c) => ESC[c]!);

const mm = (x: number, d = 1): string => x.toFixed(d);

export interface KeyImageRef {
  n: number;
  file: string;
  width: number;
  height: number;
}

const CSS = `
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1b1f24;background:#f5f6f8}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #d0d4da;padding-bottom:4px}
.banner{background:#fff4d6;border:1px solid #e3b341;border-radius:6px;padding:10px 14px;margin:12px 0;font-weight:600}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border:1px solid #d0d4da;padding:6px 8px;text-align:left;vertical-align:top}
th{background:#eceff3}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;background:#fff;padding:12px;border:1px solid #d0d4da;border-radius:6px}
dt{font-weight:600}dd{margin:0;overflow-wrap:anywhere}
.figs{display:grid;grid-template-columns:repeat(auto-fill,minmax(320px,1fr));gap:16px}
figure{margin:0;background:#111;border-radius:6px;overflow:hidden}figure img{width:100%;height:auto;display:block}
figcaption{color:#eee;padding:8px 10px;font-size:13px}.uid{font-family:ui-monospace,monospace;font-size:12px;word-break:break-all}
.none{background:#fff;padding:12px;border:1px solid #d0d4da;border-radius:6px}
.note{font-size:0.9em;color:#444}`;

/** How the second stage's score entered the final one (manifest refine.combine), for the model section. */
const REFINE_RULE: Record<RefineCombine, (firstWeight?: number) => string> = {
  refine: () => 'its score alone',
  geometric: () => 'geometric mean of both stages',
  mean: (w = DEFAULT_FIRST_WEIGHT) => `mean of both stages, first weighted ${w.toFixed(2)}`,
};
/** Each size's source, marked in the findings table and explained under it. */
const SIZE_MARK: Record<SizeMethod, string> = { 'half-max': '&dagger;', 'model-region': '*', 'model-box': '*' };
const SIZE_NOTE: Record<SizeMethod, string> = {
  'half-max': "&dagger; Measured automatically on the image: twice the median distance from the finding's centre to the lesion's half-maximum edge along 64 rays; the volume is that sphere's. An estimate to check on the images, not a reader's caliper measurement.",
  'model-region': "* The size of the detector's own output (its heatmap region), not a measurement of the lesion: it understates large lesions. Measure on the images.",
  'model-box': "* The size of the detector's own box, not a measurement of the lesion. Measure on the images.",
};

/** The report page: findings table, key images, model card, series and timings. No patient attributes. */
export function reportHtml(doc: FindingsDocument, images: readonly KeyImageRef[]): string {
  const s = doc.series;
  const rows = doc.findings
    .map(
      (f) => `<tr><td class="num">${f.n}</td><td>${esc(f.label)} <span class="uid">(${esc(f.model)})</span></td><td class="num">${f.score.toFixed(3)}</td>` +
        `<td class="num">${f.centerLps.map((x) => mm(x)).join(', ')}</td><td class="num">${imageLabel(f, s.dims[2])}</td>` +
        `<td class="num">${mm(f.diameterMm)}${SIZE_MARK[f.sizeMethod]}</td><td class="num">${mm(f.volumeMm3, 0)}${SIZE_MARK[f.sizeMethod]}</td><td class="uid">${esc(f.sopInstanceUid)}</td></tr>`,
    )
    .join('\n');
  const table = doc.findings.length
    ? `<table id="findings"><thead><tr><th>#</th><th>Finding</th><th>Score</th><th>Centre LPS (mm)</th><th>Image (slice)</th><th>Size &#8960; (mm)</th><th>Volume (mm&sup3;)</th><th>SOP Instance UID</th></tr></thead><tbody>\n${rows}\n</tbody></table>` +
      [...new Set(doc.findings.map((f) => f.sizeMethod))].map((m) => `<p class="note">${SIZE_NOTE[m]}</p>`).join('')
    : `<p class="none" id="findings">No findings above the models' thresholds.</p>`;
  const figs = images
    .map((im) => {
      const f = doc.findings.find((x) => x.n === im.n)!;
      const w = WINDOWS[f.kind];
      return `<figure><img src="${esc(im.file)}" width="${im.width}" height="${im.height}" alt="Finding ${f.n}: ${esc(f.label)} on ${imageLabel(f, doc.series.dims[2])}">` +
        `<figcaption>#${f.n} ${esc(f.label)}, score ${f.score.toFixed(3)}, &#8960; ${mm(f.diameterMm)} mm, ${imageLabel(f, doc.series.dims[2])}; ${esc(w.name)} window ${w.center}/${w.width}</figcaption></figure>`;
    })
    .join('\n');
  const models = doc.models
    .map(
      (m) => `<dl class="model"><dt>Model</dt><dd>${esc(m.id)} ${esc(m.version)} (${esc(m.task)})</dd><dt>Description</dt><dd>${esc(m.description || '-')}</dd>` +
        `<dt>Training data</dt><dd>${esc(m.trainingData)}</dd><dt>Licence</dt><dd>${esc(m.licence)}</dd><dt>sha256</dt><dd class="uid">${esc(m.sha256)}</dd>` +
        `<dt>Ran on</dt><dd>${esc(m.provider)}, grid ${m.dims.join(' x ')} at ${m.spacing.join(' x ')} mm, ${m.patches} patches${esc(regionNote(m))}</dd>` +
        (m.refine ? `<dt>Second stage</dt><dd>re-scored ${m.refine.candidates} candidates (${REFINE_RULE[m.refine.combine](m.refine.firstWeight)}); sha256 <span class="uid">${esc(m.refine.sha256)}</span></dd>` : '') +
        `<dt>Intended use</dt><dd>Synthetic phantoms only, not for clinical use.</dd></dl>`,
    )
    .join('\n');
  const timings = doc.timings.stages.map((t) => `<tr><td>${esc(t.stage)}${t.model ? ` (${esc(t.model)})` : ''}</td><td class="num">${t.ms.toFixed(0)}</td></tr>`).join('');
  const warnings = doc.warnings.length ? `<h2>Warnings</h2><ul>${doc.warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>` : '';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'">
<title>ctscope findings: ${doc.findings.length} finding(s)</title><style>${CSS}</style></head>
<body><main>
<h1>CT findings report</h1>
<div>Generated by ctscope ${esc(doc.generator.version)} on ${esc(doc.createdAt)}</div>
<div class="banner">${esc(doc.disclaimer)}</div>
<h2>Findings (${doc.findings.length})</h2>
${table}
${images.length ? `<h2>Key images</h2><div class="figs">\n${figs}\n</div>` : ''}
<h2>Series</h2>
<dl><dt>Study Instance UID</dt><dd class="uid">${esc(s.studyInstanceUid)}</dd><dt>Series Instance UID</dt><dd class="uid">${esc(s.seriesInstanceUid)}</dd>
<dt>Frame of Reference UID</dt><dd class="uid">${esc(s.frameOfReferenceUid ?? '-')}</dd><dt>Modality</dt><dd>${esc(s.modality)}</dd>
<dt>Voxels</dt><dd>${s.dims.join(' x ')}</dd><dt>Pixel spacing</dt><dd>${s.spacing.slice(0, 2).map((x) => x.toFixed(3)).join(' x ')} mm</dd><dt>Slice interval</dt><dd>${sliceInterval(s).toFixed(3)} mm</dd>${s.tiltDeg ? `<dt>Gantry tilt</dt><dd>${s.tiltDeg} deg</dd>` : ''}</dl>
<h2>Model card</h2>
${models}
<h2>Timings (ms)</h2>
<table id="timings"><tbody>${timings}${timingsTotal(doc)}</tbody></table>
${warnings}
</main></body></html>
`;
}

/** The report is written during the outputs stage, so its own time and the run's total are not known yet. */
function timingsTotal(doc: FindingsDocument): string {
  if (doc.timings.totalMs) return `<tr><th>total</th><th class="num">${doc.timings.totalMs.toFixed(0)}</th></tr>`;
  const sum = doc.timings.stages.reduce((a, t) => a + t.ms, 0);
  return `<tr><th>total before writing the outputs</th><th class="num">${sum.toFixed(0)}</th></tr>`;
}
