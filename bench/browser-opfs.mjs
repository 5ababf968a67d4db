#!/usr/bin/env node
// Reads in a real browser: OPFS (createOpfsFs, positional reads in a worker)
// against LightningFS (whole files from IndexedDB), on a corpus repository.
// Headless Chromium (Debian's /usr/bin/chromium or $CHROMIUM_PATH) runs
// bench/browser/worker.js, bundled by esbuild with the browser build of this
// checkout. For each backend: the time to copy the repository in, to open the
// database and read one object, and two passes over every object.
//
//   node bench/corpus.mjs large /tmp/c --targetObjects=120000 --packs=12
//   git -C /tmp/c multi-pack-index write        # (git 2.55: a MIDX over the packs)
//   npx tsc && node bench/browser-opfs.mjs /tmp/c [rounds]

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { buildBrowser } from '../scripts/build-browser.mjs';
import { startServer } from '../test/browser/server.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const corpus = process.argv[2];
const rounds = Number(process.argv[3] ?? 1);
if (!corpus) {
  console.error('usage: node bench/browser-opfs.mjs <corpus gitdir> [rounds]');
  process.exit(2);
}
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium'].find((p) => p && fs.existsSync(p));
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-odb-opfs-bench-'));
try {
  const bundleDir = path.join(tmp, 'bundle');
  await buildBrowser({ outDir: bundleDir, minify: true });
  const esbuild = await import('esbuild');
  await esbuild.build({
    entryPoints: [path.join(HERE, 'browser/worker.js')],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    minify: true,
    outfile: path.join(tmp, 'app.js'),
    alias: { 'midx-odb': path.join(bundleDir, 'midx-odb.js') },
    logLevel: 'warning',
  });
  const server = await startServer({ bundleDir, fixtureDir: corpus, routes: { '/': path.join(HERE, 'browser/index.html'), '/app.js': path.join(tmp, 'app.js') } });
  const context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  await page.goto(server.url + '/');
  await page.waitForFunction(() => window.pageReady === true);
  for (let r = 0; r < rounds; r++) {
    for (const backend of ['opfs', 'lightningfs']) {
      const reply = await page.evaluate((b) => window.runBench(b), backend);
      if (!reply.ok) throw new Error(reply.error);
      const x = reply.result;
      console.log(
        `${backend.padEnd(11)} ${x.midxObjects} objects (${x.layers} MIDX layer${x.layers === 1 ? '' : 's'}), ${(x.bytes / 1048576).toFixed(1)} MiB: ` +
          `copy in ${(x.loadMs / 1000).toFixed(1)} s; open + first read ${x.openFirstMs.toFixed(0)} ms; ` +
          `first pass ${Math.round(x.first.perSecond)} obj/s; second pass ${Math.round(x.second.perSecond)} obj/s`,
      );
    }
  }
  await context.close();
  await server.close();
} finally {
  fs.rmSync(tmp, { recursive: true, force: true });
}
