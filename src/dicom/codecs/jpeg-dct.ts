/**
 * A small DCT JPEG decoder (ITU-T T.81) for what the WASM libjpeg-turbo build cannot do: 12-bit
 * samples. Handles Huffman-coded sequential (SOF0/SOF1) and progressive (SOF2) frames with one
 * component, restart intervals, 8- or 16-bit quantisation tables. Written for grayscale medical
 * images, not as a general JPEG library: colour, arithmetic coding and hierarchical mode are refused.
 */

export interface DctImage {
  width: number;
  height: number;
  precision: number;
  /** Samples in raster order: Uint8Array for 8-bit precision, Uint16Array for 12-bit. */
  samples: Uint8Array | Uint16Array;
}

/** Zig-zag index -> natural (row-major) index of an 8x8 block. */
const ZIGZAG = Int32Array.from([
  0, 1, 8, 16, 9, 2, 3, 10, 17, 24, 32, 25, 18, 11, 4, 5, 12, 19, 26, 33, 40, 48, 41, 34, 27, 20, 13, 6, 7, 14, 21, 28,
  35, 42, 49, 56, 57, 50, 43, 36, 29, 22, 15, 23, 30, 37, 44, 51, 58, 59, 52, 45, 38, 31, 39, 46, 53, 60, 61, 54, 47, 55,
  62, 63,
]);

/** IDCT basis: C[x * 8 + u] = c(u)/2 * cos((2x + 1) u pi / 16). */
const IDCT_BASIS = (() => {
  const t = new Float64Array(64);
  for (let x = 0; x < 8; x++) {
    for (let u = 0; u < 8; u++) t[x * 8 + u] = (u === 0 ? Math.SQRT1_2 : 1) * 0.5 * Math.cos(((2 * x + 1) * u * Math.PI) / 16);
  }
  return t;
})();

class JpegError extends Error {}

/** Canonical Huffman table (T.81 Annex C / F.2.2.3) with a 9-bit lookahead for short codes. */
interface Huffman {
  /** Largest code of each length 1..16 (-1 when none); index 17 is a sentinel. */
  maxCode: Int32Array;
  /** Offset into `values` of the first code of each length, minus that code. */
  delta: Int32Array;
  values: Uint8Array;
  /** (length << 8 | value) for every 9-bit prefix whose code is at most 9 bits; 0 when longer. */
  fast: Uint16Array;
}

const FAST_BITS = 9;

function buildHuffman(counts: Uint8Array, values: Uint8Array): Huffman {
  const maxCode = new Int32Array(18).fill(-1);
  const delta = new Int32Array(17);
  const fast = new Uint16Array(1 << FAST_BITS);
  let code = 0;
  let k = 0;
  for (let len = 1; len <= 16; len++) {
    const n = counts[len - 1]!;
    delta[len] = k - code;
    for (let i = 0; i < n; i++, k++, code++) {
      if (len <= FAST_BITS) {
        const shift = FAST_BITS - len;
        for (let j = 0; j < 1 << shift; j++) fast[(code << shift) | j] = (len << 8) | values[k]!;
      }
    }
    if (n > 0) maxCode[len] = code - 1;
    if (code > 1 << len) throw new JpegError('invalid Huffman table');
    code <<= 1;
  }
  maxCode[17] = 0x7fffffff;
  return { maxCode, delta, values, fast };
}

/** Entropy-coded data reader: removes stuffed zero bytes, stops at markers (feeding zeros). */
class BitReader {
  private acc = 0;
  private bits = 0;
  /** A marker was met inside entropy data (or the data ran out). */
  hitMarker = false;

  constructor(
    private readonly b: Uint8Array,
    public pos: number,
  ) {}

  private fill(): void {
    while (this.bits <= 24) {
      let byte = 0;
      if (!this.hitMarker && this.pos < this.b.length) {
        byte = this.b[this.pos]!;
        if (byte === 0xff) {
          const next = this.b[this.pos + 1];
          if (next === 0x00) this.pos += 2;
          else {
            this.hitMarker = true;
            byte = 0;
          }
        } else this.pos++;
      } else {
        this.hitMarker = true;
      }
      this.acc = ((this.acc << 8) | byte) >>> 0;
      this.bits += 8;
    }
  }

  peek(n: number): number {
    if (this.bits < n) this.fill();
    return (this.acc >>> (this.bits - n)) & ((1 << n) - 1);
  }

