import { describe, expect, it } from 'vitest';
import { doctorCommand, type DoctorReport } from '../../src/cli/doctor.js';

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

  it('rejects unknown options', async () => {
    const io = { out: () => undefined, err: () => undefined, isTTY: false, signal: new AbortController().signal };
    await expect(doctorCommand.run(['--jsn'], io)).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
