import type { Verdict } from './types.js';

/** What the rules look at: a (sub-)series summary, before the primary choice. */
export interface ClassifyInput {
  modality: string;
  imageType: readonly string[];
  sopClassUids: readonly string[];
  samplesPerPixel: number;
  photometricInterpretation: string;
  /** Distinct slice positions (after duplicates are removed); 0 when the geometry is unknown. */
  sliceCount: number;
  hasGeometry: boolean;
}

interface Rule {
  rule: string;
  severity: Verdict['severity'];
  /** Returns the reason when the rule applies. */
  test(s: ClassifyInput): string | undefined;
}

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7';
const LOCALIZER_TYPES = ['LOCALIZER', 'SCOUT', 'SURVIEW', 'REF_SURVIEW', 'TOPOGRAM', 'SCANOGRAM'];

/**
 * Rules that keep a series from being the primary CT volume, in reporting order. `reject`: never
 * chosen automatically. `demote`: chosen only when no series without demotions exists.
 */
const RULES: readonly Rule[] = [
  {
    rule: 'not-ct',
    severity: 'reject',
    test: (s) => (s.modality !== 'CT' ? `modality ${s.modality || 'unknown'} is not CT` : undefined),
  },
  {
    rule: 'secondary-capture',
    severity: 'reject',
    test: (s) => (s.sopClassUids.some((u) => u.startsWith(SECONDARY_CAPTURE)) ? 'secondary capture (screenshot, not acquired CT)' : undefined),
  },
  {
    rule: 'colour',
    severity: 'reject',
    test: (s) =>
      s.samplesPerPixel !== 1 || !s.photometricInterpretation.startsWith('MONOCHROME')
        ? `colour image (${s.photometricInterpretation}, ${s.samplesPerPixel} samples per pixel)`
        : undefined,
  },
  {
    rule: 'localizer',
    severity: 'reject',
    test: (s) => {
      const hit = s.imageType.find((t) => LOCALIZER_TYPES.includes(t));
      return hit ? `localizer/scout (ImageType ${hit})` : undefined;
    },
  },
  {
    rule: 'no-geometry',
    severity: 'reject',
    test: (s) => (!s.hasGeometry ? 'slice geometry could not be measured' : undefined),
  },
  {
    rule: 'derived',
    severity: 'demote',
    test: (s) => (s.imageType[0] === 'DERIVED' ? `derived image (ImageType ${s.imageType.join('\\')}: reformat, MIP or post-processed)` : undefined),
  },
  {
    rule: 'single-image',
    severity: 'demote',
    test: (s) => (s.sliceCount === 1 ? 'single image, not a volume' : undefined),
  },
];

export function classify(s: ClassifyInput): Verdict[] {
  const out: Verdict[] = [];
  for (const r of RULES) {
    const reason = r.test(s);
    if (reason !== undefined) out.push({ rule: r.rule, severity: r.severity, reason });
  }
  return out;
}
