import { readFileSync } from 'node:fs';
import { CtscopeError, toCtscopeError } from '../errors.js';
import { oneLineSafe } from '../io/printable.js';
import { DicomWebClient } from '../dicomweb/client.js';
import { isDicomWebUrl, parseDicomWebUrl } from '../dicomweb/url.js';
import { closeRunners } from '../inference/runner.js';
import { parseEpRequest, type EpRequest } from '../inference/providers.js';
import type { BufferInput, StudyInput } from '../ingest/load.js';
import { stderrProgress, summaryTable } from './console.js';
import { checkDetectOptions, detect } from '../pipeline/detect.js';
import { type DetectOptions } from '../pipeline/types.js';
import { OUTPUT_NAMES, type OutputName } from '../outputs/document.js';
import { parseCommandArgs, parseDeviceId, parseThreads, usageError, type CliIO, type Command } from './command.js';

const OPTIONS = {
  model: { type: 'string', short: 'm', multiple: true },
  out: { type: 'string', short: 'o' },
  ep: { type: 'string' },
  device: { type: 'string' },
  series: { type: 'string' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
  threads: { type: 'string' },
  outputs: { type: 'string' },
  stow: { type: 'boolean' },
  'token-file': { type: 'string' },
  'credentials-file': { type: 'string' },
  'whole-body': { type: 'boolean' },
} as const;

const USAGE = `detect <folder|files...|dicomweb-url> --model <id|path>[,<id|path>...] --out DIR [options]

  --model, -m ID|PATH   bundled model id or model package folder; several: comma list or repeat
  --out, -o DIR         output folder: findings.json, sr.dcm, report.html, key-<n>.png
  --ep NAME             execution provider: auto (default), cpu, cuda, tensorrt, dml, webgpu, coreml
  --device N            GPU index for cuda, tensorrt or dml (default 0)
  --series UID          series to analyse instead of the primary CT series
  --json                print findings.json to stdout (--out may then be left out)
  --quiet, -q           no progress and no summary (warnings still go to stderr)
  --threads N           decode/resample worker threads
  --outputs LIST        which files to write: ${OUTPUT_NAMES.join(',')} (default all; report = report.html and key images)
  --stow                store the SR back to the DICOMweb server the series came from (STOW-RS)
  --token-file FILE     bearer token for DICOMweb (else $CTSCOPE_DICOMWEB_TOKEN); never printed
  --credentials-file FILE
                        user:password for DICOMweb HTTP Basic, e.g. Orthanc's own login
                        (else $CTSCOPE_DICOMWEB_CREDENTIALS); never printed
  --whole-body          ignore the models' organ regions (the nodule model's lungs): look at the whole body

DICOMweb input: dicomweb+http://host:port/dicom-web?study=<StudyUID>&series=<SeriesUID>
(or .../dicom-web/studies/<StudyUID>[/series[/<SeriesUID>[/instances]]]; without a series, from the URL or
--series, the whole study is retrieved and its primary CT series chosen). Exit status: 0 ok, 1 internal error, 2 usage, 3 bad input,
4 runtime (providers, outputs, workers), 130 interrupted (Ctrl-C, SIGTERM).`;

export interface DetectArgs {
  input: string[];
  models: string[];
  out: string | undefined;
  ep: EpRequest;
  deviceId: number;
  series: string | undefined;
  json: boolean;
  quiet: boolean;
  threads: number | undefined;
  outputs: OutputName[];
  stow: boolean;
  tokenFile: string | undefined;
  credentialsFile: string | undefined;
  wholeBody: boolean;
}

export function parseDetectArgs(argv: string[]): DetectArgs {
  const { values: v, positionals } = parseCommandArgs('detect', argv, OPTIONS);
  if (positionals.length === 0) throw usageError('detect: missing input (a DICOM folder, files, or a dicomweb+http:// URL)');
  const models = (v.model ?? []).flatMap((m) => m.split(',')).map((m) => m.trim()).filter(Boolean);
  if (models.length === 0) throw usageError('detect: --model <id|path> is required');
  if (!v.out && !v.json) throw usageError('detect: --out DIR is required (or --json to print findings only)');
  const dicomWeb = positionals.filter(isDicomWebUrl);
  if (dicomWeb.length && positionals.length > 1) throw usageError('detect: give one DICOMweb URL, or files and folders, not both');
  if (v.stow && !dicomWeb.length) throw usageError('detect: --stow needs a DICOMweb input');
  for (const flag of ['token-file', 'credentials-file'] as const)
    if (v[flag] !== undefined && !dicomWeb.length) throw usageError(`detect: --${flag} is for a DICOMweb input (a dicomweb+http:// URL)`);
  if (v['token-file'] !== undefined && v['credentials-file'] !== undefined) throw usageError('detect: give --token-file or --credentials-file, not both');
  const threads = parseThreads(v.threads, 'detect');
  const deviceId = parseDeviceId(v.device, 'detect');
  if (v.outputs !== undefined && !v.out) throw usageError('detect: --outputs chooses what is written into --out DIR; give --out too');
  const outputs = (v.outputs ?? OUTPUT_NAMES.join(',')).split(',').map((s) => s.trim()).filter(Boolean);
  if (outputs.length === 0) throw usageError(`detect: --outputs needs at least one of ${OUTPUT_NAMES.join(', ')}`);
  for (const o of outputs) if (!(OUTPUT_NAMES as readonly string[]).includes(o)) throw usageError(`detect: --outputs takes ${OUTPUT_NAMES.join(', ')} (got '${o}')`);
  if (v.stow && !outputs.includes('sr')) throw usageError('detect: --stow needs the sr output');
  return {
    input: positionals,
    models,
    out: v.out,
    ep: v.ep === undefined ? 'auto' : parseEpRequest(v.ep),
    deviceId,
    series: v.series,
    json: v.json ?? false,
    quiet: v.quiet ?? false,
    threads,
    outputs: outputs as OutputName[],
    stow: v.stow ?? false,
    tokenFile: v['token-file'],
    credentialsFile: v['credentials-file'],
    wholeBody: v['whole-body'] ?? false,
  };
}

/**
 * A secret from its file (without its final line break: a password may begin or end with a space) or else the
 * environment; undefined when neither gives one.
 */
function readSecret(file: string | undefined, flag: string, env: string): string | undefined {
  if (file === undefined) return process.env[env] || undefined;
  try {
    return readFileSync(file, 'utf8').replace(/\r?\n$/, '') || undefined;
  } catch (e) {
    throw new CtscopeError('E_USAGE', `cannot read --${flag}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`, { where: file });
  }
}

/**
 * The DICOMweb authentication asked for: a bearer token or HTTP Basic credentials, each from its file or else its
 * environment variable. A malformed one is E_USAGE naming where it came from, never its content.
 */
export function readAuth(a: Pick<DetectArgs, 'tokenFile' | 'credentialsFile'>): { token?: string; credentials?: { username: string; password: string } } {
  const tokenFrom = a.tokenFile !== undefined ? '--token-file' : 'CTSCOPE_DICOMWEB_TOKEN';
  const credentialsFrom = a.credentialsFile !== undefined ? '--credentials-file' : 'CTSCOPE_DICOMWEB_CREDENTIALS';
  // A file given on the command line wins over the other kind's variable.
  const token = a.credentialsFile === undefined ? readSecret(a.tokenFile, 'token-file', 'CTSCOPE_DICOMWEB_TOKEN')?.trim() || undefined : undefined;
  const pair = a.tokenFile === undefined ? readSecret(a.credentialsFile, 'credentials-file', 'CTSCOPE_DICOMWEB_CREDENTIALS') : undefined;
  if (token && pair) throw usageError('detect: both CTSCOPE_DICOMWEB_TOKEN and CTSCOPE_DICOMWEB_CREDENTIALS are set; give one (or a --token-file or --credentials-file)');
  if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw usageError(`detect: the bearer token from ${tokenFrom} holds characters an HTTP header cannot carry (spaces, line breaks or non-ASCII)`);
  if (pair === undefined) return token ? { token } : {};
  const colon = pair.indexOf(':');
  if (colon <= 0 || /[\r\n]/.test(pair)) throw usageError(`detect: the credentials from ${credentialsFrom} must be user:password on one line`);
  return { credentials: { username: pair.slice(0, colon), password: pair.slice(colon + 1) } };
}

/**
 * A WADO-RS retrieval that says how far it is every `every` instances: a study can take minutes on a slow link,
 * which showed nothing but "retrieving study".
 */
export function retrieveSaying(client: Pick<DicomWebClient, 'retrieve'>, study: string, series: string | undefined, say: (line: string) => void, every = 100): Promise<BufferInput[]> {
  return client.retrieve(study, series, { onInstance: (n) => void (n % every === 0 && say(`retrieved ${n} instance(s) so far`)) });
}

/** `ctscope detect`: the whole pipeline on a folder or a DICOMweb series, outputs into --out. */
export const detectCommand: Command = {
  name: 'detect',
  summary: 'run detection models on a CT series; write findings.json, DICOM SR, HTML report',
  usage: USAGE,
  async run(argv: string[], io: CliIO): Promise<number> {
    const a = parseDetectArgs(argv);
    const say = a.quiet ? () => undefined : io.err;
    const view = stderrProgress(io, a.quiet);
    let input: StudyInput = a.input;
    let client: DicomWebClient | undefined;
    try {
      const options: DetectOptions = {
        models: a.models,
        ep: a.ep,
        deviceId: a.deviceId,
        signal: io.signal,
        seriesUid: a.series,
        outDir: a.out,
        outputs: a.outputs,
        sr: a.stow,
        threads: a.threads,
        organMask: !a.wholeBody,
        onProgress: view?.onProgress,
        onLog: view ? view.log : say,
      };
      if (isDicomWebUrl(a.input[0]!)) {
        const target = parseDicomWebUrl(a.input[0]!);
        if (target.series && a.series && target.series !== a.series) throw usageError('detect: --series names another series than the DICOMweb URL does');
        // --series with a study URL fetches that series alone, not the whole study.
        const series = target.series ?? a.series;
        client = new DicomWebClient({ baseUrl: target.baseUrl, ...readAuth(a), signal: io.signal });
        // A study can be gigabytes: a wrong model or --out fails before the download, not after it.
        await checkDetectOptions(options);
        say(`retrieving ${series ? 'series' : 'study'} from ${client.toJSON().baseUrl} (WADO-RS)...`);
        input = await retrieveSaying(client, target.study, series, say);
        say(`retrieved ${input.length} instance(s)`);
      }
      const outcome = await detect(input, options);
      view?.end();
      if (client && a.stow && outcome.sr) {
        say('storing the SR back (STOW-RS)...');
        const r = await client.store([outcome.sr], outcome.document.series.studyInstanceUid).catch((e: unknown) => {
          // The analysis itself succeeded: say where its results are, so a failed upload is not read as a failed run.
          const err = toCtscopeError(e, 'E_IO');
          const kept = a.out ? `; the results are in ${oneLineSafe(a.out)}` : '';
          if (err.code === 'E_ABORTED') throw new CtscopeError('E_ABORTED', `storing the SR back was interrupted: whether the server stored it is unknown${kept}`, { cause: err, where: err.where });
          throw new CtscopeError('E_IO', `the findings were made but storing the SR back failed: ${err.message}${kept}`, { cause: err, where: err.where });
        });
        say(r.stored.length ? `stored ${r.stored.length} SR instance(s)` : 'the server accepted the SR (its answer lists no stored instances)');
      }
      if (a.json) io.out(JSON.stringify(outcome.document, null, 2));
      if (!a.quiet) {
        const lines = summaryTable(outcome.document, a.out, outcome.files);
        for (const l of lines) (a.json ? io.err : io.out)(l);
      } else {
        // The series' problems and skipped inputs are said with --quiet too (only findings.json kept them).
        for (const w of outcome.document.warnings) io.err(`warning: ${oneLineSafe(w)}`);
      }
      return 0;
    } finally {
      view?.end();
      await closeRunners();
    }
  },
};
