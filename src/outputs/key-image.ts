import { imageLabel } from './labels.js';
import type { ModelTask } from '../inference/manifest.js';
import type { FindingRecord } from './document.js';
import type { Geometry } from '../volume/types.js';

export interface DisplayWindow {
  name: string;
  center: number;
  width: number;
}

/** Display window per finding kind: lung for nodules, vessel for aneurysms, soft tissue otherwise. */
export const WINDOWS: Readonly<Record<ModelTask, DisplayWindow>> = {
  nodule: { name: 'lung', center: -600, width: 1500 },
  aneurysm: { name: 'vessel', center: 300, width: 800 },
  other: { name: 'soft tissue', center: 40, width: 400 },
};

/** Key images are scaled so their longer side is at least this many pixels (small series stay readable). */
const MIN_SIDE = 512;

/**
 * Where key images take the acquired slices from: the volume in memory, or a reader that decodes a slice again
 * (detect releases the volume once the model grids are made; see pipeline/slices.ts).
 */
export type KeyImageSource = { geometry: Geometry } & ({ data: Int16Array | Float32Array } | { readSlice: SliceReader });

/** Reads acquired slice k again, as HU. */
export type SliceReader = (k: number) => Promise<Int16Array | Float32Array>;

async function sliceOf(src: KeyImageSource, k: number): Promise<Int16Array | Float32Array> {
  if ('readSlice' in src) return src.readSlice(k);
  const plane = src.geometry.dims[0] * src.geometry.dims[1];
  return src.data.subarray(k * plane, (k + 1) * plane);
}

/** One slice's HU as 8-bit grey in a window (row j, column i, as the DICOM image shows it). */
export function windowSlice(slice: ArrayLike<number>, w: DisplayWindow): Uint8Array {
  const plane = slice.length;
  const out = new Uint8Array(plane);
  const lo = w.center - w.width / 2;
  const scale = 255 / w.width;
  for (let p = 0; p < plane; p++) {
    const v = (slice[p]! - lo) * scale;
    out[p] = v <= 0 ? 0 : v >= 255 ? 255 : v + 0.5;
  }
  return out;
}

/** Patient-direction letters of an LPS unit vector (DICOM convention: L/R, P/A, H/F), strongest first. */
export function orientationLabel(v: readonly number[]): string {
  const letters: Array<[number, string]> = [
    [v[0]!, v[0]! > 0 ? 'L' : 'R'],
    [v[1]!, v[1]! > 0 ? 'P' : 'A'],
    [v[2]!, v[2]! > 0 ? 'H' : 'F'],
  ];
  // Oblique axes get up to three letters; components under 0.25 (about 15 degrees) are left out.
  return letters
    .filter(([c]) => Math.abs(c) >= 0.25)
    .sort((a, b) => Math.abs(b[0]) - Math.abs(a[0]))
    .map(([, l]) => l)
    .join('');
}

/** Labels at the image's left, right, top and bottom edges, from the series' row and column directions. */
export function edgeLabels(direction: readonly number[]): { left: string; right: string; top: string; bottom: string } {
  const col = [direction[0]!, direction[3]!, direction[6]!]; // +i: towards the right edge
  const row = [direction[1]!, direction[4]!, direction[7]!]; // +j: towards the bottom edge
  const neg = (v: number[]): number[] => v.map((x) => -x);
  return { left: orientationLabel(neg(col)), right: orientationLabel(col), top: orientationLabel(neg(row)), bottom: orientationLabel(row) };
}

const svgText = (x: number, y: number, size: number, anchor: 'start' | 'middle' | 'end', text: string): string =>
  `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="${size}" font-weight="bold" text-anchor="${anchor}" fill="#ffffff" stroke="#000000" stroke-width="${(size / 12).toFixed(1)}" paint-order="stroke">${text}</text>`;

/**
 * PNG of the original slice nearest to a finding with a circle around it. The slice is the acquired image
 * the finding's SOP Instance UID names (axial for axial series), scaled to square pixels, shown as acquired
 * (not flipped into another convention) with the patient direction at each edge, so a reader can orient it.
 */
export async function keyImage(volume: KeyImageSource, f: FindingRecord): Promise<{ png: Buffer; width: number; height: number; window: DisplayWindow }> {
  const g = volume.geometry;
  const [nx, ny, nz] = g.dims;
  const k = Math.min(Math.max(f.sliceIndex, 0), nz - 1);
  const w = WINDOWS[f.kind];
  const grey = windowSlice(await sliceOf(volume, k), w);
  const mmW = nx * g.spacing[0], mmH = ny * g.spacing[1];
  const scale = Math.max(1, MIN_SIDE / Math.max(mmW, mmH));
  const width = Math.max(1, Math.round(mmW * scale)), height = Math.max(1, Math.round(mmH * scale));
  const sx = width / nx, sy = height / ny;
  const cx = (f.centerVoxel[0] + 0.5) * sx, cy = (f.centerVoxel[1] + 0.5) * sy;
  const r = Math.max(8, (f.diameterMm / 2) * scale + 6);
  const stroke = Math.max(2, Math.round(Math.min(width, height) / 256));
  const tick = r * 0.6;
  const edges = edgeLabels(g.direction);
  const font = Math.max(14, Math.round(Math.min(width, height) / 28));
  const pad = font * 0.5;
  // The image line sits one line above the bottom edge: on the bottom baseline it ran over the bottom label.
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">
${svgText(pad, height / 2 + font / 3, font, 'start', edges.left)}
${svgText(width - pad, height / 2 + font / 3, font, 'end', edges.right)}
${svgText(width / 2, pad + font * 0.8, font, 'middle', edges.top)}
${svgText(width / 2, height - pad, font, 'middle', edges.bottom)}
${svgText(pad, height - pad - font * 1.2, Math.round(font * 0.7), 'start', `${imageLabel({ sliceIndex: k, instanceNumber: f.instanceNumber, frameNumber: f.frameNumber }, nz)} ${w.name} ${w.center}/${w.width}`)}
<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="${r.toFixed(1)}" fill="none" stroke="#ffd200" stroke-width="${stroke}"/>
<path d="M${(cx - r - tick).toFixed(1)} ${cy.toFixed(1)}h${tick.toFixed(1)}M${(cx + r).toFixed(1)} ${cy.toFixed(1)}h${tick.toFixed(1)}M${cx.toFixed(1)} ${(cy - r - tick).toFixed(1)}v${tick.toFixed(1)}M${cx.toFixed(1)} ${(cy + r).toFixed(1)}v${tick.toFixed(1)}" stroke="#ffd200" stroke-width="${stroke}"/>
</svg>`;
  // Loaded on first use: importing ctscope should not load libvips into a host that makes no key images.
  const { default: sharp } = await import('sharp');
  const png = await sharp(Buffer.from(grey.buffer, grey.byteOffset, grey.byteLength), { raw: { width: nx, height: ny, channels: 1 } })
    .resize(width, height, { kernel: 'lanczos3', fit: 'fill' })
    .toColourspace('srgb')
    .composite([{ input: Buffer.from(svg), top: 0, left: 0 }])
    .png({ compressionLevel: 6 })
    .toBuffer();
  return { png, width, height, window: w };
}
