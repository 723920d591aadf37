import { CtscopeError } from '../errors.js';
import { definedOnly } from '../io/fill.js';
import { isEpRequest } from '../inference/providers.js';
import { OUTPUT_NAMES, type DetectOptions, type FilledDetectOptions } from './types.js';

export const DEFAULT_DETECT: Omit<FilledDetectOptions, 'models'> = {
  ep: 'auto',
  deviceId: 0,
  signal: undefined,
  onProgress: () => undefined,
  onLog: () => undefined,
  seriesUid: undefined,
  outDir: undefined,
  outputs: [...OUTPUT_NAMES],
  sr: false,
  threads: undefined,
  maxVoxels: undefined,
  sessionThreads: undefined,
  modelDirs: undefined,
  bodyMask: true,
  organMask: true,
};

/** Checks and fills detect options; bad values are E_USAGE. */
export function fillDetectOptions(options: DetectOptions): FilledDetectOptions {
  if (typeof options !== 'object' || options === null) throw new CtscopeError('E_USAGE', 'detect needs an options object naming its models, e.g. { models: [\'nodule\'] }');
  const raw = typeof options.models === 'string' ? options.models.split(',') : [...(options.models ?? [])];
  const models = raw.map((m) => m.trim()).filter(Boolean);
  if (models.length === 0) throw new CtscopeError('E_USAGE', 'detect needs at least one model (id or package folder)');
  const d = definedOnly(options);
  const o: FilledDetectOptions = {
    ...DEFAULT_DETECT,
    ...(d as Partial<FilledDetectOptions>),
    models,
    outputs: options.outputs ? [...options.outputs] : [...DEFAULT_DETECT.outputs],
    modelDirs: options.modelDirs ? [...options.modelDirs] : undefined,
  };
  // Plain-JS hosts get no type check: a wrong signal or callback would fail later as an uncoded TypeError.
  const sig = o.signal as { aborted?: unknown; addEventListener?: unknown } | undefined;
  if (sig !== undefined && (typeof sig.aborted !== 'boolean' || typeof sig.addEventListener !== 'function')) throw new CtscopeError('E_USAGE', 'signal must be an AbortSignal');
  for (const k of ['onProgress', 'onLog'] as const) if (typeof o[k] !== 'function') throw new CtscopeError('E_USAGE', `${k} must be a function`);
  if (o.maxVoxels !== undefined && !(Number.isInteger(o.maxVoxels) && o.maxVoxels > 0)) throw new CtscopeError('E_USAGE', `maxVoxels must be a positive integer (got ${String(o.maxVoxels)})`);
  if (!isEpRequest(o.ep)) throw new CtscopeError('E_USAGE', `unknown execution provider '${String(o.ep)}'`);
  if (!Number.isInteger(o.deviceId) || o.deviceId < 0) throw new CtscopeError('E_USAGE', `device id must be a non-negative integer (got ${String(o.deviceId)})`);
  for (const name of o.outputs) if (!OUTPUT_NAMES.includes(name)) throw new CtscopeError('E_USAGE', `unknown output '${String(name)}' (expected ${OUTPUT_NAMES.join(', ')})`);
  return o;
}
