import { parseInstance, readHeader } from '../dicom/parse.js';
import type { DicomInstance } from '../dicom/types.js';
import { CtscopeError, throwIfAborted, toCtscopeError } from '../errors.js';
import { checkOptions, is, type OptionRule } from '../io/options-check.js';
import { scanPaths } from '../io/scan.js';
import { eventLoopTurns } from '../io/turns.js';
import { indexStudy } from '../series/index-study.js';
import { MAX_THREADS, poolSize, warmPool } from '../workers/pool.js';
import { findSeries } from '../series/select.js';
import { skippedInputsLine } from '../series/summary.js';
import type { SeriesEntry, SkippedFile, StudyIndex } from '../series/types.js';
import { assembleSeries } from './assemble.js';
import { DEFAULT_MAX_VOXELS } from '../volume/types.js';
import type { CtVolume } from '../volume/types.js';

/**
 * An in-memory instance (e.g. received by a PACS plugin); `name` identifies it in reports. `bytes` may also be
 * an ArrayBuffer (what `fetch().arrayBuffer()` gives). Names need not be unique.
 */
export interface BufferInput {
  name: string;
  bytes: Uint8Array | ArrayBuffer;
}

/** A folder or file path, a list of paths, or in-memory instances. */
export type StudyInput = string | readonly string[] | readonly BufferInput[];

export interface LoadProgress {
  stage: 'scan' | 'index' | 'decode';
  done: number;
  total: number;
}

export interface LoadOptions {
  /** Series to load (id from the index or SeriesInstanceUID) instead of the primary choice. */
  seriesUid?: string | undefined;
  signal?: AbortSignal | undefined;
  onProgress?: ((p: LoadProgress) => void) | undefined;
  /** Decode worker threads (default: the shared pool's size). */
  threads?: number | undefined;
  /** HU written where PixelPaddingValue marks no data (default: the decoder's, air). */
  paddingHu?: number | undefined;
  /** Largest volume accepted, in voxels (default 2^30); larger is E_TOO_LARGE. */
  maxVoxels?: number | undefined;
  /** Header files read at once while indexing (default 8). */
  headerConcurrency?: number | undefined;
}

export interface FilledLoadOptions {
  seriesUid: string | undefined;
  signal: AbortSignal | undefined;
  onProgress: (p: LoadProgress) => void;
  threads: number | undefined;
  paddingHu: number | undefined;
  maxVoxels: number;
  headerConcurrency: number;
}

export const DEFAULT_LOAD: FilledLoadOptions = {
  seriesUid: undefined,
  signal: undefined,
  onProgress: () => undefined,
  threads: undefined,
  paddingHu: undefined,
  maxVoxels: DEFAULT_MAX_VOXELS,
  headerConcurrency: 8,
};

const LOAD_RULES: Readonly<Record<keyof LoadOptions, OptionRule>> = {
  seriesUid: is.string,
  signal: is.signal,
  onProgress: is.function,
  threads: is.integer(1, MAX_THREADS),
  // Written into int16 volumes as well as float32 ones.
  paddingHu: is.where('a number from -32768 to 32767', (v) => typeof v === 'number' && v >= -32768 && v <= 32767),
  maxVoxels: is.integer(1),
  headerConcurrency: is.integer(1, 1024),
};

/** Checks and fills load options; bad values and unknown keys are E_USAGE. */
export function fillLoadOptions(options: LoadOptions = {}): FilledLoadOptions {
  return { ...DEFAULT_LOAD, ...checkOptions<LoadOptions>('load', options, LOAD_RULES) };
}

/** The volume of the chosen series with the index it was chosen from. */
export type LoadedSeries = CtVolume & { index: StudyIndex; series: SeriesEntry };

/** Keeps in-memory bytes reachable by source name for the decode stage. */
type ByteTable = Map<string, Uint8Array>;

/**
 * Indexes every DICOM instance of the input without reading pixel data: series (split by orientation,
 * size and ImageType), their slice geometry and problems, the primary CT choice and why, and every
 * skipped file with its error code. Unreadable or non-DICOM files are skipped, never fatal.
 */
export async function scanStudy(input: StudyInput, options: LoadOptions = {}): Promise<StudyIndex> {
  input = ownInput(input);
  return (await indexInput(input, fillLoadOptions(options), false)).index;
}

/**
 * Loads the primary CT series (or `seriesUid`) of the input as a HU volume with exact geometry.
 * E_NO_CT_SERIES when nothing qualifies (E_NOT_DICOM when no input was DICOM at all),
 * E_SERIES_NOT_FOUND for an unknown `seriesUid`, E_TOO_LARGE over `maxVoxels`.
 */
