import { oneLineSafe } from '../io/printable.js';
import { numberOption, parseCommandArgs, usageError, type Command } from './command.js';
import type { Vec3 } from '../volume/types.js';
import { PATIENT_POSITIONS, SYNTH_KINDS, type PatientPosition, type SynthKind, type SynthOptions } from '../synth/options.js';
import { synthToDirectory } from '../synth/synthesize.js';

const USAGE = `synth chest|cta --out DIR [--seed N] [options]

  --out, -o DIR            output folder (created; written atomically)
  --seed N                 seed (default 1): same seed and options give identical files
  --slices N               number of slices (default: drawn to cover the chest or head)
  --rows N, --cols N       image size (default 512 x 512; one of them alone gives a square image)
  --spacing X,Y,Z          voxel spacing in mm (one value sets all three; default drawn)
  --thickness MM           slice thickness, 0.05-20 (default drawn: 1-2 x the z spacing, at most 5)
  --noise HU               image noise sd (default drawn)
  --blur MM                in-plane kernel blur sigma (default drawn)
  --nodules N              chest: number of nodules (default drawn 0..4)
  --aneurysms N            cta: number of aneurysms (default drawn 0..3)
  --patient-position P     ${PATIENT_POSITIONS.join('|')} (default drawn)
  --bits 12|16             BitsStored (default drawn)
  --pixels signed|unsigned signed with intercept 0 or unsigned with intercept -1024 (default drawn)
  --syntax explicit-le     transfer syntax (only Explicit VR Little Endian is written)
  --no-truth               do not write truth.json
  --force                  replace DIR when it holds an earlier synth output (nothing else)
  --quiet, -q              no summary (warnings still go to stderr)`;

/** Range checks beyond these (slice counts, sizes, spacing) are the library's (synth/options.ts). */
const num = (name: string, text: string | undefined, integer: boolean): number | undefined => numberOption('synth', name, text, { integer });

/** `--spacing S` (isotropic) or `SX,SY,SZ`, in mm. */
function spacing(text: string | undefined): Vec3 | undefined {
  if (text === undefined) return undefined;
  const parts = text.split(',').map((p) => numberOption('synth', 'spacing', p, { positive: true })!);
  if (parts.length !== 1 && parts.length !== 3) throw usageError(`synth: --spacing needs S or SX,SY,SZ in mm (got '${text}')`);
  return parts.length === 1 ? [parts[0]!, parts[0]!, parts[0]!] : (parts as Vec3);
}

