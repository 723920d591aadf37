/**
 * Process groups of children started in a group of their own (the bench's data script and its jobs), so that one
 * signal stops a child and everything it started: a SIGTERM to the child alone left its jobs running.
 */
const groups = new Set<number>();

/** Sends `signal` to a tracked group (its leader's pid); a group already gone is no error. */
export function signalGroup(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // gone already
  }
}

/** Tracks the group of a child started with `detached: true`; the returned function stops tracking it. */
export function trackGroup(pid: number): () => void {
  groups.add(pid);
  return () => void groups.delete(pid);
}

/** For an exit that skips every other clean-up (a second Ctrl-C): the tracked groups are told to stop. */
export function signalTrackedGroupsSync(signal: NodeJS.Signals = 'SIGTERM'): void {
  for (const pid of groups) signalGroup(pid, signal);
  groups.clear();
}
