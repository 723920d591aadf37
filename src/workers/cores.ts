import { availableParallelism } from 'node:os';
import { readFileSync } from 'node:fs';

/**
 * Cores this process may use: the CPUs it may run on (affinity, which `availableParallelism()` reads),
 * capped by a CPU quota of its cgroup. Node 20 does not read the quota, so in a container limited with
 * `--cpus=2` on a 64-core host it would size every pool and session to 64 threads, which then time-slice
 * two cores' worth of quota.
 */
export function usableCores(): number {
  cached ??= coresFromLimits(availableParallelism(), cgroupQuotaCores(readText));
  return cached;
}
let cached: number | undefined;

export function coresFromLimits(affinity: number, quota: number | undefined): number {
  return Math.max(1, quota === undefined ? affinity : Math.min(affinity, quota));
}

type ReadText = (path: string) => string | undefined;

function readText(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * The tightest CPU quota, in whole cores (rounded up), on this process's cgroup path and its parents, or
 * undefined where none is set or readable. cgroup v2: `cpu.max` ("max 100000" or "200000 100000");
 * cgroup v1: `cpu.cfs_quota_us` (-1 for none) over `cpu.cfs_period_us`.
 */
export function cgroupQuotaCores(read: ReadText): number | undefined {
  const self = read('/proc/self/cgroup');
  if (self === undefined) return undefined;
  let best: number | undefined;
  const take = (cores: number | undefined) => {
    if (cores !== undefined && (best === undefined || cores < best)) best = cores;
  };
  for (const line of self.split('\n')) {
    // "hierarchy-id:controllers:path"; v2 is "0::/path"; a path may itself contain ':'.
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    const [, id, controllers, path] = m;
    if (id === '0' && controllers === '') {
      for (const dir of ancestors('/sys/fs/cgroup', path)) take(v2Quota(read(`${dir}/cpu.max`)));
    } else if (controllers.split(',').includes('cpu')) {
      for (const mount of ['/sys/fs/cgroup/cpu,cpuacct', '/sys/fs/cgroup/cpu']) {
        for (const dir of ancestors(mount, path)) take(v1Quota(read(`${dir}/cpu.cfs_quota_us`), read(`${dir}/cpu.cfs_period_us`)));
      }
    }
  }
  return best;
}

/**
 * The cgroup's folder and its parents up to the mount. Inside a container with its own cgroup namespace
 * the path is "/" and the mount is the container's own cgroup, so the mount itself is always included.
 */
function ancestors(mount: string, path: string): string[] {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.' && p !== '..');
  const dirs = [mount];
  for (let i = 1; i <= parts.length; i++) dirs.push(`${mount}/${parts.slice(0, i).join('/')}`);
  return dirs;
}

function v2Quota(text: string | undefined): number | undefined {
  const [quota, period] = (text ?? '').trim().split(/\s+/);
  return quotaCores(Number(quota), Number(period ?? 100_000));
}

function v1Quota(quota: string | undefined, period: string | undefined): number | undefined {
  if (quota === undefined) return undefined;
  return quotaCores(Number(quota.trim()), Number((period ?? '100000').trim()));
}

/** "max" and v1's -1 are NaN or negative here: no quota. */
function quotaCores(quota: number, period: number): number | undefined {
  if (!(quota > 0) || !(period > 0)) return undefined;
  return Math.max(1, Math.ceil(quota / period));
}
