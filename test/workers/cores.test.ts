import { describe, expect, it } from 'vitest';
import { availableParallelism } from 'node:os';
import { cgroupQuotaCores, coresFromLimits, usableCores } from '../../src/workers/cores.js';

/** A fake /proc and /sys: path -> file text. */
const files = (map: Record<string, string>) => (path: string) => map[path];

describe('usable cores: affinity capped by the cgroup CPU quota', () => {
  it('cgroup v2: the tightest cpu.max on the path and its parents, rounded up', () => {
    const read = files({
      '/proc/self/cgroup': '0::/system.slice/docker-abc.scope\n',
      '/sys/fs/cgroup/cpu.max': 'max 100000\n',
      '/sys/fs/cgroup/system.slice/cpu.max': '800000 100000\n',
      '/sys/fs/cgroup/system.slice/docker-abc.scope/cpu.max': '150000 100000\n',
    });
    expect(cgroupQuotaCores(read)).toBe(2);
  });

  it('cgroup v2 in a container namespace ("0::/"): the mount root itself', () => {
    expect(cgroupQuotaCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '300000 100000\n' }))).toBe(3);
    expect(cgroupQuotaCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'max 100000\n' }))).toBeUndefined();
  });

  it('cgroup v1: cfs_quota_us over cfs_period_us, -1 is no quota', () => {
    const cgroup = '12:pids:/\n4:cpu,cpuacct:/kubepods/pod1/c1\n1:name=systemd:/\n';
    expect(
      cgroupQuotaCores(
        files({
          '/proc/self/cgroup': cgroup,
          '/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_quota_us': '50000\n',
          '/sys/fs/cgroup/cpu,cpuacct/kubepods/pod1/c1/cpu.cfs_period_us': '100000\n',
          '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n',
        }),
      ),
    ).toBe(1);
    expect(cgroupQuotaCores(files({ '/proc/self/cgroup': cgroup, '/sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us': '-1\n' }))).toBeUndefined();
  });

  it('no /proc (not Linux), unreadable or garbled files: no quota', () => {
    expect(cgroupQuotaCores(files({}))).toBeUndefined();
    expect(cgroupQuotaCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': 'nonsense' }))).toBeUndefined();
    expect(cgroupQuotaCores(files({ '/proc/self/cgroup': '0::/\n', '/sys/fs/cgroup/cpu.max': '0 100000' }))).toBeUndefined();
  });

  it('the quota caps the affinity, never below one core', () => {
    expect(coresFromLimits(64, 2)).toBe(2);
    expect(coresFromLimits(2, 8)).toBe(2);
    expect(coresFromLimits(4, undefined)).toBe(4);
    expect(coresFromLimits(0, undefined)).toBe(1);
  });

  it('on this machine: at least one core and never more than the affinity allows', () => {
    const n = usableCores();
    expect(n).toBeGreaterThanOrEqual(1);
    expect(n).toBeLessThanOrEqual(availableParallelism());
  });
});
