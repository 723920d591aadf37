import type { FrocResult } from './froc.js';
import type { EvalReport } from './evaluate.js';

const pct = (v: number | null): string => (v === null ? '   -  ' : `${(100 * v).toFixed(1).padStart(5)}%`);
const range = (r: readonly [number, number]): string => `${r[0].toFixed(2)}-${r[1].toFixed(2)}`;
const fpLabel = (r: number): string => (r < 1 ? `1/${Math.round(1 / r)}` : String(r));

/** The FROC result of one lesion kind as a Markdown table block; `thresholdName` says whose threshold it is. */
export function frocTable(kind: string, r: FrocResult, thresholdName = 'the default threshold'): string {
  const lines: string[] = [];
  lines.push(`### ${kind}: ${r.scans} scans, ${r.truths} lesions, ${r.findings} findings`);
  lines.push('');
  lines.push(`| FP/scan | ${r.sensitivities.map((s) => fpLabel(s.fpPerScan)).join(' | ')} | CPM |`);
  lines.push(`|---|${r.sensitivities.map(() => '---').join('|')}|---|`);
  lines.push(`| sensitivity | ${r.sensitivities.map((s) => s.sensitivity.toFixed(3)).join(' | ')} | **${r.cpm.toFixed(3)}** |`);
  const ci = r.interval;
  if (ci) {
    lines.push(`| 95 % interval | ${ci.sensitivities.map(range).join(' | ')} | ${range(ci.cpm)} |`);
    lines.push('');
    lines.push(`Intervals: 2.5th-97.5th percentiles over ${ci.resamples} resamples of the ${r.scans} scans with replacement.`);
  }
  lines.push('');
  const t = r.atThreshold;
  lines.push(`At ${thresholdName} ${t.threshold}: sensitivity ${pct(t.sensitivity).trim()}, ${t.fpPerScan.toFixed(2)} false positives per scan` +
    ` (every finding kept: ${pct(r.maxSensitivity).trim()} at ${r.fpPerScanAtMax.toFixed(2)} FP/scan).`);
  lines.push('');
  lines.push('| group | lesions | found | sensitivity |');
  lines.push('|---|---|---|---|');
  for (const g of [...t.bySize, ...t.byType]) lines.push(`| ${g.name} | ${g.truths} | ${g.hits} | ${pct(g.sensitivity).trim()} |`);
  if (t.size) {
    lines.push('');
    lines.push(`Reported diameter of the ${t.size.lesions} lesions found: median error ${pct(t.size.medianAbsError).trim()} (signed ${(100 * t.size.medianError).toFixed(1)}%), ${pct(t.size.within25).trim()} within 25% of the true diameter.`);
  }
  return lines.join('\n');
}

/** Every kind of a report as text blocks: a FROC table each, or for scans without any lesion their false positives. */
export function reportBlocks(report: EvalReport, thresholdName = 'the default threshold'): string[] {
  return [
    ...Object.entries(report.kinds).map(([kind, r]) => frocTable(kind, r, thresholdName)),
    ...Object.entries(report.withoutLesions).map(([kind, r]) => `### ${kind}: ${r.scans} scans, no lesions: no sensitivity or CPM; ${r.fpPerScan.toFixed(2)} false positives per scan at ${thresholdName} ${r.threshold}`),
  ];
}
