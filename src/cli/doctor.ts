import type { Command } from './command.js';
import { parseCommandArgs, parseDeviceId } from './command.js';
import { PROVIDERS } from '../inference/providers.js';
import { doctorReport, type DoctorReport } from '../inference/doctor.js';

function text(r: DoctorReport): string[] {
  const lines = [
    `ctscope ${r.ctscope}, node ${r.node} on ${r.platform}-${r.arch}, ${r.cores} ${r.cores === 1 ? 'core' : 'cores'}${r.cpus > r.cores ? ` (CPU quota; ${r.cpus} CPUs)` : ''}`,
    `onnxruntime-node ${r.onnxruntime.version} (${r.onnxruntime.binDir})${r.onnxruntime.error ? `: does not load: ${r.onnxruntime.error}` : ''}`,
    'packages:',
    ...Object.entries(r.packages).map(([k, v]) => `  ${k.padEnd(40)} ${v ?? 'missing'}`),
    `native OpenJPEG: ${r.native.openjpeg.ok ? `libopenjp2 ${r.native.openjpeg.version} (JPEG 2000 decodes natively)` : `${r.native.openjpeg.reason} (JPEG 2000 decodes in WebAssembly${r.native.openjpeg.reason.startsWith('CTSCOPE_NO_NATIVE') ? '' : '; `npm run build:native` in the package folder builds it'})`}`,
    `execution providers${r.deviceId ? ` (GPU ${r.deviceId})` : ''}:`,
    ...r.providers.map((p) => `  ${p.ep.padEnd(9)} ${p.ok ? 'ok' : `unavailable: ${p.error}`}`),
    `gpu: nvidia-smi ${r.gpu.nvidiaSmi ?? 'not found'}`,
    ...Object.entries(r.gpu.libraries).map(([k, v]) => `  ${k.padEnd(34)} ${v.length ? v[0] + (v.length > 1 ? ` (+${v.length - 1})` : '') : 'not found'}`),
    `workers: pool ${r.workers.pool} threads; one inference session uses ${r.workers.sessionThreads} intra-op threads`,
  ];
  const missing = r.providers.filter((p) => !p.ok && p.ep !== 'cpu' && PROVIDERS[p.ep].platforms.includes(process.platform as NodeJS.Platform));
  if (missing.length) lines.push('hints:', ...missing.map((p) => `  ${p.ep}: ${p.hint}`));
  return lines;
}

export const doctorCommand: Command = {
  name: 'doctor',
  summary: 'check the runtime: Node, onnxruntime and codec versions, execution providers, GPU libraries, workers',
  usage: `doctor [--json] [--device N]

  --json       print the report as JSON
  --device N   GPU index the GPU providers are probed on (cuda, tensorrt, dml; default 0)`,
  async run(argv, io) {
    const { values } = parseCommandArgs('doctor', argv, { json: { type: 'boolean' }, device: { type: 'string' } }, false);
    const report = await doctorReport(parseDeviceId(values.device, 'doctor'));
    if (values.json) io.out(JSON.stringify(report, null, 2));
    else for (const l of text(report)) io.out(l);
    return 0;
  },
};
