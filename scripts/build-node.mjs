#!/usr/bin/env node
/**
 * Builds the Node bundles, each one ES module with its dependency inside:
 *
 *   dist/node/midx-odb.js   the library, as the package's Node entry ("import", "require")
 *   dist/cli/main.js        the command (replaces tsc's output of src/cli/main.ts)
 *
 * Why: a process that imports the library resolves and compiles one file instead of
 * some 70 modules and fflate's Node build (which loads worker_threads for its async
 * API, unused here). Measured on the bench machine, node's own start at ~120 ms: the
 * import of the modules cost ~77 ms above it, the bundle ~43 ms; every `midx-odb`
 * command and every first read of a fresh process pays it. fflate's browser build is
 * taken: the same synchronous code, without the worker loader.
 *
 *   node scripts/build-node.mjs
 */

import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { createRequire } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

export async function buildNode() {
  const { build } = await import('esbuild');
  const require = createRequire(resolve(root, 'package.json'));
  const fflateBrowser = resolve(dirname(require.resolve('fflate/package.json')), 'esm', 'browser.js');
  const common = {
    absWorkingDir: root,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    sourcemap: true,
    logLevel: 'warning',
    alias: { fflate: fflateBrowser },
  };
  const lib = resolve(root, 'dist/node/midx-odb.js');
  const cli = resolve(root, 'dist/cli/main.js');
  await build({ ...common, entryPoints: [resolve(root, 'src/index.ts')], outfile: lib });
  await build({ ...common, entryPoints: [resolve(root, 'src/cli/main.ts')], outfile: cli });
  return { lib, cli };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { lib, cli } = await buildNode();
  console.log(`${lib}\n${cli}`);
}
