import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { niftiValue, readNifti } from '../../src/volume/nifti.js';
import { oneLineSafe } from '../../src/io/printable.js';
import { hasSharedData, sharedPath } from '../helpers/shared-data.js';
import { dicomParser } from '../../src/dicom/dicom-parser.js';
import { fixturePackage } from '../pipeline/helpers.js';

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function ctscope(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { maxBuffer: 64 << 20, env: { ...process.env, CTSCOPE_THREADS: '2' } }, (err, stdout, stderr) => {
      const code = err ? ((err as { code?: unknown }).code as number) : 0;
      resolve({ code: typeof code === 'number' ? code : 1, stdout, stderr });
    });
  });
}

let dir: string;
beforeAll(async () => {
  if (!existsSync(CLI)) throw new Error('dist/cli.js missing: run `npx tsc -p .` before the CLI tests');
  dir = await mkdtemp(join(tmpdir(), 'ctscope-cli-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The documented shape of `ctscope info --json`. */
const INFO_SCHEMA = {
  type: 'object',
  required: ['series', 'skipped'],
  properties: {
    series: {
      type: 'array',
      items: {
        type: 'object',
        required: ['seriesInstanceUid', 'studyInstanceUid', 'modality', 'description', 'rows', 'columns', 'slices', 'spacing', 'tiltDeg', 'transferSyntaxes', 'problems', 'primary', 'reason'],
        properties: {
          seriesInstanceUid: { type: 'string', pattern: '^[0-9.]+$' },
          studyInstanceUid: { type: 'string' },
          modality: { type: 'string' },
          description: { type: ['string', 'null'] },
          rows: { type: 'integer', minimum: 1 },
          columns: { type: 'integer', minimum: 1 },
          slices: { type: 'integer', minimum: 0 },
          spacing: { anyOf: [{ type: 'null' }, { type: 'array', items: { type: 'number', exclusiveMinimum: 0 }, minItems: 3, maxItems: 3 }] },
          tiltDeg: { type: ['number', 'null'] },
          transferSyntaxes: { type: 'array', items: { type: 'string' }, minItems: 1 },
          problems: { type: 'array', items: { type: 'object', required: ['kind', 'message'] } },
          primary: { type: 'boolean' },
          reason: { type: 'string', minLength: 1 },
        },
      },
    },
    skipped: {
      type: 'array',
      items: { type: 'object', required: ['path', 'code', 'message'], properties: { code: { type: 'string', pattern: '^E_[A-Z_]+$' } } },
    },
  },
} as const;

describe('ctscope CLI: usage errors', () => {
  it('no command prints help and exits 2; --help exits 0', async () => {
    const none = await ctscope();
    expect(none.code).toBe(2);
    // A usage error: the help goes to stderr, like every other one.
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/info/);
    expect(none.stderr).toMatch(/convert/);
    const help = await ctscope('convert', '--help');
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/--out/);
    const helpFor = await ctscope('help', 'detect');
    expect(helpFor.code).toBe(0);
    expect(helpFor.stdout).toMatch(/^ctscope detect: run detection models .*\n\nUsage: ctscope detect /);
  });

  it("every command's --help gives its exit status", async () => {
    for (const c of ['info', 'convert', 'detect', 'synth', 'eval', 'bench', 'doctor']) {
      const r = await ctscope(c, '--help');
      expect(r.code, c).toBe(0);
      expect(r.stdout, c).toMatch(/Exit status: 0 ok,[^\n]*\b2 usage\b/);
    }
  });

  for (const args of [['info'], ['info', '--bogus', 'x'], ['convert', 'x'], ['convert', 'x', '--out', 'a.txt'], ['convert', 'x', '--out', 'a.nii', '--threads', 'zero'], ['convert', 'x', '--out', 'a.nii', '--threads', '-3'], ['convert', 'x', '--out', 'a.nii', '--threads', '99999999999'], ['convert', 'x', '--out', 'a.nii', '--spacing', '1e308'], ['convert', 'x', '--out', 'a.nii', '--spacing', '0.5,0.5,0'], ['convert', 'x', '--out', 'a.nii', '--spacing', '0x1'], ['convert', 'x', '--out', 'a.nii', '--threads', '0x2'], ['synth', 'chest', '--out', 'o', '--seed', '0x10'], ['synth', 'chest', '--out', 'o', '--seed', 'Infinity'], ['detect', 'x', '--model', 'nodule', '--json', '--threads', '1000'], ['detect', 'x', '--model', 'nodule', '--out', 'o', '--outputs', ''], ['detect', 'x', '--model', 'nodule', '--json', '--outputs', 'sr'], ['convert', 'x', '--out', 'a.nii', '--max-voxels', '1e20'], ['detect', 'dicomweb+ftp://h/dicom-web?study=1.2', '--model', 'nodule', '--json'], ['detect', 'dicomweb+http://h/dicom-web?study=1.2&series=', '--model', 'nodule', '--json'], ['nosuchcommand']]) {
    it(`exits 2 with one line error[E_USAGE] for: ${args.join(' ')}`, async () => {
      const r = await ctscope(...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/^error\[E_USAGE\]: [^\n]*\n$/);
    });
  }

  it('an option that takes a value, given twice, is E_USAGE in every command (not the last one silently)', async () => {
    const twice = [
      ['info', 'x', '--series', '1.2', '--series', '1.3'],
      ['convert', 'x', '--out', 'a.nii', '--out', 'b.nii'],
      ['synth', 'chest', '--out', 'a', '-o', 'b'],
      ['detect', 'x', '--model', 'nodule', '--out', 'a', '--out', 'b'],
      ['bench', '--out', 'a.json', '--out', 'b.json'],
      ['eval', '--truth-root', 'a', '--pred-root', 'b', '--pred-root', 'c'],
    ];
    for (const args of twice) {
      const r = await ctscope(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(new RegExp(`^error\\[E_USAGE\\]: ${args[0]}: --[\\w-]+ was given more than once\\n$`));
    }
    // Repeatable options and repeated switches stay allowed: the missing input is what fails.
    const repeatable = await ctscope('detect', join(dir, 'nothing-here'), '-m', 'nodule', '-m', 'aneurysm', '--json', '--json');
    expect(repeatable.stderr).toMatch(/^error\[E_NOT_FOUND\]: /m);
  });

  it('a missing input is E_NOT_FOUND, exit 3', async () => {
    const r = await ctscope('info', join(dir, 'nothing-here'));
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error\[E_NOT_FOUND\]: /m);
  });

  it('a mistyped option is named with the nearest one; a value that starts with a dash is explained', async () => {
    const r = await ctscope('detect', dir, '--output', join(dir, 'o'));
    expect(r.stderr).toBe('error[E_USAGE]: detect: unknown option --output (did you mean --out?)\n');
    expect((await ctscope('convert', dir, '-o', 'a.nii', '--spacng', '1')).stderr).toMatch(/unknown option --spacng \(did you mean --spacing\?\)/);
    expect((await ctscope('info', dir, '--zzz')).stderr).toBe('error[E_USAGE]: info: unknown option --zzz\n');
    // parseArgs' own wording, made plain; and a library's usage error said as the command's own.
    expect((await ctscope('info', '--series')).stderr).toBe('error[E_USAGE]: info: --series needs a value\n');
    expect((await ctscope('doctor', '--json=1')).stderr).toBe('error[E_USAGE]: doctor: --json takes no value\n');
    expect((await ctscope('doctor', 'x')).stderr).toBe("error[E_USAGE]: doctor: unexpected argument 'x': this command takes options only\n");
    expect((await ctscope('detect', dir, '-m', 'nodule', '--json', '--ep', 'gpu')).stderr).toMatch(/^error\[E_USAGE\]: detect: --ep must be one of auto, cpu/);
    expect((await ctscope('--bogus')).stderr).toMatch(/^error\[E_USAGE\]: a command comes first \(info, convert, /);
    expect((await ctscope('bench', '--stage', '')).stderr).toBe('error[E_USAGE]: bench: --stage needs a stage name (or leave it out for every stage)\n');
    const neg = await ctscope('synth', 'chest', '-o', join(dir, 's'), '--nodules', '-1');
    expect(neg.stderr).toBe('error[E_USAGE]: synth: --nodules needs a value; a value that starts with a dash is written --nodules=-1\n');
    expect(neg.code).toBe(2);
    expect((await ctscope('convert', dir, '-o=x.nii')).stderr).toBe('error[E_USAGE]: convert: -o takes its value after a space (-o x.nii) or as --out=x.nii\n');
    expect((await ctscope('synth', 'chest', '-o=-x')).stderr).toBe('error[E_USAGE]: synth: -o takes its value as --out=-x\n');
    // A short flag's = form would read "=-1" as its value: the hint names the long one.
    expect((await ctscope('synth', 'chest', '-o', '-x')).stderr).toBe('error[E_USAGE]: synth: -o needs a value; a value that starts with a dash is written --out=-1\n');
    expect((await ctscope('synth', 'chest', '-o', join(dir, 's'), '--spacing', '1,2')).stderr).toMatch(/^error\[E_USAGE\]: synth: --spacing needs S or SX,SY,SZ in mm/);
    expect((await ctscope('detect', dir, '-m', join(dir, 'no-model'), '--json')).stderr).toBe(`error[E_MODEL]: no manifest.json in the model folder ${join(dir, 'no-model')}\n`);
  });

  it('numeric options take decimal numbers only, in range, in every command and script', async () => {
    const script = (name: string): string => fileURLToPath(new URL(`../../dist/${name}`, import.meta.url));
    const runs: [string[], RegExp][] = [
      [['detect', dir, '-m', 'nodule', '--json', '--threads', '0x2'], /detect: --threads needs an integer from 1 to 256 \(got '0x2'\)/],
      [['convert', dir, '-o', join(dir, 'x.nii'), '--max-voxels', '1.5'], /convert: --max-voxels needs a positive integer up to 9007199254740991 \(got '1.5'\)/],
      [['synth', 'chest', '-o', join(dir, 's'), '--slices', 'Infinity'], /synth: --slices needs an integer \(got 'Infinity'\)/],
      [['eval', '--truth-root', dir, '--pred-root', dir, '--threshold', '1e400'], /eval: --threshold needs a number \(got '1e400'\)/],
      [['bench', '--tolerance', '0'], /bench: --tolerance needs a positive number \(got '0'\)/],
      // The scripts behind npm run eval and npm run fuzz: `--chest abc` was NaN, and the run did nothing, exit 0.
      [[script('eval/run.js'), '--chest', 'abc'], /npm run eval: --chest needs an integer from 0 to 100000 \(got 'abc'\)/],
      [[script('fuzz/run.js'), '--cases=-1'], /fuzz: --cases needs a non-negative integer \(got '-1'\)/],
    ];
    for (const [args, message] of runs) {
      const r = args[0]!.endsWith('.js')
        ? await new Promise<Run>((resolve) => execFile(process.execPath, args, (err, stdout, stderr) => resolve({ code: (err as { code?: number } | null)?.code ?? 0, stdout, stderr })))
        : await ctscope(...args);
      expect(r.stderr, args.join(' ')).toMatch(new RegExp(`^error\\[E_USAGE\\]: ${message.source}`, 'm'));
      expect(r.code, args.join(' ')).toBe(2);
    }
  });
});

/** Overwrites `was` with `now` (the same length, so the DICOM stays valid) in every slice of a series folder. */
async function overwriteInSeries(dir: string, was: Buffer, now: Buffer): Promise<void> {
  expect(now.length).toBe(was.length);
  for (const f of (await readdir(dir)).filter((f) => f.endsWith('.dcm'))) {
    const b = readFileSync(join(dir, f));
    const at = b.indexOf(was);
    expect(at).toBeGreaterThan(0);
    now.copy(b, at);
    await writeFile(join(dir, f), b);
  }
}

describe('ctscope CLI: text from files is shown, not obeyed', () => {
  it('info escapes escape sequences and line breaks in a SeriesDescription and a file name', async () => {
    const d = join(dir, 'crafted');
    expect((await ctscope('synth', 'chest', '--out', d, '--seed', '3', '--rows', '32', '--cols', '32', '--slices', '8', '--nodules', '0')).code).toBe(0);
    // The same length as the description it replaces, so the DICOM stays valid.
    const was = Buffer.from('Synthetic chest phantom');
    const crafted = Buffer.from('AB\x1b[31mRED\x1b]0;TITLE\x07zzz');
    await overwriteInSeries(d, was, crafted);
    await writeFile(join(d, 'evil\n* 9.9.9 (#1) CT "FAKE"\x1b[2J'), 'not dicom at all, but long enough to be looked at');
    const r = await ctscope('info', d);
    expect(r.code).toBe(0);
    const all = r.stdout + r.stderr;
    expect(all).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f]/);
    expect(r.stdout).toContain('AB\\u001b[31mRED\\u001b]0;TITLE\\u0007zzz');
    expect(r.stdout).toContain('evil\\u000a* 9.9.9');
    // --json stays JSON with the same values (the escapes are JSON's own), DEL and CSI included.
    await writeFile(join(d, 'del\x7f\u009bx.dcm'), 'not dicom either, but long enough to be looked at');
    const j = await ctscope('info', d, '--json');
    expect(j.stdout).not.toMatch(/[\x7f\u009b]/);
    const paths = (JSON.parse(j.stdout) as { skipped: Array<{ path: string }> }).skipped.map((k) => k.path);
    expect(paths).toContain(join(d, 'del\x7f\u009bx.dcm'));
    expect(r.stdout.split('\n').filter((l) => l.startsWith('* '))).toHaveLength(1);
    // NEL and RI move a terminal's cursor as a line break would.
    expect(oneLineSafe('a\u0085b\u008dc\u0084d')).toBe('a\\u0085b\\u008dc\\u0084d');
    // A bidirectional override makes a name read backwards on the terminal; an isolate likewise reorders.
    expect(oneLineSafe('evil\u202egpj.dcm \u2066x\u2069')).toBe('evil\\u202egpj.dcm \\u2066x\\u2069');
  });

  it('a line break in a header UID or a skipped file name cannot fake a line in convert or detect output either', async () => {
    const d = join(dir, 'crafted-uid');
    expect((await ctscope('synth', 'chest', '--out', d, '--seed', '3', '--rows', '32', '--cols', '32', '--slices', '8', '--nodules', '0')).code).toBe(0);
    const uid = (JSON.parse(readFileSync(join(d, 'truth.json'), 'utf8')) as { series: { seriesInstanceUid: string } }).series.seriesInstanceUid;
    const fake = '\nerror[E_FAKE]: x';
    const crafted = Buffer.from(uid.slice(0, uid.length - fake.length) + fake);
    await overwriteInSeries(d, Buffer.from(uid), crafted);
    // A truncated slice under a name with a line break: named in the skipped-input warning.
    await writeFile(join(d, 'trunc\nerror[E_FAKE]: y.dcm'), readFileSync(join(d, 'CT000001.dcm')).subarray(0, 3000));
    const runs = [
      await ctscope('convert', d, '--out', join(dir, 'crafted-uid.nii')),
      await ctscope('detect', d, '--model', 'nodule', '--json', '--quiet'),
      await ctscope('detect', d, '--model', 'nodule', '--out', join(dir, 'crafted-uid-out'), '--outputs', 'json'),
    ];
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(`${r.stdout}\n${r.stderr}`.split('\n').filter((l) => l.startsWith('error[E_FAKE]'))).toEqual([]);
    }
    expect(runs[0]!.stderr + runs[2]!.stdout).toContain('\\u000aerror[E_FAKE]: x');
    expect(runs[1]!.stderr).toContain('trunc\\u000aerror[E_FAKE]: y.dcm');
  }, 60_000);

  it('paths the CLI prints (convert and synth output) are one line: a line break or tab in them is escaped', async () => {
    const src = join(dir, 'crafted-out\tsrc');
    const s = await ctscope('synth', 'chest', '--out', src, '--seed', '3', '--rows', '32', '--cols', '32', '--slices', '8', '--nodules', '0');
    expect(s.code).toBe(0);
    expect(s.stdout).toContain('crafted-out\\u0009src');
    const out = join(dir, 'w\nFAKE line\x1b[2J.nii');
    const r = await ctscope('convert', src, '--out', out);
    expect(r.code, r.stderr).toBe(0);
    const all = r.stdout + r.stderr;
    expect(all).toContain('w\\u000aFAKE line\\u001b[2J.nii');
    expect(all.split('\n').filter((l) => l.startsWith('FAKE'))).toEqual([]);
  });
});

