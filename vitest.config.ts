import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // One temporary root per run, removed afterwards (set CTSCOPE_KEEP_TEST_TMP=1 to inspect it).
    globalSetup: ['test/helpers/tmp-root.ts'],
    // Worker pools and WASM codecs are heavy; two cores are the norm here.
    fileParallelism: true,
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
