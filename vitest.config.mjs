import { defineConfig } from 'vitest/config';

/**
 * Two projects: every test against the pinned isomorphic-git (devDependency
 * `isomorphic-git`), and the isomorphic-git adapter's tests again against the
 * newest 1.x the registry served at install time (the npm alias
 * `isomorphic-git-latest`): `isomorphic-git` and its subpaths resolve to the
 * alias there, and ISOGIT_PACKAGE names it for tests that locate the package's
 * files themselves.
 */
const ISOGIT_TESTS = ['test/isogit-*.test.ts', 'test/api-defaults.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // tests spawn git and build repositories: two cores, two workers
    maxWorkers: 2,
    // the json report feeds the one-line summary that .ci/run prints
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
    projects: [
      {
        extends: true,
        test: { name: 'pinned', include: ['test/**/*.test.ts'] },
      },
      {
        extends: true,
        test: { name: 'isogit-latest', include: ISOGIT_TESTS, env: { ISOGIT_PACKAGE: 'isomorphic-git-latest' } },
        resolve: { alias: [{ find: /^isomorphic-git(\/.*)?$/, replacement: 'isomorphic-git-latest$1' }] },
      },
    ],
  },
});
