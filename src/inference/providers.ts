import { createRequire } from 'node:module';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { CtscopeError } from '../errors.js';
import { raceAbort } from '../io/abort.js';

/**
 * Execution providers: one table row per `--ep` name with its onnxruntime-node config, the platforms it can
 * exist on, and how to get it when it is missing. Probing means creating a real (tiny) session with it.
 */
export type EpName = 'cpu' | 'cuda' | 'tensorrt' | 'dml' | 'webgpu' | 'coreml';
export type EpRequest = EpName | 'auto';

export const EP_NAMES: readonly EpName[] = ['cpu', 'cuda', 'tensorrt', 'dml', 'webgpu', 'coreml'];

/** What onnxruntime-node's `executionProviders` takes for one provider. */
export type EpConfig = string | { name: string; deviceId?: number };

/** What ctscope knows of an execution provider: where it exists, its session config, and a hint when it is missing. */
export interface ProviderSpec {
  platforms: readonly NodeJS.Platform[];
  config(deviceId: number): EpConfig;
  hint(): string;
}

const require = createRequire(import.meta.url);

/** onnxruntime-node's version and the folder of its native binary (where provider libraries must go). */
export function onnxruntimeInfo(): { version: string; binDir: string } {
  const pkgPath = require.resolve('onnxruntime-node/package.json');
  const version = (require(pkgPath) as { version: string }).version;
  return { version, binDir: `${dirname(pkgPath)}/bin/napi-v6/${process.platform}/${process.arch}` };
}

function cudaHint(): string {
  const { version, binDir } = onnxruntimeInfo();
  return `reinstall onnxruntime-node with its CUDA provider (\`ONNXRUNTIME_NODE_INSTALL=cuda12 npm install onnxruntime-node\`, needs network access to NuGet), ` +
    `or place libonnxruntime_providers_cuda.so and libonnxruntime_providers_shared.so built for onnxruntime ${version} exactly beside ${binDir}/libonnxruntime.so.1; ` +
    `the CUDA runtime and cuDNN 9 libraries must be on LD_LIBRARY_PATH`;
}

export const PROVIDERS: Readonly<Record<EpName, ProviderSpec>> = {
  cpu: { platforms: ['linux', 'darwin', 'win32'], config: () => 'cpu', hint: () => 'the CPU provider is part of onnxruntime-node; reinstall it' },
  // onnxruntime-node ships CUDA and TensorRT for Linux x64 only (its README's table; its install script has no
  // Windows binaries): on Windows, DirectML is the GPU route.
  cuda: { platforms: ['linux'], config: (deviceId) => ({ name: 'cuda', deviceId }), hint: cudaHint },
  tensorrt: {
    platforms: ['linux'],
    config: (deviceId) => ({ name: 'tensorrt', deviceId }),
    hint: () => `${cudaHint()}; TensorRT also needs libonnxruntime_providers_tensorrt and TensorRT 10 (libnvinfer) on the library path`,
  },
  dml: { platforms: ['win32'], config: (deviceId) => ({ name: 'dml', deviceId }), hint: () => 'DirectML is only available on Windows (DirectX 12 GPU), where onnxruntime-node bundles it' },
  webgpu: {
    platforms: ['linux', 'darwin', 'win32'],
    config: () => 'webgpu',
    hint: () => 'WebGPU needs a GPU driver with Vulkan (Linux: libvulkan1 and the vendor ICD), Metal (macOS) or D3D12 (Windows)',
  },
  coreml: { platforms: ['darwin'], config: () => ({ name: 'coreml' }), hint: () => 'CoreML is only available on macOS, where onnxruntime-node bundles it' },
};

/** Providers `auto` tries, best first; CPU always last. */
export const AUTO_ORDER: Readonly<Partial<Record<NodeJS.Platform, readonly EpName[]>>> = {
  linux: ['cuda', 'cpu'],
  win32: ['dml', 'cpu'],
  darwin: ['coreml', 'cpu'],
};

export function isEpRequest(s: string): s is EpRequest {
  return s === 'auto' || (EP_NAMES as readonly string[]).includes(s);
}

export function parseEpRequest(s: string): EpRequest {
  if (!isEpRequest(s)) throw new CtscopeError('E_USAGE', `--ep must be one of auto, ${EP_NAMES.join(', ')} (got '${s}')`);
  return s;
}

/** The providers to try, in order, for a request. */
export function candidatesFor(request: EpRequest, platform: NodeJS.Platform = process.platform): EpName[] {
  if (request === 'auto') return [...(AUTO_ORDER[platform] ?? ['cpu'])];
  return [request];
}

/** One failed attempt, with the reason reduced to one line. */
export interface EpAttempt {
  ep: EpName;
  ok: boolean;
  error?: string;
}

