import type { ModelInfo } from './document.js';

/** Where a model looked, for the summary and the report: inside the organ it found, or the whole body. */
export function regionNote(m: ModelInfo): string {
  if (!m.region) return '';
  return m.region.found ? `, looked inside the ${m.region.organ} (${m.region.volumeMl} mL found)` : `, no ${m.region.organ} found: looked at the whole body`;
}

/**
 * Where a finding is, as a reader finds it: the image's InstanceNumber (what a PACS viewer shows) and its place
 * in the stack, e.g. "image 83 (176/258)". Stack order and instance numbers often run opposite ways.
 */
export function imageLabel(f: { sliceIndex: number; instanceNumber?: number | undefined; frameNumber?: number | undefined }, slices: number): string {
  const place = `${f.sliceIndex + 1}/${slices}`;
  // The frames of a multi-frame image share its InstanceNumber: a viewer goes to the frame.
  const frame = f.frameNumber !== undefined && f.frameNumber > 1 ? `, frame ${f.frameNumber}` : '';
  return f.instanceNumber !== undefined ? `image ${f.instanceNumber}${frame} (${place})` : `slice ${place}`;
}
