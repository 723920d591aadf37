import type { DicomInstance } from '../dicom/types.js';

/** Instances of one (sub-)series before classification. */
export interface InstanceGroup {
  id: string;
  seriesInstanceUid: string;
  instances: DicomInstance[];
}

export interface GroupOptions {
  /** Largest difference of any ImageOrientationPatient component still counted as the same orientation. */
  orientationTolerance: number;
}

export const DEFAULT_GROUP: GroupOptions = { orientationTolerance: 1e-3 };

type Iop = [number, number, number, number, number, number];

/** What must be equal for two instances to share a volume. */
interface SplitKey {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  imageType: string;
  iop: Iop | undefined;
}

function keyOf(inst: DicomInstance): SplitKey {
  return {
    rows: inst.rows,
    columns: inst.columns,
    samplesPerPixel: inst.samplesPerPixel,
    // Values 1-3 (ORIGINAL/DERIVED, PRIMARY/SECONDARY, AXIAL/LOCALIZER); later ones are vendor detail.
    imageType: inst.imageType.slice(0, 3).join('\\'),
    iop: inst.frames[0]?.imageOrientationPatient,
  };
}

function sameKey(a: SplitKey, b: SplitKey, tol: number): boolean {
  if (a.rows !== b.rows || a.columns !== b.columns || a.samplesPerPixel !== b.samplesPerPixel || a.imageType !== b.imageType) return false;
  if (!a.iop || !b.iop) return a.iop === b.iop;
  for (let i = 0; i < 6; i++) if (Math.abs(a.iop[i]! - b.iop[i]!) > tol) return false;
  return true;
}

function keyText(k: SplitKey): string {
  return `${k.imageType}|${k.rows}x${k.columns}x${k.samplesPerPixel}|${k.iop ? k.iop.map((v) => v.toFixed(4)).join(',') : '-'}`;
}

/**
 * Groups instances by SeriesInstanceUID, then splits a series where orientation, matrix size,
 * samples per pixel or the first three ImageType values differ (a localizer or a reformat can share a UID with the volume).
 * The largest part keeps the plain UID as its id, the others get `<uid>.2`, `<uid>.3`... ordered by
 * size, then by their key text, so ids do not depend on file order.
 */
export function groupInstances(instances: readonly DicomInstance[], options: GroupOptions = DEFAULT_GROUP): InstanceGroup[] {
  const byUid = new Map<string, Array<{ key: SplitKey; members: DicomInstance[] }>>();
  for (const inst of instances) {
    const uid = inst.seriesInstanceUid || 'no-series-uid';
    let parts = byUid.get(uid);
    if (!parts) byUid.set(uid, (parts = []));
    const key = keyOf(inst);
    const part = parts.find((p) => sameKey(p.key, key, options.orientationTolerance));
    if (part) part.members.push(inst);
    else parts.push({ key, members: [inst] });
  }
  const out: InstanceGroup[] = [];
  for (const [uid, parts] of byUid) {
    parts.sort((a, b) => b.members.length - a.members.length || cmp(keyText(a.key), keyText(b.key)));
    parts.forEach((p, i) => {
      p.members.sort((a, b) => cmp(a.source, b.source));
      out.push({ id: i === 0 ? uid : `${uid}.${i + 1}`, seriesInstanceUid: uid, instances: p.members });
    });
  }
  return out;
}

export const cmp = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
