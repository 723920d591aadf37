import { basename } from 'node:path';
import { oneLineSafe, printable } from '../io/printable.js';
import type { FindingsDocument } from '../outputs/document.js';
import { imageLabel, regionNote } from '../outputs/labels.js';
import type { DetectProgress } from '../pipeline/types.js';
import type { CliIO } from './command.js';

const VERBS: Record<DetectProgress['stage'], string> = {
  scan: 'scanning files',
  index: 'reading headers',
  decode: 'decoding slices',
  resample: 'resampling',
  infer: 'running model',
  outputs: 'writing outputs',
};

export interface ProgressSink {
  /** Writes raw text (no newline added). */
  write: (text: string) => void;
  isTTY: boolean;
  /** Terminal width for the bar (default 80). */
  columns?: number;
}

export interface ProgressView {
  onProgress: (p: DetectProgress) => void;
  /** A message line; on a terminal it goes above the bar, which is drawn again below it. */
  log: (line: string) => void;
  end: () => void;
}

/**
 * Progress per stage: on a terminal one bar line redrawn with \r (a new line per stage), otherwise one
 * plain line when a stage starts and one when it ends (logs stay readable).
 */
export function progressView(sink: ProgressSink): ProgressView {
  let current = '';
  let lastDraw = 0;
  let last: DetectProgress | undefined;
  const said = new Set<string>();
  const name = (p: DetectProgress): string => `${VERBS[p.stage]}${p.model ? ` (${p.model})` : ''}`;
  if (!sink.isTTY) {
    return {
      // A log call is one line: a line break in it (a UID or file name from a header) must not fake another.
      log: (line) => sink.write(`${oneLineSafe(line)}\n`),
      onProgress: (p) => {
        const key = `${p.stage}:${p.model ?? ''}:${p.done === 0 ? 'start' : p.done >= p.total ? 'end' : ''}`;
        if (key.endsWith(':') || said.has(key)) return;
        said.add(key);
        sink.write(p.done === 0 ? `${name(p)}${p.total > 1 ? ` (${p.total})` : ''}...\n` : `${name(p)}: done${p.total > 1 ? ` (${p.done}${p.stage === 'infer' ? ' patches' : ''})` : ''}\n`);
      },
      end: () => undefined,
    };
  }
  const draw = (p: DetectProgress, force: boolean): void => {
    const now = performance.now();
    if (!force && now - lastDraw < 50) return;
    lastDraw = now;
    const width = Math.max(10, Math.min(40, (sink.columns ?? 80) - 50));
    const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
    const filled = Math.round(frac * width);
    const label = name(p).padEnd(28).slice(0, 28);
    const count = p.total > 1 ? ` ${p.done}/${p.total}` : p.done >= p.total && p.total > 0 ? ' done' : '';
    sink.write(`\r${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round(frac * 100)).padStart(3)}%${count}\x1b[K`);
  };
  return {
    log: (line) => {
      sink.write(current ? `\r\x1b[K${oneLineSafe(line)}\n` : `${oneLineSafe(line)}\n`);
      if (current && last) draw(last, true);
    },
    onProgress: (p) => {
      last = p;
      const key = `${p.stage}:${p.model ?? ''}`;
      if (key !== current) {
        if (current) sink.write('\n');
        current = key;
        draw(p, true);
        return;
      }
      draw(p, p.done >= p.total);
    },
    end: () => {
      if (current) sink.write('\n');
      current = '';
    },
  };
}

/** Progress on stderr for a command (bars on a terminal, plain lines otherwise), or none with --quiet. */
export function stderrProgress(io: CliIO, quiet: boolean): ProgressView | undefined {
  return quiet ? undefined : progressView({ write: (t) => process.stderr.write(t), isTTY: io.isTTY, columns: process.stderr.columns });
}

/** The end-of-run summary: one row per finding plus series, models and timings, and the files `written`. */
export function summaryTable(doc: FindingsDocument, outDir: string | undefined, written: readonly string[] = []): string[] {
  const lines: string[] = [];
  const s = doc.series;
  lines.push(`series ${oneLineSafe(s.id)}: ${s.dims.join(' x ')} at ${s.spacing.map((x) => x.toFixed(3)).join(' x ')} mm`);
  for (const m of doc.models) lines.push(`model ${m.id} ${m.version} (${m.task}) on ${m.provider}: ${doc.findings.filter((f) => f.model === m.id).length} finding(s)${regionNote(m)}`);
  if (doc.findings.length) {
    const head = ['#', 'model', 'finding', 'score', 'centre LPS (mm)', 'image (slice)', 'diam mm', 'vol mm3'];
    const rows = doc.findings.map((f) => [
      String(f.n),
      f.model,
      f.label,
      f.score.toFixed(3),
      f.centerLps.map((x) => x.toFixed(1)).join(', '),
      imageLabel(f, s.dims[2]),
      f.diameterMm.toFixed(1),
      f.volumeMm3.toFixed(0),
    ]);
    const widths = head.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
    const fmt = (r: string[]): string => r.map((x, c) => (c === 0 || c >= 3 ? x.padStart(widths[c]!) : x.padEnd(widths[c]!))).join('  ').trimEnd();
    lines.push('', fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt));
  } else lines.push('', 'no findings above the models\' thresholds');
  lines.push('', `timings: ${doc.timings.stages.map((t) => `${t.stage}${t.model ? `(${t.model})` : ''} ${t.ms.toFixed(0)} ms`).join(', ')}; total ${doc.timings.totalMs.toFixed(0)} ms`);
  for (const w of doc.warnings) lines.push(`warning: ${oneLineSafe(w)}`);
  if (outDir) {
    // `written`: the paths detect returned (findings.json is among them only when it was asked for).
    const names = written.map((p) => basename(p));
    const keys = names.filter((f) => /^key-\d+\.png$/.test(f)).length;
    const named = names.filter((f) => !/^key-\d+\.png$/.test(f)).sort((a, b) => Number(b === 'findings.json') - Number(a === 'findings.json'));
    lines.push(`wrote ${named.length + keys} file(s) to ${oneLineSafe(outDir)}: ${named.join(', ')}${keys ? `, ${keys} key image(s) key-<n>.png` : ''}`);
  }
  return lines;
}
