/** The frame header (SOFn) of a JPEG stream: which process and how many bits per sample. */
export interface JpegFrameHeader {
  /** 0..15: the n of SOFn (0 baseline, 1 extended, 2 progressive, 3 lossless...). */
  process: number;
  precision: number;
  /** Y, X and Nf of the SOF segment, when the segment is complete enough to hold them. */
  rows?: number;
  columns?: number;
  components?: number;
}

/** Walks marker segments up to the first SOFn; undefined when the stream has none. */
export function readJpegFrameHeader(b: Uint8Array): JpegFrameHeader | undefined {
  if (b.length < 4 || b[0] !== 0xff || b[1] !== 0xd8) return undefined;
  let p = 2;
  while (p + 4 <= b.length) {
    if (b[p] !== 0xff) return undefined;
    const m = b[p + 1]!;
    if (m === 0xff) {
      p++;
      continue;
    }
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    const isSof = m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
    if (isSof) {
      if (p + 4 >= b.length) return undefined;
      const header: JpegFrameHeader = { process: m - 0xc0, precision: b[p + 4]! };
      if (p + 9 < b.length) {
        header.rows = (b[p + 5]! << 8) | b[p + 6]!;
        header.columns = (b[p + 7]! << 8) | b[p + 8]!;
        header.components = b[p + 9]!;
      }
      return header;
    }
    p += 2 + len;
  }
  return undefined;
}

/** True when the stream ends with EOI (FFD9), allowing a few bytes of fragment padding after it. */
export function endsWithEoi(b: Uint8Array): boolean {
  for (let end = b.length; end >= 2 && b.length - end <= 4; end--) {
    if (b[end - 2] === 0xff && b[end - 1] === 0xd9) return true;
  }
  return false;
}