export async function loadSeries(input: StudyInput, options: LoadOptions = {}): Promise<LoadedSeries> {
  return decodeSeries(await indexSeries(input, options));
}

/** An input indexed and its series chosen, no pixel decoded yet: loadSeries' first half. */
export interface IndexedSeries {
  o: FilledLoadOptions;
  index: StudyIndex;
  series: SeriesEntry;
  bytes: ByteTable;
}

/**
 * Indexes the input and picks its series (cheap: headers only), so that a caller can refuse input with nothing
 * to load (E_NOT_DICOM, E_NO_CT_SERIES) before it waits for room to decode it (detect's admission).
 */
export async function indexSeries(input: StudyInput, options: LoadOptions = {}): Promise<IndexedSeries> {
  input = ownInput(input);
  const o = fillLoadOptions(options);
  const { index, bytes } = await indexInput(input, o, true);
  return { o, index, bytes, series: pickSeries(index, o.seriesUid) };
}

/** loadSeries' second half: decodes and assembles the chosen series. */
export async function decodeSeries(indexed: IndexedSeries): Promise<LoadedSeries> {
  const { o, index, bytes, series } = indexed;
  throwIfAborted(o.signal, 'loading');
  const total = series.layout?.slices.length ?? 0;
  o.onProgress({ stage: 'decode', done: 0, total });
  const { volume, layout, broken } = await assembleSeries(series, {
    signal: o.signal,
    threads: o.threads,
    paddingHu: o.paddingHu,
    maxVoxels: o.maxVoxels,
    onProgress: (done, all) => o.onProgress({ stage: 'decode', done, total: all }),
    bytesFor: (source) => bytes.get(source),
  });
  if (broken.length === 0) return Object.assign(volume, { index, series });
  // A file none of whose slices decoded is reported like any other skipped file; one that lost only some frames
  // is named in the volume's `undecodable-slices` problem.
  const lost = new Map<string, (typeof broken)[number]>();
  for (const b of broken) if (!layout.slices.some((r) => r.instance === b.ref.instance)) lost.set(b.ref.instance.source, b);
  const skipped = [...index.skipped, ...[...lost].map(([path, b]) => ({ path, code: b.code, message: b.message }))];
  return Object.assign(volume, { index: { ...index, skipped }, series: { ...series, layout } });
}

/** The series to load: the user's choice, else the index's primary, else a coded error. */
export function pickSeries(index: StudyIndex, seriesUid: string | undefined): SeriesEntry {
  if (seriesUid !== undefined) return findSeries(index.series, seriesUid);
  const primary = index.series.find((s) => s.id === index.primaryId);
  if (primary) return primary;
  if (index.series.length === 0 && index.skipped.length > 0 && index.skipped.every((s) => s.code === 'E_NOT_DICOM'))
    throw new CtscopeError('E_NOT_DICOM', `no DICOM file among ${index.inputCount} input(s)`);
  // Folders that hold no file at all (an empty export, a mistyped mount point): say that, not "0 inputs".
  if (index.inputCount === 0 && index.skipped.length === 0) throw new CtscopeError('E_NO_CT_SERIES', 'no files found: the input holds no files (an empty folder, or an empty list of buffers)');
  if (index.series.length === 0) {
    // Objects without pixels (an SR, a key object selection) are no fault of theirs: said as what they are.
    const notImages = index.skipped.filter((s) => s.notImage).length;
    const codes = [...new Set(index.skipped.filter((s) => !s.notImage).map((s) => s.code))].join(', ');
    const parts = [...(notImages ? [`${notImages} DICOM object(s) without pixel data, such as an SR`] : []), ...(codes ? [`skipped: ${codes}`] : [])];
    throw new CtscopeError('E_NO_CT_SERIES', `no readable DICOM image among ${index.inputCount} input(s)${parts.length ? ` (${parts.join('; ')})` : ''}`);
  }
  const why = index.series.map((s) => `${s.id}: ${s.reason.replace(/^not primary: /, '')}`).join('; ');
  // A skipped slice file may be why (a CT series cut to one readable image): name it here too.
  const skipped = skippedInputsLine(index.skipped);
  throw new CtscopeError('E_NO_CT_SERIES', `no CT volume among ${index.series.length} series (${why})${skipped ? `; ${skipped}` : ''}`);
}

