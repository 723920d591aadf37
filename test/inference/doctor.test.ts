import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { doctorCommand } from '../../src/cli/doctor.js';
import type { DoctorReport } from '../../src/inference/doctor.js';
import { probeInChild } from '../../src/inference/providers.js';
import { CLI } from '../helpers/cli.js';

describe('ctscope doctor', () => {
  it('--json reports versions, provider probes, GPU libraries and workers', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined, isTTY: false, signal: new AbortController().signal };
    expect(await doctorCommand.run(['--json'], io)).toBe(0);
    const r = JSON.parse(out.join('\n')) as DoctorReport;
    expect(r.node).toBe(process.version);
    expect(r.onnxruntime.version).toMatch(/^1\.\d+\.\d+$/);
    expect(r.onnxruntime.backends.map((b) => b.name)).toContain('cpu');
    expect(r.packages['@cornerstonejs/codec-openjpeg']).toMatch(/^\d+\.\d+\.\d+/);
    expect(r.packages['dicom-parser']).toMatch(/^\d+\.\d+\.\d+/);
    // The native OpenJPEG binding: either its libopenjp2 version or why WebAssembly is used.
    expect(r.native.openjpeg.ok ? r.native.openjpeg.version : r.native.openjpeg.reason).toMatch(/^\d+\.\d+\.\d+$|not built|cannot load|CTSCOPE_NO_NATIVE/);
    expect(r.providers.map((p) => p.ep)).toEqual(['cpu', 'cuda', 'tensorrt', 'dml', 'webgpu', 'coreml']);
    expect(r.providers[0]).toEqual({ ep: 'cpu', ok: true });
    for (const p of r.providers.filter((x) => !x.ok)) expect(p.hint).toBeTruthy();
    expect(Object.keys(r.gpu.libraries)).toContain('libcudnn');
    expect(r.workers.pool).toBeGreaterThan(0);
    expect(r.workers.cores).toBeGreaterThan(0);
  });

  it('keeps the native warnings of GPU runtimes (Dawn, Vulkan) out of its output: providers are probed in a child', async () => {
    const r = execFileSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CTSCOPE_DEBUG: '' } });
    expect(r).toMatch(/^ {2}webgpu +(ok|unavailable)/m);
    const both = spawnSync(process.execPath, [CLI, 'doctor'], { encoding: 'utf8', env: { ...process.env, CTSCOPE_DEBUG: '' } });
    expect(both.stderr).not.toMatch(/Vulkan|BackendVk|\.cpp:\d+/);
  });

  it('a probe process that dies or hangs costs only the provider it was loading: the others are probed in a new one', async () => {
    // Killed by the timeout before any line: each provider in turn is named as the cause, and the loop ends.
    const dead = await probeInChild(['cpu', 'dml'], 30);
    expect(dead.map((a) => [a.ep, a.ok])).toEqual([['cpu', false], ['dml', false]]);
    for (const a of dead) expect(a.error).toMatch(/^the probe process ended with SIG\w+ while loading it$/);
    // Enough time: every provider's own result.
    const live = await probeInChild(['cpu', 'dml']);
    expect(live[0]).toEqual({ ep: 'cpu', ok: true });
    expect(live[1]!.error).not.toMatch(/probe process/);
  }, 60_000);

  it('rejects unknown options and a --device that is not a GPU index', async () => {
    const io = { out: () => undefined, err: () => undefined, isTTY: false, signal: new AbortController().signal };
    await expect(doctorCommand.run(['--jsn'], io)).rejects.toMatchObject({ code: 'E_USAGE' });
    for (const bad of [['--device', '-1'], ['--device', '1.5'], ['--device'], ['--device', '0', '--device', '1'], ['extra']])
      await expect(doctorCommand.run(bad, io), bad.join(' ')).rejects.toMatchObject({ code: 'E_USAGE' });
  });

  it('--device N probes the GPU providers on that GPU and says which', async () => {
    const out: string[] = [];
    const io = { out: (l: string) => out.push(l), err: () => undefined, isTTY: false, signal: new AbortController().signal };
    expect(await doctorCommand.run(['--json', '--device', '3'], io)).toBe(0);
    const r = JSON.parse(out.join('\n')) as DoctorReport;
    expect(r.deviceId).toBe(3);
    expect(r.providers[0]).toEqual({ ep: 'cpu', ok: true });
    out.length = 0;
    expect(await doctorCommand.run(['--device', '3'], io)).toBe(0);
    expect(out).toContain('execution providers (GPU 3):');
  }, 60_000);
});

/** The variables by which onnxruntime 1.30's telemetry client recognises a build server (strings in libonnxruntime). */
const CI_MARKERS = [
  'CI', 'TF_BUILD', 'GITHUB_ACTIONS', 'GITLAB_CI', 'CIRCLECI', 'TRAVIS', 'JENKINS_URL', 'CODEBUILD_BUILD_ID',
  'BUILDKITE', 'TEAMCITY_VERSION', 'APPVEYOR', 'BITBUCKET_BUILD_NUMBER',
];

describe('onnxruntime telemetry', () => {
  /** What a CLI run that creates sessions (doctor probes every provider) leaves in a fresh TMPDIR. */
  const leftovers = (telemetry: string | undefined): string[] => {
    const dir = mkdtempSync(join(tmpdir(), 'ctscope-telemetry-'));
    try {
      const env: NodeJS.ProcessEnv = { ...process.env, TMPDIR: dir };
      delete env.ORT_DISABLE_TELEMETRY;
      // onnxruntime's telemetry client stays off by itself on a build server (it looks for CI, GITHUB_ACTIONS,
      // JENKINS_URL and the like), which would make both runs below leave nothing; the child looks like a desk.
      for (const k of CI_MARKERS) delete env[k];
      if (telemetry !== undefined) env.ORT_DISABLE_TELEMETRY = telemetry;
      execFileSync(process.execPath, [CLI, 'doctor', '--json'], { env, stdio: ['ignore', 'ignore', 'ignore'] });
      return readdirSync(dir);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };

  it('is off unless the user turns it on: no mat-debug-<pid>.log or .ses is left in TMPDIR', () => {
    expect(leftovers(undefined)).toEqual([]);
    // The user's own choice stands (and shows what the opt-out prevents, with onnxruntime-node 1.30).
    expect(leftovers('0').join(' ')).toMatch(/mat-debug-\d+\.log/);
  }, 60_000);
});
