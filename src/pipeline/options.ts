import { CtscopeError } from '../errors.js';
import { checkOptions, is, type OptionRule } from '../io/options-check.js';
import { MAX_THREADS } from '../workers/pool.js';
import { isEpRequest } from '../inference/providers.js';
import { type DetectOptions, type FilledDetectOptions } from './types.js';
import { OUTPUT_NAMES, type OutputName } from '../outputs/document.js';

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
  scoreFloor: undefined,
};

const DETECT_RULES: Readonly<Record<keyof DetectOptions, OptionRule>> = {
  models: is.either(is.string, is.strings),
  ep: is.where('an execution provider name', (v) => typeof v === 'string' && isEpRequest(v)),
  deviceId: is.integer(0),
  signal: is.signal,
  onProgress: is.function,
  onLog: is.function,
  seriesUid: is.string,
  // '' would write into the host's working folder: an unset config value, not a choice.
  outDir: is.nonEmptyString,
  outputs: is.where(`a non-empty list of ${OUTPUT_NAMES.join(', ')}`, (v) => Array.isArray(v) && v.length > 0 && v.every((x) => OUTPUT_NAMES.includes(x as OutputName))),
  sr: is.boolean,
  threads: is.integer(1, MAX_THREADS),
  maxVoxels: is.integer(1),
  sessionThreads: is.integer(1, MAX_THREADS),
  modelDirs: is.strings,
  bodyMask: is.boolean,
  organMask: is.boolean,
  scoreFloor: is.where('a score from 0 to 1', (v) => typeof v === 'number' && v >= 0 && v <= 1),
};

/** Checks and fills detect options; bad values and unknown keys are E_USAGE. */
export function fillDetectOptions(options: DetectOptions): FilledDetectOptions {
  if (options === undefined || options === null) throw new CtscopeError('E_USAGE', 'detect needs an options object naming its models, e.g. { models: [\'nodule\'] }');
  const d = checkOptions<DetectOptions>('detect', options, DETECT_RULES);
  const raw = typeof d.models === 'string' ? d.models.split(',') : [...(d.models ?? [])];
  const models = raw.map((m) => m.trim()).filter(Boolean);
  if (models.length === 0) throw new CtscopeError('E_USAGE', 'detect needs at least one model (id or package folder)');
  return {
    ...DEFAULT_DETECT,
    ...(d as Partial<FilledDetectOptions>),
    models,
    outputs: d.outputs ? [...d.outputs] : [...DEFAULT_DETECT.outputs],
    modelDirs: d.modelDirs ? [...d.modelDirs] : undefined,
  };
}
