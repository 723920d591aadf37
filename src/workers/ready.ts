/** Pool task that does nothing: running one per thread starts the threads ahead of the real work. */
export function readyTask(): true {
  return true;
}