/** onnxruntime's messages carry source paths and log prefixes; keep the part a user can act on. */
export function shortReason(message: string): string {
  const line = message.split('\n').map((l) => l.trim()).find((l) => l.length > 0) ?? message;
  const m = /Failed to load (?:shared )?library[^:]*?(?::\s*(.*))?$/i.exec(line);
  if (/Failed to load shared library/i.test(line)) return 'provider library not found (libonnxruntime_providers_*.so missing or its CUDA/cuDNN dependencies not on the library path)';
  if (m) return `provider library could not be loaded${m[1] ? `: ${m[1]}` : ''}`;
  if (/backend not found/i.test(line)) return 'not built into onnxruntime-node on this platform';
  if (/No supported adapters|Failed to get a WebGPU adapter/i.test(line)) return 'no WebGPU adapter (no GPU driver with Vulkan/Metal/D3D12)';
  return line.replace(/^.*?\] /, '').slice(0, 300);
}

export function unavailableError(ep: EpName, reason: string): CtscopeError {
  const why = PROVIDERS[ep].platforms.includes(process.platform) ? reason : `not available on ${process.platform}`;
  return new CtscopeError('E_EP_UNAVAILABLE', `execution provider '${ep}' is unavailable: ${why}. Hint: ${PROVIDERS[ep].hint()}`, { where: `ep:${ep}` });
}

/** The one line `auto` prints: what it tried, why each failed, what it uses. */
export function describeAttempts(request: EpRequest, attempts: EpAttempt[]): string {
  const used = attempts.find((a) => a.ok)?.ep;
  const failed = attempts.filter((a) => !a.ok).map((a) => `${a.ep} (${a.error ?? 'failed'})`);
  const head = `execution provider ${request === 'auto' ? 'auto' : request}: using ${used ?? 'none'}`;
  return failed.length ? `${head}; tried ${failed.join(', ')}` : head;
}

/** A one-node graph (y = x + x, float32 [1]); creating a session with it proves a provider loads. */
export const PROBE_MODEL: Uint8Array = Buffer.from(
  'CAgSDWN0c2NvcGUtcHJvYmU6OQoOCgF4CgF4EgF5IgNBZGQSBXByb2JlWg8KAXgSCgoICAESBAoCCAFiDwoBeRIKCggIARIECgIIAUIECgAQDQ==',
  'base64',
);

const probeCache = new Map<string, Promise<EpAttempt>>();

/** Tries to create a tiny session on `ep` in this thread; cached per process. */
export function probeProvider(ep: EpName, deviceId = 0): Promise<EpAttempt> {
  const key = `${ep}:${deviceId}`;
  let p = probeCache.get(key);
  if (!p) {
    p = (async (): Promise<EpAttempt> => {
      if (!PROVIDERS[ep].platforms.includes(process.platform)) return { ep, ok: false, error: `not available on ${process.platform}` };
      const ort = await importOrt();
      try {
        const s = await ort.InferenceSession.create(PROBE_MODEL, { executionProviders: [PROVIDERS[ep].config(deviceId)], logSeverityLevel: 4 });
        await s.release();
        return { ep, ok: true };
      } catch (e) {
        return { ep, ok: false, error: shortReason((e as Error).message) };
      }
    })();
    probeCache.set(key, p);
  }
  return p;
}

/**
 * Every provider probed in a child process: GPU runtimes print their own native warnings on the process's
 * stderr (Dawn: "Couldn't load Vulkan ... at operator() (.../BackendVk.cpp:368)"), which only a separate process
 * can keep out of doctor's output (CTSCOPE_DEBUG shows them), and a provider that crashes natively while loading
 * takes down the child, not doctor. The child writes one line per provider as it goes: when it dies, the
 * providers it reported keep their results, the one it was probing is named as the cause, and a new child probes
 * the rest (a broken CUDA library had made every row, CPU's too, say "unavailable").
 */
export async function probeInChild(eps: readonly EpName[] = EP_NAMES, timeoutMs = 120_000, deviceId = 0): Promise<EpAttempt[]> {
  // The compiled module, from src/ (tests) as from dist/.
  const self = new URL('../../dist/inference/providers.js', import.meta.url).href;
  const out: EpAttempt[] = [];
  let rest = [...eps];
  while (rest.length) {
    const code = `const { probeProvider } = await import(${JSON.stringify(self)});
for (const ep of ${JSON.stringify(rest)}) process.stdout.write(JSON.stringify(await probeProvider(ep, ${deviceId})) + '\\n');`;
    const r = await new Promise<{ stdout: string; stderr: string; code: number | null; signal: string | null }>((resolve) => {
      execFile(process.execPath, ['--input-type=module', '-e', code], { maxBuffer: 1 << 20, timeout: timeoutMs }, (error: (Error & { code?: unknown; signal?: string | null }) | null, stdout: string, stderr: string) =>
        resolve({ stdout, stderr, code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, signal: error?.signal ?? null }),
      );
    });
    if (process.env.CTSCOPE_DEBUG && r.stderr) process.stderr.write(r.stderr);
    for (const line of r.stdout.split('\n')) {
      try {
        const a = JSON.parse(line) as EpAttempt;
        if (rest[0] === a.ep) {
          out.push(a);
          rest.shift();
        }
      } catch {
        /* a partial last line */
      }
    }
    if (rest.length === 0) break;
    const ep = rest.shift()!;
    out.push({ ep, ok: false, error: `the probe process ended with ${r.signal ?? `exit ${r.code}`} while loading it` });
  }
  return out;
}

