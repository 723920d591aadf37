/**
 * The file each pool thread loads: one named export per task that `pool.run(..., { name })` calls, each a
 * thin adapter over a pure function of a stage module, so tests can call the same code inline.
 *
 * Why CommonJS: piscina require()s this file. Since Node 20.19, require() of an ES module evaluates it
 * synchronously, and a thread terminated in the middle of that (a task aborted, or the pool closed, while
 * its thread starts) aborts the whole process in V8 ("IsGraphAsync must be used on an instantiated module").
 * Here the stage modules load with import(), which a terminated thread survives. They start loading when
 * the thread starts, as piscina's own preload of the entry did.
 */
const resample = import('../resample/task.js');
const decode = import('../dicom/decode-task.js');
const sr = import('../outputs/sr-task.js');
// A module that fails to load fails the tasks that need it, not the thread before any task asks.
for (const m of [resample, decode, sr]) m.catch(() => undefined);

type Resample = Awaited<typeof resample>;
type Decode = Awaited<typeof decode>;
type Sr = Awaited<typeof sr>;

export const resampleSlabTask = async (t: Parameters<Resample['resampleSlabTask']>[0]): Promise<void> => (await resample).resampleSlabTask(t);
export const preprocessTask = async (t: Parameters<Resample['preprocessTask']>[0]): Promise<ReturnType<Resample['preprocessTask']>> => (await resample).preprocessTask(t);
export const decodeSlicesTask = async (t: Parameters<Decode['decodeSlicesTask']>[0]): ReturnType<Decode['decodeSlicesTask']> => (await decode).decodeSlicesTask(t);
export const srBytesTask = async (t: Parameters<Sr['srBytesTask']>[0]): ReturnType<Sr['srBytesTask']> => (await sr).srBytesTask(t);
export const sourceHeaderTask = async (t: Parameters<Sr['sourceHeaderTask']>[0]): ReturnType<Sr['sourceHeaderTask']> => (await sr).sourceHeaderTask(t);

/** Does nothing once the thread has loaded every stage module: one per thread starts the threads ahead of the real work. */
export const readyTask = async (): Promise<true> => {
  await Promise.all([resample, decode, sr]);
  return true;
};
