import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/support/globalSetup.ts'],
    // checkReplies: every reply from /v1 is checked against the OpenAPI document's schema for it.
    setupFiles: ['test/support/checkReplies.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Each file gets its own databases, so files run in parallel; two cores here.
    pool: 'forks',
  },
});
