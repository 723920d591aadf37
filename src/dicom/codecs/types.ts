import type { CodecId } from '../transfer-syntax.js';

/** What the data set says a frame holds; codecs check their output against it. */
export interface FrameLayout {
  rows: number;
  columns: number;
  samplesPerPixel: number;
  bitsAllocated: number;
  bitsStored: number;
  pixelRepresentation: 0 | 1;
}

/**
 * A decoded frame. Unsigned arrays hold bit patterns (two's complement for signed data) that still need
 * sign extension from BitsStored; Int16Array values are already signed (J2K reports signedness itself).
 */
export interface DecodedFrame {
  pixels: Uint8Array | Uint16Array | Int16Array;
  /**
   * The samples are the raw container bits as in native data (RLE): bits above BitsStored are
   * not pixel data and are masked off. Lossy codecs may overshoot BitsStored, so their values are kept.
   */
  raw: boolean;
}

export interface Codec {
  id: Exclude<CodecId, 'native'>;
  /** npm package doing the work, for messages and the README. */
  package: string;
  decode(encoded: Uint8Array, layout: FrameLayout): Promise<DecodedFrame>;
}
