/**
 * For loops over in-memory data that never wait on I/O (parsing buffers, decoding frames on this thread):
 * the returned function gives the event loop a turn (setImmediate) once `everyMs` have passed since the
 * last one, so a host's timers, I/O and abort signals still run. Await it once per item.
 */
export function eventLoopTurns(everyMs = 10): () => Promise<void> {
  let last = performance.now();
  return async () => {
    if (performance.now() - last < everyMs) return;
    await new Promise((r) => setImmediate(r));
    last = performance.now();
  };
}
