import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where Debian's orthanc-dicomweb puts the plugin; found with `dpkg -L` when elsewhere. */
function pluginPath(): string | undefined {
  const known = '/usr/share/orthanc/plugins/libOrthancDicomWeb.so';
  if (existsSync(known)) return known;
  const r = spawnSync('dpkg', ['-L', 'orthanc-dicomweb'], { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.split('\n').find((l) => /libOrthancDicomWeb\.so/.test(l) && existsSync(l)) : undefined;
}

function orthancBinary(): string | undefined {
  for (const p of ['/usr/sbin/Orthanc', '/usr/bin/Orthanc']) if (existsSync(p)) return p;
  const r = spawnSync('sh', ['-c', 'command -v Orthanc'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
}

/** Why the Orthanc tests cannot run here, or undefined when they can. */
export function orthancMissing(): string | undefined {
  if (!orthancBinary()) return 'Orthanc is not installed (Debian package `orthanc`)';
  if (!pluginPath()) return 'the Orthanc DICOMweb plugin is not installed (Debian package `orthanc-dicomweb`)';
  return undefined;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export interface OrthancServer {
  /** http://127.0.0.1:<port> */
  url: string;
  /** DICOMweb root: <url>/dicom-web */
  dicomWeb: string;
  stop(): Promise<void>;
}

/**
 * Starts a throw-away Orthanc on loopback with the DICOMweb plugin, its storage in a temp folder; with `users`,
 * Orthanc's own login (HTTP Basic) is on.
 */
export async function startOrthanc(users?: Record<string, string>): Promise<OrthancServer> {
  const bin = orthancBinary(), plugin = pluginPath();
  if (!bin || !plugin) throw new Error(orthancMissing());
  const dir = mkdtempSync(join(tmpdir(), 'ctscope-orthanc-'));
  mkdirSync(join(dir, 'storage'));
  mkdirSync(join(dir, 'index'));
  const port = await freePort();
  const config = {
    Name: 'ctscope-test',
    HttpPort: port,
    DicomServerEnabled: false,
    StorageDirectory: join(dir, 'storage'),
    IndexDirectory: join(dir, 'index'),
    Plugins: [plugin],
    RemoteAccessAllowed: false,
    AuthenticationEnabled: users !== undefined,
    ...(users ? { RegisteredUsers: users } : {}),
    SslEnabled: false,
    HttpCompressionEnabled: false,
    SaveJobs: false,
    DicomWeb: { Enable: true, Root: '/dicom-web/', EnableWado: false, StudiesMetadata: 'Full', SeriesMetadata: 'Full' },
  };
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const log: string[] = [];
  const child: ChildProcess = spawn(bin, [join(dir, 'config.json')], { stdio: ['ignore', 'pipe', 'pipe'], cwd: dir });
  child.stdout!.on('data', (d: Buffer) => log.push(d.toString()));
  child.stderr!.on('data', (d: Buffer) => log.push(d.toString()));
  let exited = false;
  const exit = new Promise<void>((resolve) => child.once('exit', () => ((exited = true), resolve())));
  const url = `http://127.0.0.1:${port}`;
  const stop = async (): Promise<void> => {
    if (!exited) {
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exit;
      clearTimeout(t);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (exited) {
      await stop();
      throw new Error(`Orthanc exited while starting:\n${log.join('').slice(-2000)}`);
    }
    try {
      const [user, password] = Object.entries(users ?? {})[0] ?? [];
      const headers: Record<string, string> = user ? { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } : {};
      const r = await fetch(`${url}/system`, { signal: AbortSignal.timeout(1000), headers });
      if (r.ok) {
        const plugins = (await (await fetch(`${url}/plugins`, { headers })).json()) as string[];
        if (!plugins.includes('dicom-web')) {
          await stop();
          throw new Error(`Orthanc started without the DICOMweb plugin (plugins: ${plugins.join(', ')})`);
        }
        break;
      }
    } catch (e) {
      if (e instanceof Error && /without the DICOMweb/.test(e.message)) throw e;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Orthanc did not answer /system within 20 s:\n${log.join('').slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, dicomWeb: `${url}/dicom-web`, stop };
}
