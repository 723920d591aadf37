import type { DicomInstance } from '../dicom/types.js';
import { toCtscopeError } from '../errors.js';
import { classify } from './classify.js';
import { DEFAULT_GROUP, cmp, groupInstances, type GroupOptions } from './group.js';
import { DEFAULT_LAYOUT, layoutSlices, type LayoutOptions } from './layout.js';
import { PRIMARY_RULE, findSeries, rankCandidates } from './select.js';
import type { SeriesEntry, SkippedFile, StudyIndex } from './types.js';

export interface IndexOptions {
  /** Force this series (id or SeriesInstanceUID) as the primary one; E_SERIES_NOT_FOUND when absent. */
  seriesUid?: string | undefined;
  group?: GroupOptions;
  layout?: LayoutOptions;
}

/**
 * Builds the study index from parsed headers: groups and splits series, measures each one's slice
 * geometry, classifies it and picks the primary CT volume (see PRIMARY_RULE, or `seriesUid`).
 */
export function indexStudy(
  instances: readonly DicomInstance[],
  skipped: SkippedFile[],
  inputCount: number,
  options: IndexOptions = {},
): StudyIndex {
  const series = groupInstances(instances, options.group ?? DEFAULT_GROUP).map((g) => describe(g.id, g.instances, options.layout ?? DEFAULT_LAYOUT));

  let primary: SeriesEntry | undefined;
  let primaryReason: string;
  const ranked = rankCandidates(series);
  if (options.seriesUid !== undefined) {
    primary = findSeries(series, options.seriesUid);
    primary.reason = 'chosen by the user (series option)';
    primaryReason = primary.reason;
  } else if (ranked.length > 0) {
    primary = ranked[0]!;
    const l = primary.layout!;
    const demoted = primary.verdicts.filter((v) => v.severity === 'demote').map((v) => v.reason);
    primary.reason = `primary: ${l.slices.length} slice(s)${l.medianStep > 0 ? `, median step ${round(l.medianStep)} mm` : ''}, ranked first of ${ranked.length} eligible series${demoted.length ? ` (only candidates left: ${demoted.join('; ')})` : ''}`;
    primaryReason = `${PRIMARY_RULE}`;
  } else {
    primaryReason = series.length === 0 ? 'no DICOM images found' : 'no series qualifies as a CT volume';
  }
  for (const s of series) {
    if (s === primary) {
      s.primary = true;
      continue;
    }
    const rejects = s.verdicts.filter((v) => v.severity === 'reject').map((v) => v.reason);
    // Without a layout the geometry verdict is the layout's own error, said after the others (an MR series
    // is "not CT" first, not "no orientation").
    if (!s.layout) s.reason = `not primary: ${[...s.verdicts.filter((v) => v.severity === 'reject' && v.rule !== 'no-geometry').map((v) => v.reason), s.layoutError ?? 'no geometry'].join('; ')}`;
    else if (rejects.length) s.reason = `not primary: ${rejects.join('; ')}`;
    else {
      const demoted = s.verdicts.filter((v) => v.severity === 'demote').map((v) => v.reason);
      const lost = options.seriesUid !== undefined ? `eligible, but the user chose ${primary?.id}` : `eligible but ranked below ${primary?.id}`;
      s.reason = `not primary: ${lost}${demoted.length ? ` (${demoted.join('; ')})` : ''}`;
    }
  }
  series.sort((a, b) => Number(b.primary) - Number(a.primary) || (a.seriesNumber ?? Infinity) - (b.seriesNumber ?? Infinity) || cmp(a.id, b.id));
  return { series, primaryId: primary?.id, primaryReason, skipped, inputCount };
}

function describe(id: string, instances: DicomInstance[], layoutOptions: LayoutOptions): SeriesEntry {
  const first = instances[0]!;
  let layout: SeriesEntry['layout'];
  let layoutError: string | undefined;
  try {
    layout = layoutSlices(instances, layoutOptions);
  } catch (e) {
    layoutError = toCtscopeError(e, 'E_GEOMETRY').message;
  }
  const sopClassUids = unique(instances.map((i) => i.sopClassUid));
  const entry: SeriesEntry = {
    id,
    seriesInstanceUid: first.seriesInstanceUid,
    studyInstanceUid: first.studyInstanceUid,
    seriesNumber: first.seriesNumber,
    modality: first.modality,
    description: first.seriesDescription,
    imageType: first.imageType,
    sopClassUids,
    rows: first.rows,
    columns: first.columns,
    samplesPerPixel: first.samplesPerPixel,
    photometricInterpretation: first.photometricInterpretation,
    transferSyntaxes: unique(instances.map((i) => i.transferSyntaxUid)),
    instances,
    frameCount: instances.reduce((n, i) => n + Math.max(1, i.numberOfFrames), 0),
    layout,
    layoutError,
    verdicts: [],
    primary: false,
    reason: '',
  };
  entry.verdicts = classify({
    modality: entry.modality,
    imageType: entry.imageType,
    sopClassUids,
    samplesPerPixel: entry.samplesPerPixel,
    photometricInterpretation: entry.photometricInterpretation,
    sliceCount: layout?.slices.length ?? 0,
    hasGeometry: layout !== undefined && !layout.problems.some((p) => p.kind === 'no-geometry'),
  });
  return entry;
}

const unique = (xs: string[]): string[] => [...new Set(xs)].sort();
const round = (x: number): number => Number(x.toFixed(3));
