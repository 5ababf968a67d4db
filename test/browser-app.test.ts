/**
 * The package in a bundled browser app, as users ship it: the packed package
 * is installed into a scratch project (its browser build made from this
 * checkout), a small app (test/browser-app/worker.js, a module Worker that says
 * `import { openOdb, createOpfsFs } from 'midx-odb'`) is bundled by esbuild
 * with platform 'browser', and the bundle runs in headless Chromium (Debian's
 * `chromium`, driven by playwright-core). In the worker it copies the
 * sha1-chain fixture into OPFS, reads every object through positional reads
 * (FileSystemSyncAccessHandle), appends the layer git 2.55 appended in steps/3
 * and posts the bytes back: they must equal git's.
 *
 * Chromium is looked up as in test/browser.test.ts; without one the test is
 * skipped, loudly, unless CI is set.
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildBrowser, nodeImportsIn } from '../scripts/build-browser.mjs';
import { startServer } from './browser/server.mjs';
import { FIXTURES, tmpdir } from './helpers.js';
import { installPacked, ROOT } from './packed.js';

const FIXTURE = path.join(FIXTURES, 'sha1-chain');
const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const CI = !!process.env.CI;
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

if (!CHROMIUM && !CI) console.warn('\n*** test/browser-app.test.ts SKIPPED: no Chromium at $CHROMIUM_PATH, /usr/bin/chromium or /usr/bin/chromium-browser.\n');

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

describe.skipIf(!CHROMIUM && !CI)('a bundled app in Chromium: plain `import "midx-odb"`, a worker, OPFS', () => {
  let project: string;
  let meta: { inputs: Record<string, unknown> };
  let appCode: string;
  let server: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const foreign: string[] = [];
  let reply: any;

  beforeAll(async () => {
    if (!CHROMIUM) throw new Error('CI is set but no Chromium was found');
    project = tmpdir('midx-odb-browser-app-');
    const pkgDir = installPacked(project);
    // the browser build, as `npm run build` makes it before publishing
    await buildBrowser({ outDir: path.join(pkgDir, 'dist/browser') });
    fs.mkdirSync(path.join(project, 'src'));
    fs.copyFileSync(path.join(ROOT, 'test/browser-app/worker.js'), path.join(project, 'src/worker.js'));
    const esbuild = await import('esbuild');
    const built = await esbuild.build({
      absWorkingDir: project,
      entryPoints: ['src/worker.js'],
      bundle: true,
      platform: 'browser',
      format: 'esm',
      target: 'es2022',
      outfile: path.join(project, 'out/app.js'),
      metafile: true,
      logLevel: 'silent',
    });
    meta = built.metafile!;
    appCode = fs.readFileSync(path.join(project, 'out/app.js'), 'utf8');

    server = await startServer({
      bundleDir: path.join(pkgDir, 'dist/browser'),
      fixtureDir: FIXTURE,
      routes: { '/': path.join(ROOT, 'test/browser-app/index.html'), '/app.js': path.join(project, 'out/app.js') },
    });
    context = await chromium.launchPersistentContext(path.join(project, 'profile'), { executablePath: CHROMIUM, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 });
    await context.route('**/*', (route) => {
      const url = new URL(route.request().url());
      if (url.origin === server.url) return route.continue();
      foreign.push(route.request().url());
      return route.abort();
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.on('pageerror', (err) => pageErrors.push(String(err?.stack ?? err)));
    page.on('console', (msg) => {
      if (msg.type() === 'error') consoleErrors.push(msg.text());
    });
    await page.goto(server.url + '/', { waitUntil: 'load' });
    await page.waitForFunction(() => (window as any).pageReady === true, null, { timeout: 30_000 });
    reply = await page.evaluate(() => (window as any).runApp());
    if (!reply?.ok) throw new Error(`the app failed: ${reply?.error}\npage errors: ${pageErrors.join('\n')}\nconsole: ${consoleErrors.join('\n')}`);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (project) fs.rmSync(project, { recursive: true, force: true });
  });

  it("esbuild with platform 'browser' picks the package's browser build from a plain import", () => {
    const inputs = Object.keys(meta.inputs);
    expect(inputs).toContain('node_modules/midx-odb/dist/browser/midx-odb.js');
    expect(inputs.filter((f) => f.startsWith('node_modules/midx-odb/') && f !== 'node_modules/midx-odb/dist/browser/midx-odb.js')).toEqual([]);
    expect(nodeImportsIn(appCode)).toEqual([]);
    expect(reply.result.environment).toEqual({ hasProcess: false, worker: true });
  });

  it('reads every object of the fixture through OPFS, with positional reads only', () => {
    const full = reply.result.full;
    expect(full.codecNative).toBe(false);
    expect(full.problems).toEqual([]);
    expect(full.objects).toBe(lines(path.join(FIXTURE, 'expect/objects.txt')).length);
    expect(full.layers).toEqual(lines(path.join(FIXTURE, 'expect/layers.txt')));
    expect(full.unindexedPacks).toEqual(['pack-05eb0bb4d76bd9f3fd9f69ac65437cd9ae1a537b.idx']);
    expect(full.verify).toEqual({ ok: true, exitCode: 0 });
    // packs and MIDX layers are opened for ranges, never read whole (a pack's .idx
    // is read whole when the pack is first used, on every fs client, Node's too)
    expect(full.calls['readFile:pack'] ?? 0).toBe(0);
    expect(full.calls['readFile:midx'] ?? 0).toBe(0);
    expect(full.calls['open:pack']).toBeGreaterThan(0);
    expect(full.calls['open:midx']).toBeGreaterThan(0);
    expect(reply.result.warnings).toEqual([]);
  });

  it('appends a layer over OPFS byte for byte as git 2.55 did, and an aborted write changes nothing', () => {
    const step = reply.result.step;
    const dDir = path.join(FIXTURE, 'steps/3/files/multi-pack-index.d');
    const gitChain = lines(path.join(dDir, 'multi-pack-index-chain'));
    expect(step.layersBefore).toEqual(lines(path.join(FIXTURE, 'steps/2/files/multi-pack-index.d/multi-pack-index-chain')));
    expect(step.checksum).toBe(gitChain.at(-1));
    const gitLayer = fs.readFileSync(path.join(dDir, `multi-pack-index-${gitChain.at(-1)}.midx`));
    expect(Buffer.from(step.layerBase64, 'base64').equals(gitLayer)).toBe(true);
    expect(step.chainText).toBe(fs.readFileSync(path.join(dDir, 'multi-pack-index-chain'), 'utf8'));
    expect(step.dirAfter).toEqual(fs.readdirSync(dDir).sort());
    expect(step.layersAfter).toEqual(gitChain);
    expect(step.unindexedAfter).toEqual([]);
    // every object this state holds reads back (the rest of the fixture is not in it)
    expect(step.problems.filter((p: string) => !/NotFoundError/.test(p))).toEqual([]);
    expect(step.problems.length).toBeLessThan(lines(path.join(FIXTURE, 'expect/objects.txt')).length);
    expect(step.progress).toEqual(expect.arrayContaining(['Adding packfiles to multi-pack-index', 'Writing chunks to multi-pack-index']));
    expect(step.aborted).toEqual({ name: 'AbortError', same: true });
  });

  it('no page error, console error or traffic beyond 127.0.0.1', () => {
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(foreign).toEqual([]);
  });
});