/** `decodeNext`: pixel data will be decoded after this index (loadSeries, not scanStudy). */
async function indexInput(input: StudyInput, o: FilledLoadOptions, decodeNext: boolean): Promise<{ index: StudyIndex; bytes: ByteTable }> {
  const bytes: ByteTable = new Map();
  // Compressed frames are decoded in the workers: start them while the other headers are read.
  // (Not for uncompressed data, which this thread decodes, nor for an index alone: there the start-up
  // only competes.)
  let warmed = !decodeNext;
  const warmOnce = (): void => {
    if (warmed || (o.threads ?? poolSize()) <= 1) return;
    warmed = true;
    try {
      warmPool(o.threads);
    } catch {
      /* a pool that cannot start fails the decode stage with its own coded error */
    }
  };
  const skipped: SkippedFile[] = [];
  const instances: DicomInstance[] = [];
  let inputCount: number;

  const given = checkInput(input);
  if (given.kind === 'buffers') {
    const list = given.buffers;
    inputCount = list.length;
    o.onProgress({ stage: 'index', done: 0, total: inputCount });
    const turn = eventLoopTurns();
    for (let n = 0; n < list.length; n++) {
      const { name, bytes: b } = list[n]!;
      throwIfAborted(o.signal, 'indexing');
      bytes.set(name, b);
      let compressed = false;
      try {
        // The bytes are in memory already: a full parse costs no pixel decoding and checks the length.
        const inst = parseInstance(b, name);
        accept(inst, instances, skipped);
        compressed = inst.pixelData?.encapsulated === true;
      } catch (e) {
        skipped.push({ ...skip(name, e), named: true });
      }
      if (compressed) warmOnce();
      o.onProgress({ stage: 'index', done: n + 1, total: inputCount });
      // Parsing hundreds of buffers never reaches the event loop by itself: give the host a turn.
      await turn();
    }
  } else {
    o.onProgress({ stage: 'scan', done: 0, total: 0 });
    const scan = await scanPaths(given.paths, { signal: o.signal });
    for (const u of scan.unreadable) skipped.push({ path: u.path, code: 'E_IO', message: `cannot read: ${u.message}` });
    inputCount = scan.files.length;
    o.onProgress({ stage: 'scan', done: inputCount, total: inputCount });
    let done = 0;
    o.onProgress({ stage: 'index', done: 0, total: inputCount });
    await forEachLimited(scan.files, o.headerConcurrency, async (path) => {
      throwIfAborted(o.signal, 'indexing');
      let compressed = false;
      try {
        const inst = await readHeader(path);
        accept(inst, instances, skipped);
        compressed = inst.pixelData?.encapsulated === true;
      } catch (e) {
        const s = skip(path, e);
        skipped.push(scan.named.has(path) ? { ...s, named: true } : s);
      }
      if (compressed) warmOnce();
      o.onProgress({ stage: 'index', done: ++done, total: inputCount });
    });
  }
  instances.sort((a, b) => (a.source < b.source ? -1 : a.source > b.source ? 1 : 0));
  skipped.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return { index: indexStudy(instances, skipped, inputCount, { seriesUid: o.seriesUid }), bytes };
}

/** CT Image, Enhanced CT Image and Legacy Converted Enhanced CT Image Storage: never without pixels. */
const CT_IMAGE_CLASSES = new Set(['1.2.840.10008.5.1.4.1.1.2', '1.2.840.10008.5.1.4.1.1.2.1', '1.2.840.10008.5.1.4.1.1.2.2']);

/**
 * Images go to the index; header-only objects (DICOMDIR, reports) are skipped with a reason. A CT image (its SOP
 * class, or, without one, modality CT with Rows and Columns) without Pixel Data is a slice whose file was cut short before it, or
 * a sequence left open that swallowed it: a lost slice to report, not an object to pass over. Other objects with
 * Rows and Columns may hold their pixels elsewhere (a parametric map's Float Pixel Data) and are no CT images.
 */
function accept(inst: DicomInstance, instances: DicomInstance[], skipped: SkippedFile[]): void {
  if (inst.pixelData && inst.rows > 0 && inst.columns > 0) instances.push(inst);
  else if (CT_IMAGE_CLASSES.has(inst.sopClassUid) || (!inst.sopClassUid && inst.modality === 'CT' && inst.rows > 0 && inst.columns > 0))
    skipped.push({ path: inst.source, code: 'E_TRUNCATED', message: 'CT image header without Pixel Data (the file ends before it, or a sequence left open swallowed it)' });
  else skipped.push({ path: inst.source, code: 'E_UNSUPPORTED_PIXELS', message: 'DICOM object without pixel data (not an image)', notImage: true });
}

/** A file that failed to parse becomes a skipped entry; an abort still ends the whole scan. */
function skip(path: string, e: unknown): SkippedFile {
  const err = toCtscopeError(e, 'E_IO');
  if (err.code === 'E_ABORTED') throw err;
  return { path, code: err.code, message: err.message };
}

