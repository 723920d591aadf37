/**
 * Organ regions on a model grid: where a model may look. A region skips sliding-window patches that hold none
 * of it and drops candidates whose centre lies outside it. When the organ is not found (a head CT through the
 * nodule model, a field of view that cuts the lungs away) the caller falls back to the body mask.
 */
import type { Volume } from '../volume/types.js';
import { cellAt, type CellMask } from './cells.js';
import { lungRegion } from './lungs.js';

export type Organ = 'lungs';
export const ORGANS: readonly Organ[] = ['lungs'];

export interface RegionSpec {
  organ: Organ;
  /** Concavities narrower than about twice this are closed (juxta-pleural lesions bulge into the organ). */
  closeMm: number;
  /** The closed organ is grown by this much before it gates anything. */
  marginMm: number;
}

export interface OrganRegion extends CellMask {
  organ: Organ;
  /** Whether the organ was found (enough volume); when not, `cells` is empty and must not gate anything. */
  found: boolean;
  /** Volume of the organ itself, before closing and margin. */
  volumeMl: number;
  /** Cells set after closing and margin (the gate). */
  gateMl: number;
}

/** The organ region as steps for runWithTurns (its one pass over the voxels takes a few hundred ms). */
export function* organRegion(volume: Volume, spec: RegionSpec): Generator<void, OrganRegion> {
  switch (spec.organ) {
    case 'lungs':
      return yield* lungRegion(volume, spec);
  }
}

export function insideRegion(region: OrganRegion, voxel: readonly [number, number, number]): boolean {
  return !region.found || cellAt(region, [voxel[0], voxel[1], voxel[2]]);
}
