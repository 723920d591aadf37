import type { DataSet } from './dicom-parser.js';

/** Typed reads of data set values; all return undefined for absent, empty or unparsable values. */

export function str(ds: DataSet, tag: string): string | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0 || el.length === 0xffffffff) return undefined;
  const s = ds.string(tag);
  if (s === undefined) return undefined;
  const t = s.replace(/\0+$/, '').trim();
  return t.length > 0 ? t : undefined;
}

const UTF8 = new TextDecoder('utf-8');

/**
 * A free-text value (LO, SH: a description, a manufacturer) decoded as its data set's SpecificCharacterSet says
 * where that is UTF-8 (ISO_IR 192); other sets are read one character per byte, as `str` does (an `Ü` in a UTF-8
 * description printed as two Latin-1 characters).
 */
export function text(ds: DataSet, tag: string): string | undefined {
  const el = ds.elements[tag];
  if (!el || el.length === 0 || el.length === 0xffffffff) return undefined;
  if (!strs(ds, 'x00080005').some((c) => c.toUpperCase() === 'ISO_IR 192')) return str(ds, tag);
  // Up to the first NUL, as `str` reads (padding, or garbage after it).
  const t = UTF8.decode(ds.byteArray.subarray(el.dataOffset, el.dataOffset + el.length)).replace(/\0[\s\S]*$/, '').trim();
  return t.length > 0 ? t : undefined;
}

export function strs(ds: DataSet, tag: string): string[] {
  const s = str(ds, tag);
  return s === undefined ? [] : s.split('\\').map((v) => v.trim());
}

/** A DS/IS value (decimal string) at `index`. */
export function num(ds: DataSet, tag: string, index = 0): number | undefined {
  const v = strs(ds, tag)[index];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  return Number.isFinite(n) ? n : undefined;
}

export function int(ds: DataSet, tag: string): number | undefined {
  const n = num(ds, tag);
  return n !== undefined && Number.isInteger(n) ? n : undefined;
}

/** Exactly `n` DS values, or undefined when any is missing or not a number. */
export function nums<N extends number>(ds: DataSet, tag: string, n: N): number[] | undefined {
  const parts = strs(ds, tag);
  if (parts.length < n) return undefined;
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const v = Number(parts[i]);
    if (parts[i] === '' || !Number.isFinite(v)) return undefined;
    out.push(v);
  }
  return out;
}

/** A US value; with `signed`, the same two bytes read as SS (US/SS tags whose VR follows PixelRepresentation). */
export function us(ds: DataSet, tag: string, signed = false): number | undefined {
  const el = ds.elements[tag];
  if (!el || el.length < 2 || el.length === 0xffffffff) return undefined;
  const v = ds.uint16(tag);
  if (v === undefined) return undefined;
  return signed ? (v << 16) >> 16 : v;
}

/** The data set of item `index` of sequence `tag`. */
export function item(ds: DataSet | undefined, tag: string, index = 0): DataSet | undefined {
  return ds?.elements[tag]?.items?.[index]?.dataSet;
}

export function itemCount(ds: DataSet, tag: string): number {
  return ds.elements[tag]?.items?.length ?? 0;
}
