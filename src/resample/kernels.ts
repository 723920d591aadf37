/**
 * Interpolation kernels, looked up by name. Each one says how many taps it needs and where the first tap
 * sits relative to a continuous source index x; the weights then come from `weight(x - m)`.
 */
export type InterpName = 'nearest' | 'linear' | 'cubic' | 'lanczos3';

export interface Kernel {
  name: InterpName;
  /** Number of source samples per output sample along one axis. */
  taps: number;
  /** Index of the first tap for continuous position x. */
  first(x: number): number;
  /** Weight of the sample at distance d = x - m. */
  weight(d: number): number;
  /** Whether the weights must be renormalised to sum to 1 (windowed sinc does not by itself). */
  normalise: boolean;
}

/** Keys' cubic convolution with a = -0.5 (Catmull-Rom): interpolating, reproduces quadratics, no prefilter. */
function keys(d: number): number {
  const t = Math.abs(d);
  if (t < 1) return (1.5 * t - 2.5) * t * t + 1;
  if (t < 2) return ((-0.5 * t + 2.5) * t - 4) * t + 2;
  return 0;
}

function lanczos3(d: number): number {
  if (d === 0) return 1;
  const t = Math.abs(d);
  if (t >= 3) return 0;
  const p = Math.PI * d;
  return (3 * Math.sin(p) * Math.sin(p / 3)) / (p * p);
}

export const KERNELS: Readonly<Record<InterpName, Kernel>> = Object.freeze({
  nearest: { name: 'nearest', taps: 1, first: (x: number) => Math.floor(x + 0.5), weight: () => 1, normalise: false },
  linear: { name: 'linear', taps: 2, first: (x: number) => Math.floor(x), weight: (d: number) => 1 - Math.abs(d), normalise: false },
  cubic: { name: 'cubic', taps: 4, first: (x: number) => Math.floor(x) - 1, weight: keys, normalise: false },
  lanczos3: { name: 'lanczos3', taps: 6, first: (x: number) => Math.floor(x) - 2, weight: lanczos3, normalise: true },
});

export const INTERP_NAMES = Object.keys(KERNELS) as InterpName[];

export function isInterpName(s: string): s is InterpName {
  return Object.prototype.hasOwnProperty.call(KERNELS, s);
}