/** Provider libraries onnxruntime loads from beside its own binary (the others are built into it). */
const PROVIDER_LIBRARIES: Partial<Record<EpName, string>> = {
  cuda: 'libonnxruntime_providers_cuda.so',
  tensorrt: 'libonnxruntime_providers_tensorrt.so',
};

const childProbes = new Map<string, Promise<EpAttempt>>();

/** probeInChild for one provider, once per process. */
function childProbe(ep: EpName, deviceId: number): Promise<EpAttempt> {
  const key = `${ep}:${deviceId}`;
  let p = childProbes.get(key);
  if (!p) {
    p = probeInChild([ep], 120_000, deviceId).then((r) => r[0]!);
    childProbes.set(key, p);
  }
  return p;
}

/** A child probe's failure that says nothing of the provider: the child could not run (exited with a code). */
const childCouldNotRun = (a: EpAttempt): boolean => !a.ok && /^the probe process ended with exit/.test(a.error ?? '');

/**
 * The providers `auto` may load in this process. One whose library sits beside onnxruntime's (a CUDA install) is
 * first loaded in a child process, once per process: a broken or mismatched build that crashes while loading
 * then costs the child, and `auto` goes on without it, instead of taking down a host that never asked for a GPU;
 * one that fails there is not tried again here. One whose library is absent fails cleanly in-process, so it costs
 * no child.
 */
export async function autoCandidates(candidates: readonly EpName[], deviceId: number): Promise<{ safe: EpName[]; failed: EpAttempt[] }> {
  const safe: EpName[] = [];
  const failed: EpAttempt[] = [];
  for (const ep of candidates) {
    const lib = PROVIDER_LIBRARIES[ep];
    const a = lib && existsSync(join(onnxruntimeInfo().binDir, lib)) ? await childProbe(ep, deviceId) : undefined;
    // A child that could not run the probe at all (a bundled build without dist/) says nothing of the provider.
    if (!a || a.ok || childCouldNotRun(a)) safe.push(ep);
    else failed.push(a);
  }
  return { safe, failed };
}

/**
 * onnxruntime 1.30 on Linux and macOS starts a telemetry client with every process that creates a session: it
 * tries to send usage and host details to Microsoft and leaves `mat-debug-<pid>.log` and `.ses` in the
 * temporary folder. A medical imaging host should not phone home, so ctscope opts out unless the user has set
 * ORT_DISABLE_TELEMETRY. onnxruntime reads the variable from the process environment when it first
 * initialises, so this runs when this module is first loaded on the main thread, before any session worker.
 */
function optOutOfOrtTelemetry(): void {
  if (process.env.ORT_DISABLE_TELEMETRY === undefined) process.env.ORT_DISABLE_TELEMETRY = '1';
}
optOutOfOrtTelemetry();

/**
 * Loads onnxruntime-node with its native logging turned down (failures still throw with their messages).
 * @internal Left out of the published typings: onnxruntime's own need the DOM lib, which a Node host may not have.
 */
export async function importOrt(): Promise<typeof import('onnxruntime-node')> {
  const ort = await import('onnxruntime-node');
  if (!process.env.CTSCOPE_DEBUG) ort.env.logLevel = 'fatal';
  return ort;
}

/**
 * Fails with E_EP_UNAVAILABLE (one line) before any work when an explicitly asked provider cannot load here. The
 * probe runs in a child process: GPU runtimes start synchronously (seconds for CUDA or TensorRT, which would hold
 * a host's event loop), and one that crashes takes the child, not the host.
 */
export async function checkProvider(ep: EpRequest, deviceId: number, signal?: AbortSignal): Promise<void> {
  if (ep === 'auto' || ep === 'cpu') return;
  if (!PROVIDERS[ep].platforms.includes(process.platform)) throw unavailableError(ep, `not available on ${process.platform}`);
  let attempt = await raceAbort(childProbe(ep, deviceId), signal, 'probing the execution provider');
  if (childCouldNotRun(attempt)) attempt = await probeProvider(ep, deviceId);
  if (!attempt.ok) throw unavailableError(ep, attempt.error ?? 'failed');
}
