/**
 * Worker entry for the shared piscina pool: named exports only, each a thin adapter over a pure
 * function of a stage module (see pool.ts). Add one line per task.
 */
export {};
export { resampleSlabTask } from '../resample/task.js';
export { preprocessTask } from '../resample/task.js';
export { decodeSlicesTask } from '../dicom/decode-task.js';
export { srBytesTask } from '../outputs/sr-task.js';
export { readyTask } from './ready.js';
