import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tests spawn git and build repositories: two cores, two workers
    maxWorkers: 2,
    // the json report feeds the one-line summary that .ci/run prints
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
