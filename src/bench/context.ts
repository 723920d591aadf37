import type { EpRequest } from '../inference/providers.js';
import type { Baselines } from './harness.js';

/** What every stage suite gets: the in-run baselines and where its inputs live. */
export interface StageContext {
  baselines: Baselines;
  /** Smaller inputs and fewer rows (the CI subset). */
  quick: boolean;
  /** Generated inputs: bench/data (full) or bench/data-quick, made on first use and kept. */
  dataDir: string;
  /** Execution provider of the stages that run a model; rows name the provider that ran. */
  ep: EpRequest;
  /** GPU index for cuda/tensorrt/dml. */
  deviceId: number;
}
