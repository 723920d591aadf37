import { CtscopeError } from '../errors.js';
import { cmp } from './group.js';
import type { SeriesEntry } from './types.js';

/**
 * The primary-series rule, applied to series not rejected by a classification rule:
 * 1. fewest demotions (derived images and single images only win when nothing else is left);
 * 2. most distinct slices;
 * 3. thinnest slice step (median step along the normal);
 * 4. lowest SeriesNumber;
 * 5. SeriesInstanceUID / id, so the choice never depends on file order.
 */
export const PRIMARY_RULE =
  'eligible CT series (not rejected as localizer, secondary capture, colour or non-CT) with the fewest demotions (derived, single image), then most slices, then thinnest slice step, then lowest series number';

export function rankCandidates(series: readonly SeriesEntry[]): SeriesEntry[] {
  const eligible = series.filter((s) => s.layout && !s.verdicts.some((v) => v.severity === 'reject'));
  const demotions = (s: SeriesEntry): number => s.verdicts.filter((v) => v.severity === 'demote').length;
  const step = (s: SeriesEntry): number => (s.layout!.medianStep > 0 ? s.layout!.medianStep : Infinity);
  return eligible.sort(
    (a, b) =>
      demotions(a) - demotions(b) ||
      b.layout!.slices.length - a.layout!.slices.length ||
      step(a) - step(b) ||
      (a.seriesNumber ?? Infinity) - (b.seriesNumber ?? Infinity) ||
      cmp(a.id, b.id),
  );
}

/** Finds the series the user asked for: an exact sub-series id, else the first sub-series of a UID. */
export function findSeries(series: readonly SeriesEntry[], wanted: string): SeriesEntry {
  const hit = series.find((s) => s.id === wanted) ?? series.find((s) => s.seriesInstanceUid === wanted);
  if (!hit) {
    const ids = series.map((s) => s.id).slice(0, 10).join(', ');
    throw new CtscopeError('E_SERIES_NOT_FOUND', `series ${wanted} not found (available: ${ids || 'none'})`);
  }
  return hit;
}
