import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';
import { importOrt, shortReason } from './providers.js';
import type { SessionWorkerData, TensorData, ValueInfo, WorkerReply, WorkerRequest } from './tensor.js';

/**
 * Entry of a dedicated inference thread: one InferenceSession, created once and reused for every run.
 * session.run() blocks its thread in native code, so it lives here and the host's event loop stays free.
 */
// onnxruntime-common maps 'float16' to Float16Array where one exists (Node >= 24), and the native binding then
// reads those tensors as empty ("not enough space"). This thread is ours alone: keep float16 as Uint16Array bits.
delete (globalThis as { Float16Array?: unknown }).Float16Array;

const port = parentPort!;
const data = workerData as SessionWorkerData;
const post = (m: WorkerReply, transfer: ArrayBuffer[] = []): void => port.postMessage(m, transfer);

function info(meta: readonly InferenceSession.ValueMetadata[]): ValueInfo[] {
  return meta.map((m) => (m.isTensor ? { name: m.name, type: m.type, shape: [...m.shape] } : { name: m.name, type: 'non-tensor', shape: [] }));
}

async function start(): Promise<InferenceSession | undefined> {
  const ort = await importOrt();
  const attempts: { ep: string; ok: boolean; error?: string; providerLoads?: boolean }[] = [];
  for (const c of data.candidates) {
    const options: InferenceSession.SessionOptions = {
      executionProviders: [c.config as InferenceSession.ExecutionProviderConfig],
      intraOpNumThreads: data.intraOpNumThreads,
      interOpNumThreads: 1,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
      // Idle intra-op threads would spin between runs and starve the host thread that prepares the next batch.
      extra: { session: { intra_op: { allow_spinning: data.spin ? '1' : '0' } } },
    };
    try {
      const session = await ort.InferenceSession.create(data.bytes, options);
      attempts.push({ ep: c.ep, ok: true });
      post({ type: 'ready', attempts, inputs: info(session.inputMetadata), outputs: info(session.outputMetadata) });
      return session;
    } catch (e) {
      // Tell a missing provider apart from a model the provider cannot take.
      let providerLoads = false;
      try {
        const probe = await ort.InferenceSession.create(data.probeModel, { executionProviders: [c.config as InferenceSession.ExecutionProviderConfig], logSeverityLevel: 4 });
        await probe.release();
        providerLoads = true;
      } catch {
        providerLoads = false;
      }
      attempts.push({ ep: c.ep, ok: false, error: shortReason((e as Error).message), providerLoads });
    }
  }
  post({ type: 'failed', attempts });
  return undefined;
}

const ready = start();

/** Requests are handled one at a time, so each timing covers its own run only. */
let queue: Promise<void> = Promise.resolve();
/**
 * Cancels and a close are noted as they arrive, not in turn: the runs queued behind the one in progress are then
 * dropped, so an aborted caller or a closing host waits for one run at most. The run in progress always finishes:
 * ending the thread under it aborts the process.
 */
const cancelled = new Set<number>();
let closing = false;
/** Ids are handled in increasing order: a cancel for one at or below this came too late and is not kept. */
let handledUpTo = 0;

port.on('message', (m: WorkerRequest) => {
  if (m.type === 'cancel') {
    for (const id of m.ids) if (id > handledUpTo) cancelled.add(id);
    return;
  }
  if (m.type === 'close') closing = true;
  // A failed step must not stop the queue: a close behind it would never be handled and its caller would wait.
  queue = queue.then(() => handle(m)).catch(() => undefined);
});

async function handle(m: WorkerRequest): Promise<void> {
  const session = await ready;
  if (m.type === 'close') {
    try {
      await session?.release();
    } finally {
      port.close();
    }
    return;
  }
  if (m.type !== 'run' || !session) return;
  // session.run holds this thread in native code, so messages sent meanwhile wait in the port: one macrotask turn
  // lets them in (a cancel or close noted only after the next run had started let that run go ahead).
  await new Promise<void>((resolve) => setImmediate(resolve));
  handledUpTo = m.id;
  if (closing || cancelled.delete(m.id)) {
    post({ type: 'error', id: m.id, message: 'cancelled', cancelled: true });
    return;
  }
  const ort = await importOrt();
  try {
    const feeds: Record<string, OrtTensor> = {};
    for (const [name, t] of Object.entries(m.feeds)) feeds[name] = new ort.Tensor(t.type, t.data, t.dims);
    const t0 = performance.now();
    const result = await session.run(feeds);
    const runMs = performance.now() - t0;
    const outputs: Record<string, TensorData> = {};
    const transfer: ArrayBuffer[] = [];
    for (const [name, v] of Object.entries(result)) {
      const t = v as OrtTensor;
      // Integer side outputs (labels, counts) are not decoded; a missing needed output is reported by the caller.
      if (t.type !== 'float32' && t.type !== 'float16') continue;
      const arr = t.data as Float32Array | Uint16Array;
      outputs[name] = { type: t.type, data: arr, dims: [...t.dims] };
      if (arr.byteOffset === 0 && arr.byteLength === arr.buffer.byteLength) transfer.push(arr.buffer as ArrayBuffer);
    }
    try {
      post({ type: 'result', id: m.id, runMs, outputs }, transfer);
    } catch {
      // Buffers onnxruntime keeps (not transferable) are cloned instead.
      post({ type: 'result', id: m.id, runMs, outputs });
    }
  } catch (e) {
    post({ type: 'error', id: m.id, message: (e as Error).message });
  }
}
