import { spawnSync } from 'node:child_process';

/** Debian packages of the reference tools (.ci/run installs them). */
const PACKAGES: Record<string, string> = {
  dcm2niix: 'dcm2niix',
  dcmdump: 'dcmtk',
  dsrdump: 'dcmtk',
  dciodvfy: 'dicom3tools',
  gdcmconv: 'libgdcm-tools',
  chromium: 'chromium',
  Orthanc: 'orthanc',
  openssl: 'openssl',
};
const found = new Map<string, boolean>();

/**
 * Whether a command is on PATH. A missing one is said once per test file, naming its Debian package, so a check
 * that is skipped for want of it is never silent.
 */
export function hasTool(cmd: string): boolean {
  let ok = found.get(cmd);
  if (ok === undefined) {
    ok = spawnSync('sh', ['-c', `command -v '${cmd}'`], { stdio: 'ignore' }).status === 0;
    found.set(cmd, ok);
    if (!ok) console.warn(`SKIP the checks that need ${cmd}: not on PATH (Debian package ${PACKAGES[cmd] ?? cmd})`);
  }
  return ok;
}
