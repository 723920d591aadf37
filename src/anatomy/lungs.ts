/**
 * Lung region from HU alone, on 4 mm cells: air-like cells that the air around the body cannot reach within
 * their axial slice, in components of lung size, closed and grown so that juxta-pleural and juxta-vascular
 * nodules (which bulge into the lung from its wall) stay inside.
 */
import type { Volume } from '../volume/types.js';
import { labelComponentsSteps } from '../postprocess/components.js';
import { cellCount, cellGrid, cellMeanBelow, cellMl, dilate, erode, fillHoles2d, fractionBelow, reachableFromBorder2d } from './cells.js';
import type { OrganRegion, RegionSpec } from './region.js';

/** Cell edge: lungs are tens of centimetres across, and 4 mm keeps a 1 mm chest grid under 1 M cells. */
const CELL_MM = 4;
/** Aerated lung is -950 to -700 HU; ground glass and vessels raise a cell's mean, so count voxels below -400. */
const AIRY_BELOW_HU = -400;
const AIR_FRACTION = 0.5;
/** Components below this, or below a twentieth of the largest, are bowel gas, sinuses or noise. */
const MIN_COMPONENT_ML = 20;
/**
 * Lung is denser than air (its air voxels, those below AIRY_BELOW_HU, average -950 to -700 HU; air is -1000, padding outside
 * the reconstruction circle lower still): enclosed air that is thinner (a phantom's hollow, a foam table's core) is
 * not lung, and neither is the air behind a stretch of the image's edge unless it is.
 */
const LUNG_MIN_HU = -960;
/** A field of view that cuts through a lung: air behind one stretch of the edge reaching this deep on average (area over the stretch's length). */
const CUT_LUNG_DEPTH_MM = 30;
/** Cells read per component to judge its density: its mean is known to a fraction of a HU from a few thousand. */
const DENSITY_SAMPLE = 2048;
/** Less than this in all is not a pair of lungs (a head CT; a few slices of lung base). */
const MIN_LUNGS_ML = 150;

export function* lungRegion(volume: Volume, spec: RegionSpec): Generator<void, OrganRegion> {
  const g = cellGrid(volume.geometry.dims, volume.geometry.spacing, CELL_MM);
  // The air around the body is found slice by slice, which needs axial k-slices (a model grid in LPS, RAS...).
  if (Math.abs(volume.geometry.direction[8]) < 0.9) return { ...g, cells: new Uint8Array(0), organ: 'lungs', found: false, volumeMl: 0, gateMl: 0 };
  const fullCellMl = (g.cellMm[0] * g.cellMm[1] * g.cellMm[2]) / 1000;
  const fraction = yield* fractionBelow(volume.data, g, AIRY_BELOW_HU);
  const n = cellCount(g);
  const air = new Uint8Array(n);
  for (let c = 0; c < n; c++) air[c] = fraction[c]! > AIR_FRACTION ? 1 : 0;
  // Where the field of view cuts through a lung, its air reaches the image's edge: it is kept by the cut-lung rule.
  const outside = yield* reachableFromBorder2d(air, g, { depthMm: CUT_LUNG_DEPTH_MM, meanHu: (c) => cellMeanBelow(volume.data, g, c, AIRY_BELOW_HU), minMeanHu: LUNG_MIN_HU });
  for (let c = 0; c < n; c++) if (outside[c]) air[c] = 0;
  yield;
  const { labels, sizes } = yield* labelComponentsSteps({ data: air, dims: g.cellDims }, { threshold: 1, connectivity: 6 });
  // Components large enough, and as dense as lung: each one's mean over its cells of their air voxels' mean, from
  // an even sample of at most DENSITY_SAMPLE cells (reading every cell of a pair of lungs made the region 1.1 x).
  const keep = sizes.map((s) => s * fullCellMl >= MIN_COMPONENT_ML);
  const huSum = new Float64Array(sizes.length);
  const seen = new Uint32Array(sizes.length), used = new Uint32Array(sizes.length);
  for (let c = 0; c < n; c++) {
    const l = labels[c]!;
    if (!l || !keep[l - 1] || seen[l - 1]!++ % Math.ceil(sizes[l - 1]! / DENSITY_SAMPLE) !== 0) continue;
    huSum[l - 1] += cellMeanBelow(volume.data, g, c, AIRY_BELOW_HU);
    used[l - 1]!++;
  }
  yield;
  for (let l = 0; l < sizes.length; l++) if (keep[l] && huSum[l]! / used[l]! < LUNG_MIN_HU) keep[l] = false;
  // Of those, the ones of at least a twentieth of the largest.
  const largest = sizes.reduce((a, s, l) => (keep[l] ? Math.max(a, s) : a), 0);
  for (let l = 0; l < sizes.length; l++) if (sizes[l]! < largest / 20) keep[l] = false;
  const lungs = new Uint8Array(n);
  let volumeMl = 0;
  for (let c = 0; c < n; c++) {
    const l = labels[c]!;
    if (l && keep[l - 1]) {
      lungs[c] = 1;
      volumeMl += cellMl(g, c);
    }
  }
  yield;
  if (volumeMl < MIN_LUNGS_ML) return { ...g, cells: new Uint8Array(0), organ: 'lungs', found: false, volumeMl, gateMl: 0 };
  // A mass inside the lung is a hole in its air, however large: fill what the lung encloses in each slice. Then a
  // closing (grow, then shrink back) fills the dents that lesions on the lung's wall make.
  const filled = yield* fillHoles2d(lungs, g);
  yield;
  const grown = yield* dilate(filled, g, spec.closeMm);
  const closed = yield* erode(grown, g, spec.closeMm);
  const cells = yield* dilate(closed, g, spec.marginMm);
  let gateMl = 0;
  for (let c = 0; c < n; c++) if (cells[c]) gateMl += cellMl(g, c);
  return { ...g, cells, organ: 'lungs', found: true, volumeMl, gateMl };
}