  skip(n: number): void {
    this.bits -= n;
    this.acc &= this.bits === 32 ? 0xffffffff : (1 << this.bits) - 1;
  }

  bit(): number {
    const v = this.peek(1);
    this.skip(1);
    return v;
  }

  receive(n: number): number {
    if (n === 0) return 0;
    if (n > 16) throw new JpegError('coefficient magnitude category over 16');
    const v = this.peek(n);
    this.skip(n);
    return v;
  }

  /** EXTEND (T.81 F.2.2.1): an n-bit magnitude category value to a signed difference. */
  receiveExtend(n: number): number {
    if (n === 0) return 0;
    const v = this.receive(n);
    return v < 1 << (n - 1) ? v - (1 << n) + 1 : v;
  }

  decode(h: Huffman): number {
    const f = h.fast[this.peek(FAST_BITS)]!;
    if (f !== 0) {
      this.skip(f >> 8);
      return f & 0xff;
    }
    let code = this.peek(FAST_BITS);
    this.skip(FAST_BITS);
    let len = FAST_BITS;
    while (code > h.maxCode[len]!) {
      code = (code << 1) | this.bit();
      if (++len > 16) throw new JpegError('bad Huffman code');
    }
    return h.values[code + h.delta[len]!]!;
  }

  /** Drops buffered bits and steps over the RSTn marker expected at a restart boundary. */
  restart(): void {
    this.acc = 0;
    this.bits = 0;
    this.hitMarker = false;
    let p = this.pos;
    while (p + 1 < this.b.length && !(this.b[p] === 0xff && this.b[p + 1]! >= 0xd0 && this.b[p + 1]! <= 0xd7)) p++;
    if (p + 1 >= this.b.length) throw new JpegError('missing restart marker');
    this.pos = p + 2;
  }
}

interface Frame {
  progressive: boolean;
  precision: number;
  width: number;
  height: number;
  quantTable: number;
  blocksPerLine: number;
  blockRows: number;
  /** Coefficients of every block, natural order, 64 per block. */
  coef: Int32Array;
}

interface Scan {
  dc?: Huffman;
  ac?: Huffman;
  ss: number;
  se: number;
  ah: number;
  al: number;
}

/** Decodes the MCUs (blocks: one component, non-interleaved) of one scan into frame.coef. */
function decodeScan(r: BitReader, f: Frame, s: Scan, restartInterval: number): void {
  const total = f.blocksPerLine * f.blockRows;
  const coef = f.coef;
  let pred = 0;
  let eobrun = 0;
  const { ss, se, ah, al } = s;
  const p1 = 1 << al;
  const m1 = -1 << al;

  const refineBit = (z: number) => {
    if (r.bit() && (coef[z]! & p1) === 0) coef[z] = coef[z]! + (coef[z]! >= 0 ? p1 : m1);
  };

  for (let blk = 0; blk < total; blk++) {
    if (restartInterval > 0 && blk > 0 && blk % restartInterval === 0) {
      r.restart();
      pred = 0;
      eobrun = 0;
    }
    const base = blk * 64;
    if (!f.progressive) {
      const t = r.decode(s.dc!);
      pred += r.receiveExtend(t);
      coef[base] = pred;
      for (let k = 1; k < 64; ) {
        const rs = r.decode(s.ac!);
        const size = rs & 15;
        const run = rs >> 4;
        if (size === 0) {
          if (run !== 15) break;
          k += 16;
          continue;
        }
        k += run;
        if (k > 63) throw new JpegError('coefficient index past 63');
        coef[base + ZIGZAG[k]!] = r.receiveExtend(size);
        k++;
      }
    } else if (ss === 0) {
      if (ah === 0) {
        pred += r.receiveExtend(r.decode(s.dc!));
        coef[base] = pred * p1;
      } else if (r.bit()) coef[base] = coef[base]! | p1;
    } else if (ah === 0) {
      if (eobrun > 0) {
        eobrun--;
        continue;
      }
      for (let k = ss; k <= se; ) {
        const rs = r.decode(s.ac!);
        const size = rs & 15;
        const run = rs >> 4;
        if (size === 0) {
          if (run < 15) {
            eobrun = (1 << run) - 1 + r.receive(run);
            break;
          }
          k += 16;
          continue;
        }
        k += run;
        if (k > 63) throw new JpegError('coefficient index past 63');
        coef[base + ZIGZAG[k]!] = r.receiveExtend(size) * p1;
        k++;
      }
    } else {
      // Successive approximation of AC coefficients (T.81 G.1.2.3).
      let k = ss;
      if (eobrun === 0) {
        for (; k <= se; k++) {
          const rs = r.decode(s.ac!);
          let run = rs >> 4;
          const size = rs & 15;
          let value = 0;
          if (size !== 0) {
            if (size !== 1) throw new JpegError('bad refinement coefficient size');
            value = r.bit() ? p1 : m1;
          } else if (run !== 15) {
            eobrun = (1 << run) + r.receive(run);
            break;
          }
          while (k <= se) {
            const z = base + ZIGZAG[k]!;
            if (coef[z] !== 0) refineBit(z);
            else if (--run < 0) break;
            k++;
          }
          if (value !== 0 && k <= se) coef[base + ZIGZAG[k]!] = value;
        }
      }
      if (eobrun > 0) {
        for (; k <= se; k++) {
          const z = base + ZIGZAG[k]!;
          if (coef[z] !== 0) refineBit(z);
        }
        eobrun--;
      }
    }
  }
}

