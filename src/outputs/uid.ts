import { createHash, randomUUID } from 'node:crypto';
import { version } from '../version.js';

/** A fresh UID under the UUID-derived root 2.25 (PS3.5 B.2). */
export function newUid(): string {
  return `2.25.${BigInt(`0x${randomUUID().replace(/-/g, '')}`).toString()}`;
}

/** A stable 2.25 UID for a name (same name, same UID). */
export function nameUid(name: string): string {
  const h = createHash('sha256').update(name).digest('hex').slice(0, 32);
  // Clear the top bits like a UUID would so the decimal stays under 39 digits.
  return `2.25.${(BigInt(`0x${h}`) >> 2n).toString()}`;
}

/** DICOM DA and TM (UTC) of a date. */
/**
 * DA and TM of an instant, at a UTC offset given as DICOM writes it ("+0900", "-0530"), else in this machine's
 * local time: the SR's own dates must be read in the same zone as the study's, which DICOM gives as local time
 * with at most one offset for the whole data set (0008,0201).
 */
export function dicomDateTime(d: Date, offset?: string): { date: string; time: string } {
  const m = offset ? /^([+-])(\d{2})(\d{2})$/.exec(offset.trim()) : null;
  // Offsets in use run from -12:00 to +14:00; '+9999' is no offset but a broken value, which would move the date by days.
  const valid = m !== null && Number(m[3]) < 60 && Number(m[2]) * 60 + Number(m[3]) <= (m[1] === '-' ? 12 : 14) * 60;
  const minutes = valid ? (m[1] === '-' ? -1 : 1) * (Number(m[2]) * 60 + Number(m[3])) : -d.getTimezoneOffset();
  const iso = new Date(d.getTime() + minutes * 60_000).toISOString();
  return { date: iso.slice(0, 10).replaceAll('-', ''), time: iso.slice(11, 19).replaceAll(':', '') };
}

/** ctscope as a File Meta names it (0002,0012 and 0002,0013). */
export const IMPLEMENTATION = { classUid: nameUid('ctscope implementation class'), version: `CTSCOPE_${version}`.slice(0, 16) };