describe.skipIf(!hasSharedData)('ctscope CLI on the shared corpus', () => {
  it('info --json: schema, primary 201 with reasons for the rest, no patient attributes', async () => {
    const folder = sharedPath('ct_phantom_head_philips_mixed_folder');
    const r = await ctscope('info', folder, '--json');
    expect(r.code).toBe(0);
    const json = JSON.parse(r.stdout);
    const ajv = new Ajv({ allErrors: true });
    const ok = ajv.validate(INFO_SCHEMA, json);
    expect(ajv.errors ?? []).toEqual([]);
    expect(ok).toBe(true);
    const primary = json.series.filter((s: { primary: boolean }) => s.primary);
    expect(primary).toHaveLength(1);
    expect(primary[0].seriesNumber).toBe(201);
    expect(primary[0].slices).toBe(28);
    expect(primary[0].spacing).toEqual([0.4512, 0.4512, 5]);
    for (const s of json.series.filter((x: { primary: boolean }) => !x.primary)) expect(s.reason).toMatch(/^not primary: /);
    expect(json.skipped.map((k: { code: string }) => k.code)).toEqual(['E_NOT_DICOM']);
    // Patient name / ID / birth date of the data never appear.
    const ds = dicomParser.parseDicom(new Uint8Array(readFileSync(join(folder, 'S2010_I10'))));
    for (const tag of ['x00100010', 'x00100020', 'x00100030']) {
      const value = ds.string(tag)?.trim();
      // (Paths are the user's own input and may contain anything; check everything else.)
      if (value) expect(JSON.stringify(json.series)).not.toContain(value);
    }
    const keys: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) (keys.push(k), walk(x));
    };
    walk(json);
    expect(keys.filter((k) => /patient|birth/i.test(k))).toEqual([]);
  });

  it('info prints every series in text, --series picks the primary, an unknown series exits 3', async () => {
    const folder = sharedPath('ct_phantom_head_philips_mixed_folder');
    const text = await ctscope('info', folder, '--quiet');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^\* .*\(#201\)/m);
    expect(text.stdout).toMatch(/localizer/);
    expect(text.stderr).toBe('');
    const json = JSON.parse((await ctscope('info', folder, '--json')).stdout);
    const loc = json.series.find((s: { seriesNumber: number }) => s.seriesNumber === 100);
    const chosen = JSON.parse((await ctscope('info', folder, '--json', '--series', loc.id)).stdout);
    expect(chosen.series.find((s: { primary: boolean }) => s.primary).seriesNumber).toBe(100);
    const bad = await ctscope('info', folder, '--series', '9.9.9');
    expect(bad.code).toBe(3);
    expect(bad.stderr).toMatch(/^error\[E_SERIES_NOT_FOUND\]: /m);
  });

  it('info on a folder without DICOM lists what it skipped and exits 3 with E_NOT_DICOM', async () => {
    const r = await ctscope('info', sharedPath('ct_head_ge_tilt_varspacing', 'ref'), '--json');
    expect(r.code).toBe(3);
    expect(JSON.parse(r.stdout).skipped[0].code).toBe('E_NOT_DICOM');
    expect(r.stderr).toMatch(/^error\[E_NOT_DICOM\]: /m);
  });

  it('info on the tilted series reports tilt and uneven spacing', async () => {
    const r = await ctscope('info', sharedPath('ct_head_ge_tilt_varspacing'), '--json');
    const s = JSON.parse(r.stdout).series[0];
    expect(s.tiltDeg).toBeCloseTo(18.5, 1);
    expect(s.slices).toBe(28);
    expect(s.problems.map((p: { kind: string }) => p.kind).sort()).toEqual(['gantry-tilt', 'uneven-spacing']);
  });

  it('convert writes a NIfTI-1 .nii.gz in HU with progress lines; no CT or no DICOM exits 3', async () => {
    const out = join(dir, 'mixed.nii.gz');
    const r = await ctscope('convert', sharedPath('ct_phantom_head_philips_mixed_folder'), '--out', out);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/reading headers/);
    expect(r.stderr).toMatch(/decoding slices/);
    expect(r.stderr).toMatch(/wrote /);
    const img = await readNifti(out);
    expect(img.dims.slice(0, 4)).toEqual([3, 512, 512, 28]);
    expect(img.pixdim[3]).toBeCloseTo(5, 4);
    expect(niftiValue(img, 256, 256, 14)).toBeGreaterThan(-1100);
    expect((await readdir(dir)).filter((n) => n.endsWith('.tmp'))).toEqual([]);

    const mr = await ctscope('convert', sharedPath('mr_transfer_syntaxes_dcm2niix_ref'), '--out', join(dir, 'mr.nii'), '--quiet');
    expect(mr.code).toBe(3);
    expect(mr.stderr).toMatch(/^error\[E_NO_CT_SERIES\]: /m);
    // The reasons lead with the modality, not the missing orientation, and the file skipped as truncated is named.
    const cut = await ctscope('convert', sharedPath('corrupt_truncated'), '--out', join(dir, 'cut.nii'), '--quiet');
    expect(cut.code).toBe(3);
    expect(cut.stderr).toMatch(/^error\[E_NO_CT_SERIES\]: no CT volume among 1 series \([0-9.]+: modality MR is not CT; [^)]*\); 1 input\(s\) skipped .*: MR_truncated\.dcm \(E_TRUNCATED\)$/m);
    const none = await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing', 'ref'), '--out', join(dir, 'none.nii'));
    expect(none.code).toBe(3);
    expect(none.stderr).toMatch(/^error\[E_NOT_DICOM\]: /m);
    expect(existsSync(join(dir, 'none.nii'))).toBe(false);
  });

  it('convert --quiet prints only the series problems on success; an existing --out needs --force; --max-voxels maps to E_TOO_LARGE', async () => {
    const out = join(dir, 'tilt.nii');
    const r = await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', out, '--quiet');
    expect(r.code).toBe(0);
    // The problems nothing else records (uneven spacing, gantry tilt), and nothing more.
    expect(r.stderr).toMatch(/^warning: series: uneven-spacing: /m);
    expect(r.stderr).toMatch(/^warning: series: gantry-tilt: /m);
    expect(r.stderr.trim().split('\n').every((l) => l.startsWith('warning: series: '))).toBe(true);
    expect(r.stdout).toBe('');
    // It was replaced silently; now refused before anything is read, and the file is kept.
    const before = (await readFile(out)).length;
    const again = await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', out, '--spacing', '3');
    expect(again.code).toBe(2);
    expect(again.stderr).toMatch(/^error\[E_USAGE\]: convert: .*tilt\.nii exists; give --force to replace it/m);
    expect((await readFile(out)).length).toBe(before);
    expect((await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', out, '--spacing', '3', '--force', '-q')).code).toBe(0);
    expect((await readFile(out)).length).toBeLessThan(before);
    const big = await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', out, '--force', '--max-voxels', '1000');
    expect(big.code).toBe(3);
    expect(big.stderr).toMatch(/^error\[E_TOO_LARGE\]: /m);
  });

  it('convert checks its output path before loading: a parent that is a file is E_OUTPUT at once; a missing folder is made on writing', async () => {
    const file = join(dir, 'a-file');
    await writeFile(file, 'x');
    const r = await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', join(file, 'x.nii'));
    expect(r.code).toBe(4);
    expect(r.stderr).toMatch(/^error\[E_OUTPUT\]: /m);
    expect(r.stderr).not.toMatch(/decoding/);
    // A run that fails (no CT series here) creates nothing, not even the folder; one that succeeds makes it.
    const never = join(dir, 'never', 'x.nii');
    expect((await ctscope('convert', sharedPath('corrupt_truncated'), '--out', never, '--quiet')).code).toBe(3);
    expect(existsSync(join(dir, 'never'))).toBe(false);
    const made = join(dir, 'new', 'sub', 'x.nii');
    expect((await ctscope('convert', sharedPath('ct_head_ge_tilt_varspacing'), '--out', made, '--quiet')).code).toBe(0);
    expect(existsSync(made)).toBe(true);
  }, 60_000);

  it('an empty folder is said to hold no files (exit 3), and eval --detect refuses a --pred-root it cannot write at once', async () => {
    const empty = join(dir, 'empty-folder');
    await mkdir(empty);
    const r = await ctscope('info', empty);
    expect(r.code).toBe(3);
    expect(r.stderr).toMatch(/^error\[E_NO_CT_SERIES\]: no files found/m);
    const file = join(dir, 'pred-file');
    await writeFile(file, 'x');
    const e = await ctscope('eval', '--detect', '--truth-root', empty, '--pred-root', join(file, 'sub'));
    expect(e.code).toBe(4);
    expect(e.stderr).toMatch(/^error\[E_OUTPUT\]: the prediction root \(--pred-root\) is below a file/m);
  });

  it('convert names a slice file that is cut short (skipped while headers are read), not just a shorter volume', async () => {
    const src = join(dir, 'cut-series');
    expect((await ctscope('synth', 'chest', '--out', src, '--seed', '3', '--rows', '32', '--cols', '32', '--slices', '8', '--nodules', '0')).code).toBe(0);
    const last = join(src, 'CT000008.dcm');
    const bytes = readFileSync(last);
    await writeFile(last, bytes.subarray(0, bytes.length - 1000));
    const r = await ctscope('convert', src, '--out', join(dir, 'cut.nii'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/x 7 at/);
    expect(r.stderr).toMatch(/^warning: 1 input\(s\) skipped .*CT000008\.dcm \(E_TRUNCATED\)$/m);
  }, 60_000);

  it('convert names slices whose files end before their Pixel Data, or before Rows (they were dropped silently as "not images")', async () => {
    const src = join(dir, 'cut-before-pixels');
    expect((await ctscope('synth', 'chest', '--out', src, '--seed', '3', '--rows', '32', '--cols', '32', '--slices', '8', '--nodules', '0')).code).toBe(0);
    // Cut at the (7FE0,0010) Pixel Data tag of one file and at the (0028,0010) Rows tag of another.
    for (const [name, tag] of [['CT000008.dcm', [0xe0, 0x7f, 0x10, 0x00]], ['CT000001.dcm', [0x28, 0x00, 0x10, 0x00]]] as const) {
      const bytes = readFileSync(join(src, name));
      const at = bytes.indexOf(Buffer.from(tag), 132);
      expect(at, name).toBeGreaterThan(132);
      await writeFile(join(src, name), bytes.subarray(0, at));
    }
    // An intact object whose pixels are Float Pixel Data (7FE0,0008), of the Parametric Map class: no CT image, not a
    // cut file, so passed over without a warning.
    const map = readFileSync(join(src, 'CT000004.dcm'));
    const pixels = map.indexOf(Buffer.from([0xe0, 0x7f, 0x10, 0x00]), 132);
    map.writeUInt16LE(0x0008, pixels + 2);
    for (const at of [map.indexOf('1.2.840.10008.5.1.4.1.1.2\0'), map.indexOf('1.2.840.10008.5.1.4.1.1.2\0', map.indexOf('1.2.840.10008.5.1.4.1.1.2\0') + 1)])
      if (at > 0) map.write('1.2.840.10008.5.1.4.1.1.30', at, 'latin1');
    await writeFile(join(src, 'CT000004.dcm'), map);
    const r = await ctscope('convert', src, '--out', join(dir, 'cut-pixels.nii'));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/x 5 at/);
    expect(r.stderr).toMatch(/^warning: 2 input\(s\) skipped .*CT000001\.dcm \(E_TRUNCATED\), CT000008\.dcm \(E_TRUNCATED\)$/m);
  }, 60_000);

  it('detect prints only its own lines: dcmjs repairs of odd source headers stay quiet', async () => {
    const model = fixturePackage('heatmap-fp32', { spacing: [4, 4, 4], maxFindings: 1 });
    // This series has a private element of VR "xs", which dcmjs reports ("Invalid vr type xs - using US") while
    // copying the source's header into the SR.
    const r = await ctscope('detect', sharedPath('ct_chest_slice_transfer_syntaxes'), '--model', model, '--ep', 'cpu', '--out', join(dir, 'quiet'), '--quiet');
    expect(r.code, r.stderr).toBe(0);
    // With --quiet only the run's own warnings (skipped inputs, series problems), never a library's chatter.
    expect(r.stderr).not.toMatch(/Invalid vr/);
    for (const l of r.stderr.split('\n').filter(Boolean)) expect(l).toMatch(/^warning: /);
    expect(r.stdout).toBe('');
  }, 60_000);
});

describe('detect from DICOMweb: progress of the retrieval', () => {
  it('says how many instances have come every `every` of them (a slow study showed nothing for minutes)', async () => {
    const { retrieveSaying } = await import('../../src/cli/detect.js');
    const said: string[] = [];
    const client = {
      retrieve: async (_study: string, _series?: string, o?: unknown) => {
        const on = (o as { onInstance?: (n: number) => void }).onInstance!;
        for (let n = 1; n <= 250; n++) on(n);
        return [];
      },
    };
    await retrieveSaying(client as never, '1.2', undefined, (l) => said.push(l));
    expect(said).toEqual(['retrieved 100 instance(s) so far', 'retrieved 200 instance(s) so far']);
  });
});
