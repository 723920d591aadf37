import { CtscopeError } from '../errors.js';
import { checkUid, isUid, redactUrl } from './client.js';

/** A series (or a whole study) on a DICOMweb server. */
export interface DicomWebTarget {
  baseUrl: string;
  study: string;
  series: string | undefined;
}

/** True for inputs the CLI treats as DICOMweb: `dicomweb+<scheme>://...` (parseDicomWebUrl takes http(s) only). */
export function isDicomWebUrl(s: string): boolean {
  return /^dicomweb\+[a-z][a-z0-9+.-]*:\/\//i.test(s);
}

/**
 * Parses `dicomweb+http://host:port/dicom-web?study=UID&series=UID`, or the WADO-RS form
 * `dicomweb+http://host:port/dicom-web/studies/UID/series/UID`. `series` may be left out: the whole study
 * is retrieved and the primary CT series chosen as for a folder.
 */
export function parseDicomWebUrl(input: string): DicomWebTarget {
  if (!/^dicomweb\+https?:\/\//i.test(input)) throw new CtscopeError('E_USAGE', 'a DICOMweb input starts with dicomweb+http:// or dicomweb+https://');
  let u: URL;
  try {
    u = new URL(input.replace(/^dicomweb\+/i, ''));
  } catch {
    throw new CtscopeError('E_USAGE', `not a valid DICOMweb URL: ${redactUrl(input.replace(/^dicomweb\+/i, ''))}`);
  }
  // An empty series= would fetch the whole study, an empty study= nothing: both are typing slips, not requests.
  for (const key of ['study', 'series']) {
    if (u.searchParams.get(key)?.trim() === '') throw new CtscopeError('E_USAGE', `the DICOMweb URL's ${key}= is empty${key === 'series' ? ' (leave it out to fetch the whole study)' : ''}`);
  }
  let study = u.searchParams.get('study') ?? undefined;
  let series = u.searchParams.get('series') ?? undefined;
  // WADO-RS resource paths as a PACS shows them: .../studies/S, .../studies/S/series, .../studies/S/series/X,
  // .../studies/S/series/X/instances (the series); one instance alone is no volume.
  const m = /^(.*?)\/studies\/([^/]+)(?:\/series(?:\/([^/]+)(?:\/instances(?:\/([^/]+))?)?)?)?\/?$/.exec(u.pathname);
  let path = u.pathname;
  // With ?study= a path whose "studies" segment holds no UID is the service root's own path (/pacs/studies/dicom-web).
  if (m && (!study || isUid(decodePathUid(m[2]!)))) {
    if (m[4]) throw new CtscopeError('E_USAGE', 'the DICOMweb URL names one instance; ctscope analyses a series: .../studies/<StudyInstanceUID>/series/<SeriesInstanceUID>');
    const pathStudy = decodePathUid(m[2]!), pathSeries = m[3] ? decodePathUid(m[3]) : undefined;
    if ((study && study !== pathStudy) || (series && pathSeries && series !== pathSeries)) throw new CtscopeError('E_USAGE', 'the DICOMweb URL names two different studies or series, in its path and in its query');
    path = m[1]!;
    study = pathStudy;
    series ??= pathSeries;
  }
  if (!study) throw new CtscopeError('E_USAGE', 'the DICOMweb URL needs a study: ...?study=<StudyInstanceUID>[&series=<SeriesInstanceUID>]');
  // Checked here, before anything is said or fetched.
  checkUid(study, 'the DICOMweb URL\'s study');
  if (series !== undefined) checkUid(series, 'the DICOMweb URL\'s series');
  u.search = '';
  u.hash = '';
  u.pathname = path.replace(/\/+$/, '');
  return { baseUrl: u.toString().replace(/\/+$/, ''), study, series };
}

/** A UID from the URL's path; a broken %-escape is the user's typing, not an internal error. */
function decodePathUid(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new CtscopeError('E_USAGE', `the DICOMweb URL's path holds a broken %-escape: ${segment.slice(0, 80)}`);
  }
}