/** In-memory instances by the unique name each is known by in the index (see checkInput). */
export interface NamedBuffer {
  name: string;
  bytes: Uint8Array;
}

/**
 * The input as it is when the call starts: a copy of the caller's list and of each { name, bytes } pair (not of the
 * bytes). A host may empty or refill its array, or rename an instance, once the call has returned its promise;
 * the run still reads, and copies patient attributes from, the instances it was given. Holes become undefined,
 * which checkInput reports by position.
 */
export function ownInput(input: StudyInput): StudyInput {
  if (!Array.isArray(input)) return input;
  return Array.from(input as readonly unknown[], (x) =>
    typeof x === 'object' && x !== null && !ArrayBuffer.isView(x) && 'bytes' in x ? { name: (x as BufferInput).name, bytes: (x as BufferInput).bytes } : x,
  ) as StudyInput;
}

type CheckedInput = { kind: 'paths'; paths: string | readonly string[] } | { kind: 'buffers'; buffers: NamedBuffer[] };

/** The in-memory instances of an input, by their index names; undefined for paths. */
export function inputBuffers(input: StudyInput): NamedBuffer[] | undefined {
  const given = checkInput(input);
  return given.kind === 'buffers' ? given.buffers : undefined;
}

/**
 * The input's shape, checked before anything is read (plain-JS hosts get no type check): E_USAGE naming the
 * position and the kind of value, never the value, since a misplaced buffer holds a patient's header.
 * Buffers get unique names (`buffer-<n>` when unnamed, `name#<k>` for repeats): the decode stage finds each
 * one's bytes by its name, so two may never share one.
 */
function checkInput(input: StudyInput): CheckedInput {
  const wrong = (what: string): never => {
    throw new CtscopeError('E_USAGE', `input ${what}; give a folder or file path, a list of paths, or a list of { name, bytes } instances`);
  };
  const paths = (p: string | readonly string[]): CheckedInput => {
    // A URL is no path: say how to load one rather than "no such file or folder".
    if ((typeof p === 'string' ? [p] : p).some((x) => /^[a-z][a-z0-9+.-]*:\/\//i.test(x)))
      throw new CtscopeError('E_USAGE', 'input is a URL, not a file or folder: `ctscope detect` takes a dicomweb+http:// URL itself; a library host retrieves the series with DicomWebClient.retrieve() and passes the instances it returns');
    return { kind: 'paths', paths: p };
  };
  if (typeof input === 'string') return paths(input);
  if (!Array.isArray(input)) return wrong(`is ${kindOf(input)}`);
  const list = input as readonly unknown[];
  if (list.every((x) => typeof x === 'string')) return paths(list as string[]);
  const checked = list.map((x, n) => {
    if (typeof x !== 'object' || x === null || ArrayBuffer.isView(x) || Object.prototype.toString.call(x) === '[object ArrayBuffer]' || !('bytes' in x))
      return wrong(`${n + 1} of ${list.length} is ${kindOf(x)}${ArrayBuffer.isView(x) ? ' (wrap bytes as { name, bytes })' : ''}; paths and instances cannot be mixed`);
    const { name, bytes } = x as { name?: unknown; bytes: unknown };
    if (name !== undefined && typeof name !== 'string') return wrong(`${n + 1}: name is ${kindOf(name)}, not a string`);
    // Tag checks, not instanceof: a Buffer from another context (a vm, a test runner's sandbox) is one too.
    if (Object.prototype.toString.call(bytes) === '[object ArrayBuffer]') return { name: name ?? '', bytes: new Uint8Array(bytes as ArrayBuffer) };
    if (ArrayBuffer.isView(bytes) && !(bytes instanceof DataView) && (bytes as Uint8Array).BYTES_PER_ELEMENT === 1)
      return { name: name ?? '', bytes: bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    return wrong(`${n + 1}: bytes is ${kindOf(bytes)}, not a Uint8Array or ArrayBuffer`);
  });
  const taken = new Set<string>();
  const buffers = checked.map((b, n): NamedBuffer => {
    const base = b.name || `buffer-${n + 1}`;
    let name = base;
    for (let k = n + 1; taken.has(name); k++) name = `${base}#${k}`;
    taken.add(name);
    return { name, bytes: b.bytes };
  });
  return { kind: 'buffers', buffers };
}

/** What a value is, for an error message: its type and no content. */
function kindOf(x: unknown): string {
  if (x === null || x === undefined) return String(x);
  if (Array.isArray(x)) return 'an array';
  if (typeof x !== 'object') return `a ${typeof x}`;
  return `a ${(x as object).constructor?.name ?? 'object'}`;
}

async function forEachLimited<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}
