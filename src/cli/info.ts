import { pickSeries, scanStudy } from '../ingest/load.js';
import { summarizeStudy, type SeriesSummary } from '../series/summary.js';
import { parseCommandArgs, usageError, type CliIO, type Command } from './command.js';
import { stderrProgress } from './console.js';
import { oneLineSafe } from '../io/printable.js';

const OPTIONS = {
  json: { type: 'boolean' },
  series: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/** `ctscope info`: every series found, which one is the primary CT volume and why. */
export const infoCommand: Command = {
  name: 'info',
  summary: 'list the series in a folder/files, the primary CT volume and why',
  usage: `info <path...> [options]

  --json                  print the study summary as JSON on stdout
  --series UID            the series to use instead of the primary (sub-series id or SeriesInstanceUID)
  --quiet, -q             no progress

Every series found is listed with its size, spacing and why it is or is not the primary CT volume; files that
are not DICOM or are damaged are listed as skipped, with their error code. Exit status: 0 ok, 1 internal error, 2 usage, 3 nothing
readable, 4 the output cannot be written, 130 interrupted.`,
  async run(argv: string[], io: CliIO): Promise<number> {
    const { values, positionals } = parseCommandArgs('info', argv, OPTIONS);
    if (positionals.length === 0) throw usageError('info: missing <path> (a DICOM folder or files)');
    const view = stderrProgress(io, Boolean(values.quiet || values.json));
    const index = await scanStudy(positionals, { seriesUid: values.series, signal: io.signal, onProgress: view?.onProgress }).finally(() => view?.end());
    const summary = summarizeStudy(index);
    if (values.json) io.out(JSON.stringify(summary, null, 2));
    else for (const line of formatStudy(summary.series, summary.skipped, summary.rule)) io.out(line);
    // Nothing readable at all is bad input (exit 3), after the report says what was skipped.
    if (index.series.length === 0) pickSeries(index, undefined);
    return 0;
  },
};

function formatStudy(series: SeriesSummary[], skipped: Array<{ path: string; code: string; message: string }>, rule: string): string[] {
  const out: string[] = [];
  out.push(`${series.length} series; primary rule: ${rule}`);
  for (const s of series) {
    out.push('');
    out.push(`${s.primary ? '* ' : '  '}${s.id}${s.seriesNumber !== null ? ` (#${s.seriesNumber})` : ''} ${s.modality} "${s.description ?? ''}"`);
    const spacing = s.spacing ? s.spacing.map((x) => x.toFixed(4)).join(' x ') + ' mm' : 'unknown spacing';
    // A series that cannot be stacked (no positions) has no slice count: say so rather than "x 0".
    const size = s.slices > 0 ? `${s.columns} x ${s.rows} x ${s.slices}` : `${s.columns} x ${s.rows}, no slice stack`;
    out.push(`    ${size} (${s.instances} file(s), ${s.frames} frame(s)), ${spacing}${s.tiltDeg ? `, tilt ${s.tiltDeg} deg` : ''}`);
    out.push(`    ImageType ${s.imageType.join('\\') || '-'}; transfer syntax ${s.transferSyntaxes.join(', ')}`);
    out.push(`    ${s.reason}`);
    for (const p of s.problems) out.push(`    problem ${p.kind}: ${p.message}`);
  }
  if (skipped.length) {
    out.push('', `${skipped.length} file(s) skipped:`);
    for (const k of skipped) out.push(`  ${k.path}: ${k.code} ${k.message}`);
  }
  // Every line quotes files (names, descriptions): a line break or escape sequence in them is shown, not obeyed.
  return out.map(oneLineSafe);
}
