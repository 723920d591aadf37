import { execFileSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';
import { availableParallelism } from 'node:os';
import { EP_NAMES, importOrt, onnxruntimeInfo, probeInChild, PROVIDERS, type EpName } from './providers.js';
import { poolSize } from '../workers/pool.js';
import { usableCores } from '../workers/cores.js';
import { nativeOpenJpegStatus } from '../dicom/codecs/native/openjpeg.js';
import { oneLineSafe } from '../io/printable.js';
import { version } from '../version.js';

/** What `ctscope doctor` finds about the machine, as `--json` prints it. */
export interface DoctorReport {
  ctscope: string;
  node: string;
  platform: string;
  arch: string;
  /** Cores ctscope sizes its pools and sessions to: `cpus` capped by a cgroup CPU quota. */
  cores: number;
  /** CPUs this process may run on (affinity). */
  cpus: number;
  /** `error`: onnxruntime's native library does not load (a corrupt install, a wrong glibc); every provider fails then. */
  onnxruntime: { version: string; binDir: string; backends: { name: string; bundled: boolean }[]; error?: string };
  packages: Record<string, string | null>;
  /** Optional native codecs built at install time; without them the WebAssembly builds decode. */
  native: { openjpeg: { ok: true; version: string } | { ok: false; reason: string } };
  /** GPU index the GPU providers were probed on (`--device`). */
  deviceId: number;
  providers: { ep: EpName; ok: boolean; error?: string; hint?: string }[];
  gpu: { nvidiaSmi: string | null; libraries: Record<string, string[]> };
  workers: { pool: number; cores: number; sessionThreads: number };
}

const PACKAGES = [
  'onnxruntime-node', '@cornerstonejs/codec-openjpeg', '@cornerstonejs/codec-charls', '@cornerstonejs/codec-libjpeg-turbo-8bit',
  '@cornerstonejs/codec-openjph', 'dcmjs-codecs', 'dicom-parser', 'dcmjs', 'sharp', 'piscina',
];
const GPU_LIBS = ['libcudart', 'libcublas', 'libcudnn', 'libnvinfer', 'libonnxruntime_providers_cuda', 'libonnxruntime_providers_tensorrt'];

const require = createRequire(import.meta.url);

/** Version from the package's own package.json, found along the resolution paths (exports maps may hide it). */
export function packageVersion(name: string): string | null {
  for (const dir of require.resolve.paths(name) ?? []) {
    const p = join(dir, name, 'package.json');
    if (existsSync(p)) return (JSON.parse(readFileSync(p, 'utf8')) as { version?: string }).version ?? null;
  }
  return null;
}

function onPath(exe: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(delimiter).filter(Boolean)) {
    const p = join(dir, exe);
    try {
      accessSync(p, constants.X_OK);
      return p;
    } catch {
      /* not here */
    }
  }
  return null;
}

/** GPU libraries the dynamic loader can see: the ldconfig cache plus LD_LIBRARY_PATH and the onnxruntime folder. */
export function findGpuLibraries(binDir: string): Record<string, string[]> {
  const found: Record<string, Set<string>> = Object.fromEntries(GPU_LIBS.map((l) => [l, new Set<string>()]));
  const add = (file: string, path: string): void => {
    for (const l of GPU_LIBS) if (file.startsWith(`${l}.`) || file.startsWith(`${l}_`) || file.startsWith(`${l}64`)) found[l]!.add(path);
  };
  if (process.platform === 'linux') {
    try {
      const text = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], timeout: 5_000 });
      for (const m of text.matchAll(/^\s*(\S+)\s.*=>\s*(\S+)$/gm)) add(m[1]!, m[2]!);
    } catch {
      /* no ldconfig: rely on the folders below */
    }
  }
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':'), ...(process.platform === 'win32' ? (process.env.PATH ?? '').split(';') : []), binDir].filter(Boolean);
  for (const dir of dirs) {
    try {
      for (const f of readdirSync(dir)) add(f, join(dir, f));
    } catch {
      /* unreadable folder */
    }
  }
  return Object.fromEntries(Object.entries(found).map(([k, v]) => [k, [...v].sort()]));
}

export async function doctorReport(deviceId = 0): Promise<DoctorReport> {
  const ort = onnxruntimeInfo();
  // Doctor is for the machine where onnxruntime does not load, too: say so and go on with the rest.
  let backends: DoctorReport['onnxruntime']['backends'] = [];
  let ortError: string | undefined;
  try {
    const { listSupportedBackends } = await importOrt();
    backends = listSupportedBackends().map((b) => ({ name: b.name, bundled: b.bundled }));
  } catch (e) {
    ortError = oneLineSafe((e as Error).message).slice(0, 300);
  }
  const attempts = await probeInChild(EP_NAMES, undefined, deviceId);
  const providers: DoctorReport['providers'] = EP_NAMES.map((ep) => {
    const a = attempts.find((x) => x.ep === ep) ?? { ep, ok: false, error: 'not probed' };
    return a.ok ? { ep, ok: true } : { ep, ok: false, error: a.error ?? 'failed', hint: PROVIDERS[ep].hint() };
  });
  const cores = usableCores();
  return {
    ctscope: version,
    node: process.version,
    platform: process.platform,
    arch: process.arch,
    cores,
    cpus: availableParallelism(),
    onnxruntime: { version: ort.version, binDir: ort.binDir, backends, ...(ortError ? { error: ortError } : {}) },
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(p)])),
    native: { openjpeg: nativeOpenJpegStatus() },
    deviceId,
    providers,
    gpu: { nvidiaSmi: onPath(process.platform === 'win32' ? 'nvidia-smi.exe' : 'nvidia-smi'), libraries: findGpuLibraries(ort.binDir) },
    // A lone session takes every core; each further session halves, thirds... the share (workers x threads <= cores).
    workers: { pool: poolSize(), cores, sessionThreads: Math.max(1, cores) },
  };
}
