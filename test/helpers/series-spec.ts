import type { CtSeriesSpec } from '../../src/synth/dicom-writer.js';
import type { Geometry } from '../../src/volume/types.js';

/**
 * A CT series header for a test volume written with the synth slice writer: UIDs under `uidRoot`, fixed
 * descriptive values (no real patient), signed 16-bit pixels unless `over` says otherwise.
 */
export function testSeriesSpec(geometry: Geometry, uidRoot: string, over: Partial<CtSeriesSpec> = {}): CtSeriesSpec {
  return {
    geometry,
    encoding: { bitsStored: 16, signed: true, intercept: 0, slope: 1 },
    studyInstanceUid: `${uidRoot}.1000`,
    seriesInstanceUid: `${uidRoot}.1`,
    frameOfReferenceUid: `${uidRoot}.1001`,
    sopInstanceUid: (k) => `${uidRoot}.2.${k + 1}`,
    patientName: 'PHANTOM^TEST',
    patientId: 'TEST-1',
    patientPosition: 'HFS',
    bodyPart: 'CHEST',
    studyDescription: 'test',
    seriesDescription: 'test',
    date: '20200101',
    time: '120000',
    seriesNumber: 1,
    sliceThickness: geometry.spacing[2],
    kernel: 'B',
    window: { center: 40, width: 400 },
    manufacturer: 'ctscope-test',
    model: 'test',
    softwareVersion: '1',
    ...over,
  };
}
