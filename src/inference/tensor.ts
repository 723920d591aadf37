/** A tensor as it crosses the worker boundary: plain typed array + dims, no onnxruntime objects. */
export type TensorType = 'float32' | 'float16';

export interface TensorData {
  type: TensorType;
  /** float16 values are IEEE binary16 bit patterns. */
  data: Float32Array | Uint16Array;
  dims: number[];
}

export interface ValueInfo {
  name: string;
  type: string;
  /** Fixed sizes as numbers, symbolic ones as their names. */
  shape: (number | string)[];
}

/** Messages main -> session worker. */
export type WorkerRequest =
  | { type: 'run'; id: number; feeds: Record<string, TensorData> }
  /** Runs the caller no longer wants (aborted): dropped if not yet started. */
  | { type: 'cancel'; ids: number[] }
  | { type: 'close' };

/** Messages session worker -> main. */
export type WorkerReply =
  | { type: 'ready'; attempts: { ep: string; ok: boolean; error?: string; providerLoads?: boolean }[]; inputs: ValueInfo[]; outputs: ValueInfo[] }
  | { type: 'failed'; attempts: { ep: string; ok: boolean; error?: string; providerLoads?: boolean }[] }
  | { type: 'result'; id: number; runMs: number; outputs: Record<string, TensorData> }
  | { type: 'error'; id: number; message: string; cancelled?: boolean };

export interface SessionWorkerData {
  bytes: Uint8Array;
  candidates: { ep: string; config: string | { name: string; deviceId?: number } }[];
  intraOpNumThreads: number;
  /** Let idle intra-op threads spin (lower latency, more CPU). */
  spin: boolean;
  probeModel: Uint8Array;
}
