import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    setupFiles: ['test/support/promiseWithResolvers.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file gets its own databases, so files run in parallel; two cores here.
    pool: 'forks',
  },
});