/** Dequantises, inverse-transforms and level-shifts every block into the output image. */
function reconstruct(f: Frame, q: Int32Array): Uint8Array | Uint16Array {
  const { width, height, blocksPerLine, blockRows, coef } = f;
  const max = (1 << f.precision) - 1;
  const shift = 1 << (f.precision - 1);
  const out = f.precision > 8 ? new Uint16Array(width * height) : new Uint8Array(width * height);
  const tmp = new Float64Array(64);
  const deq = new Float64Array(64);
  const C = IDCT_BASIS;
  for (let by = 0; by < blockRows; by++) {
    for (let bx = 0; bx < blocksPerLine; bx++) {
      const base = (by * blocksPerLine + bx) * 64;
      let acZero = true;
      for (let i = 1; i < 64; i++) {
        if (coef[base + i] !== 0) {
          acZero = false;
          break;
        }
      }
      if (acZero) {
        // Flat block (common in air and soft tissue): every sample is DC / 8.
        const s = Math.round((coef[base]! * q[0]!) / 8) + shift;
        const v = s < 0 ? 0 : s > max ? max : s;
        for (let y = 0; y < 8 && by * 8 + y < height; y++) {
          const row = (by * 8 + y) * width;
          for (let x = 0; x < 8 && bx * 8 + x < width; x++) out[row + bx * 8 + x] = v;
        }
        continue;
      }
      for (let i = 0; i < 64; i++) deq[i] = coef[base + i]! * q[i]!;
      // Rows: tmp[v][x] = sum_u C[x][u] deq[v][u]
      for (let v = 0; v < 8; v++) {
        for (let x = 0; x < 8; x++) {
          let sum = 0;
          for (let u = 0; u < 8; u++) sum += C[x * 8 + u]! * deq[v * 8 + u]!;
          tmp[v * 8 + x] = sum;
        }
      }
      // Columns, then level shift and clamp.
      for (let y = 0; y < 8; y++) {
        const row = by * 8 + y;
        if (row >= height) break;
        for (let x = 0; x < 8; x++) {
          const col = bx * 8 + x;
          if (col >= width) break;
          let sum = 0;
          for (let v = 0; v < 8; v++) sum += C[y * 8 + v]! * tmp[v * 8 + x]!;
          const s = Math.round(sum) + shift;
          out[row * width + col] = s < 0 ? 0 : s > max ? max : s;
        }
      }
    }
  }
  return out;
}

function u16(b: Uint8Array, p: number): number {
  if (p + 2 > b.length) throw new JpegError('stream ends inside a marker segment');
  return (b[p]! << 8) | b[p + 1]!;
}

