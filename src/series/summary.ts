import { basename } from 'node:path';
import type { SeriesEntry, SeriesProblem, SkippedFile, StudyIndex } from './types.js';

/** Plain-JSON view of one series (what `ctscope info --json` prints). No patient attributes. */
export interface SeriesSummary {
  id: string;
  seriesInstanceUid: string;
  studyInstanceUid: string;
  seriesNumber: number | null;
  modality: string;
  description: string | null;
  imageType: string[];
  sopClassUids: string[];
  rows: number;
  columns: number;
  /** Distinct slice positions (duplicates removed); 0 when the geometry is unknown. */
  slices: number;
  instances: number;
  frames: number;
  /** Voxel spacing i, j, k in mm (k: length of the mean slice step); null without geometry. */
  spacing: [number, number, number] | null;
  /** Median slice step along the image normal, mm. */
  sliceStep: number | null;
  tiltDeg: number | null;
  /** ImageOrientationPatient row then column direction; null without geometry. */
  orientation: number[] | null;
  transferSyntaxes: string[];
  problems: SeriesProblem[];
  eligible: boolean;
  primary: boolean;
  reason: string;
}

export interface StudySummary {
  series: SeriesSummary[];
  primary: string | null;
  rule: string;
  skipped: SkippedFile[];
  inputs: number;
}

const r4 = (x: number): number => Number(x.toFixed(4));

export function summarizeSeries(s: SeriesEntry): SeriesSummary {
  const l = s.layout;
  const d = l?.geometry.direction;
  return {
    id: s.id,
    seriesInstanceUid: s.seriesInstanceUid,
    studyInstanceUid: s.studyInstanceUid,
    seriesNumber: s.seriesNumber ?? null,
    modality: s.modality,
    description: s.description ?? null,
    imageType: s.imageType,
    sopClassUids: s.sopClassUids,
    rows: s.rows,
    columns: s.columns,
    slices: l?.slices.length ?? 0,
    instances: s.instances.length,
    frames: s.frameCount,
    spacing: l ? [r4(l.geometry.spacing[0]), r4(l.geometry.spacing[1]), r4(l.geometry.spacing[2])] : null,
    sliceStep: l ? r4(l.medianStep) : null,
    tiltDeg: l ? r4(l.tiltDeg) : null,
    orientation: d ? [d[0], d[3], d[6], d[1], d[4], d[7]].map((x) => r4(x)) : null,
    transferSyntaxes: s.transferSyntaxes,
    problems: l ? l.problems : [{ kind: 'no-geometry', message: s.layoutError ?? 'no slice geometry' }],
    eligible: l !== undefined && !s.verdicts.some((v) => v.severity === 'reject'),
    primary: s.primary,
    reason: s.reason,
  };
}

export function summarizeStudy(index: StudyIndex): StudySummary {
  return {
    series: index.series.map(summarizeSeries),
    primary: index.primaryId ?? null,
    rule: index.primaryReason,
    skipped: index.skipped,
    inputs: index.inputCount,
  };
}

/**
 * One line on the skipped inputs a user should hear of, or undefined. Non-DICOM files beside the images (a
 * truth.json, a README) and DICOM objects that are no images (an SR stored back into the study, a DICOMDIR) are
 * expected; what looked like DICOM, or what the input named itself (a buffer, a file given on its own), is not.
 * A slice file cut short is skipped here, before any series is laid out, so this line is where it shows.
 */
export function skippedInputsLine(skipped: readonly SkippedFile[]): string | undefined {
  const bad = skipped.filter((s) => !s.notImage && (s.code !== 'E_NOT_DICOM' || s.named));
  if (bad.length === 0) return undefined;
  // File names only (as `info` lists them), never header content.
  const names = bad.slice(0, 3).map((s) => `${basename(s.path)} (${s.code})`).join(', ');
  return `${bad.length} input(s) skipped (unreadable, not DICOM, not images or not decodable): ${names}${bad.length > 3 ? ', ...' : ''}`;
}
