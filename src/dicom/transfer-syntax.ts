import { CtscopeError } from '../errors.js';

/** Which decoder turns a frame's bytes into stored values. `native` means no codec: the bytes are the values. */
export type CodecId =
  | 'native'
  | 'rle'
  | 'jpeg-baseline'
  | 'jpeg-extended'
  | 'jpeg-lossless'
  | 'jpegls'
  | 'j2k'
  | 'htj2k';

export interface TransferSyntax {
  uid: string;
  name: string;
  /** Pixel data is a sequence of fragments (PS3.5 A.4) rather than a plain value. */
  encapsulated: boolean;
  littleEndian: boolean;
  explicitVR: boolean;
  /** The data set after the File Meta group is raw-deflated (PS3.5 A.5). */
  deflated: boolean;
  lossy: boolean;
  codec: CodecId;
}

type Row = [uid: string, name: string, codec: CodecId, lossy: boolean, extra?: Partial<TransferSyntax>];

const NATIVE_LE = { encapsulated: false };

const ROWS: Row[] = [
  ['1.2.840.10008.1.2', 'Implicit VR Little Endian', 'native', false, { ...NATIVE_LE, explicitVR: false }],
  ['1.2.840.10008.1.2.1', 'Explicit VR Little Endian', 'native', false, NATIVE_LE],
  ['1.2.840.10008.1.2.2', 'Explicit VR Big Endian', 'native', false, { ...NATIVE_LE, littleEndian: false }],
  ['1.2.840.10008.1.2.1.99', 'Deflated Explicit VR Little Endian', 'native', false, { ...NATIVE_LE, deflated: true }],
  ['1.2.840.10008.1.2.5', 'RLE Lossless', 'rle', false],
  ['1.2.840.10008.1.2.4.50', 'JPEG Baseline (Process 1)', 'jpeg-baseline', true],
  ['1.2.840.10008.1.2.4.51', 'JPEG Extended (Process 2 & 4)', 'jpeg-extended', true],
  ['1.2.840.10008.1.2.4.53', 'JPEG Extended (Process 6 & 8, retired)', 'jpeg-extended', true],
  ['1.2.840.10008.1.2.4.55', 'JPEG Full Progression (Process 10 & 12, retired)', 'jpeg-extended', true],
  ['1.2.840.10008.1.2.4.57', 'JPEG Lossless (Process 14)', 'jpeg-lossless', false],
  ['1.2.840.10008.1.2.4.70', 'JPEG Lossless SV1 (Process 14, Selection Value 1)', 'jpeg-lossless', false],
  ['1.2.840.10008.1.2.4.80', 'JPEG-LS Lossless', 'jpegls', false],
  ['1.2.840.10008.1.2.4.81', 'JPEG-LS Near-Lossless', 'jpegls', true],
  ['1.2.840.10008.1.2.4.90', 'JPEG 2000 Lossless', 'j2k', false],
  ['1.2.840.10008.1.2.4.91', 'JPEG 2000', 'j2k', true],
  ['3.2.840.10008.1.2.4.96', 'HTJ2K (private, pre-standard)', 'htj2k', true],
  ['1.2.840.10008.1.2.4.201', 'HTJ2K Lossless', 'htj2k', false],
  ['1.2.840.10008.1.2.4.202', 'HTJ2K Lossless RPCL', 'htj2k', false],
  ['1.2.840.10008.1.2.4.203', 'HTJ2K', 'htj2k', true],
];

/** Transfer syntax UID -> properties. Everything not native is encapsulated, little endian, explicit VR. */
export const TRANSFER_SYNTAXES: ReadonlyMap<string, TransferSyntax> = new Map(
  ROWS.map(([uid, name, codec, lossy, extra]) => [
    uid,
    Object.freeze({
      uid,
      name,
      codec,
      lossy,
      encapsulated: true,
      littleEndian: true,
      explicitVR: true,
      deflated: false,
      ...extra,
    }),
  ]),
);

export const IMPLICIT_VR_LE = '1.2.840.10008.1.2';
export const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
export const EXPLICIT_VR_BE = '1.2.840.10008.1.2.2';
export const DEFLATED_LE = '1.2.840.10008.1.2.1.99';

export function findTransferSyntax(uid: string): TransferSyntax | undefined {
  return TRANSFER_SYNTAXES.get(uid);
}

/** The syntax of `uid`, or E_UNSUPPORTED_SYNTAX naming the UID (a UID is not patient data). */
export function getTransferSyntax(uid: string, where?: string): TransferSyntax {
  const ts = TRANSFER_SYNTAXES.get(uid);
  if (!ts) {
    throw new CtscopeError('E_UNSUPPORTED_SYNTAX', `unsupported transfer syntax ${JSON.stringify(uid)}`, where !== undefined ? { where } : {});
  }
  return ts;
}