/** Decodes a one-component DCT JPEG stream (8 or 12-bit, sequential or progressive, Huffman). */
export function decodeDctJpeg(b: Uint8Array, expected?: { width: number; height: number }): DctImage {
  if (u16(b, 0) !== 0xffd8) throw new JpegError('no SOI marker');
  const quant: Array<Int32Array | undefined> = [];
  const dcTables: Array<Huffman | undefined> = [];
  const acTables: Array<Huffman | undefined> = [];
  let restartInterval = 0;
  let frame: Frame | undefined;
  let p = 2;
  let sawEoi = false;
  while (p < b.length) {
    if (b[p] !== 0xff) throw new JpegError(`expected a marker at byte ${p}`);
    const m = b[p + 1];
    if (m === undefined) break;
    if (m === 0xff) {
      p++;
      continue;
    }
    p += 2;
    if (m === 0xd9) {
      sawEoi = true;
      break;
    }
    if (m >= 0xd0 && m <= 0xd7) continue;
    const len = u16(b, p);
    const end = p + len;
    if (len < 2 || end > b.length) throw new JpegError('marker segment runs past the end of the stream');
    const seg = p + 2;
    if (m === 0xdb) {
      for (let q = seg; q < end; ) {
        const pq = b[q]! >> 4;
        const tq = b[q]! & 15;
        q++;
        const t = new Int32Array(64);
        for (let k = 0; k < 64; k++) {
          t[ZIGZAG[k]!] = pq ? u16(b, q + 2 * k) : b[q + k]!;
        }
        q += pq ? 128 : 64;
        if (q > end) throw new JpegError('DQT segment too short');
        quant[tq] = t;
      }
    } else if (m === 0xc4) {
      for (let q = seg; q < end; ) {
        const tc = b[q]! >> 4;
        const th = b[q]! & 15;
        const counts = b.subarray(q + 1, q + 17);
        let n = 0;
        for (const c of counts) n += c;
        if (q + 17 + n > end) throw new JpegError('DHT segment too short');
        const table = buildHuffman(counts, b.slice(q + 17, q + 17 + n));
        (tc === 0 ? dcTables : acTables)[th] = table;
        q += 17 + n;
      }
    } else if (m === 0xdd) {
      restartInterval = u16(b, seg);
    } else if (m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc) {
      const process = m - 0xc0;
      if (process > 2) throw new JpegError(`JPEG process SOF${process} is not supported (only sequential and progressive Huffman)`);
      const precision = b[seg]!;
      const height = u16(b, seg + 1);
      const width = u16(b, seg + 3);
      const components = b[seg + 5]!;
      if (components !== 1) throw new JpegError(`${components} components; only grayscale is supported`);
      if (precision !== 8 && precision !== 12) throw new JpegError(`precision ${precision}`);
      if (width === 0 || height === 0) throw new JpegError('zero image size (DNL is not supported)');
      if (expected && (width !== expected.width || height !== expected.height)) {
        // Checked before allocating coefficient memory from the stream's own numbers.
        throw new JpegError(`stream is ${width}x${height}, expected ${expected.width}x${expected.height}`);
      }
      const blocksPerLine = Math.ceil(width / 8);
      const blockRows = Math.ceil(height / 8);
      frame = {
        progressive: process === 2,
        precision,
        width,
        height,
        quantTable: b[seg + 8]! & 15,
        blocksPerLine,
        blockRows,
        coef: new Int32Array(blocksPerLine * blockRows * 64),
      };
    } else if (m === 0xda) {
      if (!frame) throw new JpegError('scan before frame header');
      const ns = b[seg]!;
      if (ns !== 1) throw new JpegError(`scan with ${ns} components`);
      const tables = b[seg + 2]!;
      const scan: Scan = {
        dc: dcTables[tables >> 4],
        ac: acTables[tables & 15],
        ss: b[seg + 3]!,
        se: b[seg + 4]!,
        ah: b[seg + 5]! >> 4,
        al: b[seg + 5]! & 15,
      };
      const needsDc = !frame.progressive || scan.ss === 0;
      const needsAc = !frame.progressive || scan.ss > 0;
      if ((needsDc && !scan.dc && !(frame.progressive && scan.ah > 0)) || (needsAc && !scan.ac)) throw new JpegError('scan uses an undefined Huffman table');
      if (scan.se > 63 || scan.ss > scan.se) throw new JpegError('bad spectral selection');
      const r = new BitReader(b, end);
      decodeScan(r, frame, scan, restartInterval);
      // Continue at the marker after the entropy-coded data.
      let q = r.pos;
      while (q + 1 < b.length && !(b[q] === 0xff && b[q + 1] !== 0 && !(b[q + 1]! >= 0xd0 && b[q + 1]! <= 0xd7))) q++;
      if (q + 1 >= b.length) throw new JpegError('stream ends inside entropy-coded data');
      p = q;
      continue;
    }
    // APPn, COM and others: skip.
    p = end;
  }
  if (!frame) throw new JpegError('no frame header');
  if (!sawEoi) throw new JpegError('stream ends without EOI');
  const q = quant[frame.quantTable];
  if (!q) throw new JpegError('frame uses an undefined quantisation table');
  return { width: frame.width, height: frame.height, precision: frame.precision, samples: reconstruct(frame, q) };
}