const SYNTH_OPTIONS = {
  out: { type: 'string', short: 'o' },
  seed: { type: 'string' },
  slices: { type: 'string' },
  rows: { type: 'string' },
  cols: { type: 'string' },
  spacing: { type: 'string' },
  thickness: { type: 'string' },
  noise: { type: 'string' },
  blur: { type: 'string' },
  nodules: { type: 'string' },
  aneurysms: { type: 'string' },
  'patient-position': { type: 'string' },
  bits: { type: 'string' },
  pixels: { type: 'string' },
  syntax: { type: 'string' },
  'no-truth': { type: 'boolean' },
  force: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

/** Maps argv onto SynthOptions (exported for tests). */
export function parseSynthArgs(argv: string[]): { kind: SynthKind; out: string; force: boolean; quiet: boolean; options: SynthOptions } {
  const { values: v, positionals } = parseCommandArgs('synth', argv, SYNTH_OPTIONS);
  if (positionals.length !== 1 || !SYNTH_KINDS.includes(positionals[0] as SynthKind)) {
    throw usageError(`synth: expected one phantom kind (${SYNTH_KINDS.join(' or ')}) but received '${positionals.join(' ')}'`);
  }
  const kind = positionals[0] as SynthKind;
  if (!v.out) throw usageError('synth: missing --out DIR');
  if (kind === 'chest' && v.aneurysms !== undefined) throw usageError('synth: --aneurysms applies to cta phantoms; use --nodules for chest');
  if (kind === 'cta' && v.nodules !== undefined) throw usageError('synth: --nodules applies to chest phantoms; use --aneurysms for cta');
  const position = v['patient-position']?.toUpperCase();
  if (position !== undefined && !PATIENT_POSITIONS.includes(position as PatientPosition)) {
    throw usageError(`synth: expected --patient-position ${PATIENT_POSITIONS.join('|')} but received '${v['patient-position']}'`);
  }
  const bits = num('bits', v.bits, true);
  if (bits !== undefined && bits !== 12 && bits !== 16) throw usageError(`synth: expected --bits 12 or 16 but received '${v.bits}'`);
  if (v.pixels !== undefined && v.pixels !== 'signed' && v.pixels !== 'unsigned') throw usageError(`synth: expected --pixels signed or unsigned but received '${v.pixels}'`);
  if (v.syntax !== undefined && v.syntax !== 'explicit-le') throw usageError(`synth: expected --syntax explicit-le but received '${v.syntax}' (compress afterwards with an external tool)`);
  const options: SynthOptions = {};
  const set = <K extends keyof SynthOptions>(k: K, value: SynthOptions[K] | undefined): void => {
    if (value !== undefined) options[k] = value;
  };
  set('seed', num('seed', v.seed, true));
  set('slices', num('slices', v.slices, true));
  set('rows', num('rows', v.rows, true));
  set('cols', num('cols', v.cols, true));
  set('spacing', spacing(v.spacing));
  set('thickness', num('thickness', v.thickness, false));
  set('noise', num('noise', v.noise, false));
  set('blur', num('blur', v.blur, false));
  set('lesions', num(kind === 'chest' ? 'nodules' : 'aneurysms', kind === 'chest' ? v.nodules : v.aneurysms, true));
  set('patientPosition', position as PatientPosition | undefined);
  set('bits', bits as 12 | 16 | undefined);
  set('signed', v.pixels === undefined ? undefined : v.pixels === 'signed');
  set('syntax', v.syntax as 'explicit-le' | undefined);
  if (v['no-truth']) options.truth = false;
  return { kind, out: v.out, force: Boolean(v.force), quiet: Boolean(v.quiet), options };
}

const fmt = (p: readonly number[]): string => p.map((x) => x.toFixed(1)).join(', ');

export const synthCommand: Command = {
  name: 'synth',
  summary: 'generate a synthetic chest CT or head CTA phantom series (DICOM + truth.json)',
  usage: USAGE,
  async run(argv, io) {
    const { kind, out, force, quiet, options } = parseSynthArgs(argv);
    const t0 = performance.now();
    const r = await synthToDirectory(kind, options, out, { force, signal: io.signal });
    const o = r.options;
    const s = o.spacing;
    const what = kind === 'chest' ? 'nodule' : 'aneurysm';
    // Asked for or drawn, but no room found (a few slices; more aneurysms than the named sites): said, not silent.
    if (r.truth.findings.length < o.lesions)
      io.err(`warning: ${o.lesions} ${what}s ${options.lesions !== undefined ? 'asked for' : 'drawn from the seed'}, ${r.truth.findings.length} planted: no room for the others in this field of view${kind === 'cta' ? ' or no free aneurysm site left' : ''}`);
    if (quiet) return 0;
    io.out(
      `wrote ${o.slices} slices ${o.cols}x${o.rows} (${s[0]}x${s[1]}x${s[2]} mm, ${o.patientPosition}, ${o.bits}-bit ${o.signed ? 'signed' : 'unsigned'}) to ${oneLineSafe(out)} in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    io.out(`${r.truth.findings.length} ${what}${r.truth.findings.length === 1 ? '' : 's'}, ${r.truth.hardNegatives.length} hard negatives${o.truth ? ' (truth.json)' : ''}`);
    for (const f of r.truth.findings) io.out(`  ${f.diameterMm.toFixed(1)} mm ${f.type} ${f.location} ${f.shape} at LPS (${fmt(f.centerLps)}) ${f.site}`);
    return 0;
  },
};
