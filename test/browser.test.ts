/**
 * The library in a real browser: headless Chromium (Debian's `chromium`,
 * driven by playwright-core) loads test/browser/index.html from a server on
 * 127.0.0.1, copies the sha1-chain fixture into LightningFS, reads every object
 * through the chain, appends a layer with writeMidx({ incremental: true }) and
 * reads through it. The layer must equal git 2.55's byte for byte.
 *
 * Chromium is looked up at $CHROMIUM_PATH, /usr/bin/chromium,
 * /usr/bin/chromium-browser. Without one the test is skipped, loudly, unless
 * CI is set: in CI it must run (.ci/run installs Debian's chromium).
 */

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { buildBrowser, nodeImportsIn } from '../scripts/build-browser.mjs';
import { startServer } from './browser/server.mjs';
import { FIXTURES } from './helpers.js';

const FIXTURE = path.join(FIXTURES, 'sha1-chain');

const CHROMIUM = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p): p is string => !!p && fs.existsSync(p));
const CI = !!process.env.CI;

// the flags this machine needs: no sandbox as root, and no traffic beyond 127.0.0.1
const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

if (!CHROMIUM && !CI) {
  console.warn(
    '\n*** test/browser.test.ts SKIPPED: no Chromium at $CHROMIUM_PATH, /usr/bin/chromium or /usr/bin/chromium-browser.\n' +
      '*** Install it (apt-get install -y chromium) to run the browser test; in CI (CI set) it fails instead.\n',
  );
}

const lines = (file: string) => fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.length > 0);

describe.skipIf(!CHROMIUM && !CI)('browser: headless Chromium over LightningFS', () => {
  let tmp: string;
  let bundle: { file: string; bytes: number };
  let server: Awaited<ReturnType<typeof startServer>>;
  let context: BrowserContext;
  let page: Page;
  const pageErrors: string[] = [];
  const consoleErrors: string[] = [];
  const foreign: string[] = [];
  const failed: string[] = [];
  let result: any;
  let elapsed: number;

  beforeAll(async () => {
    if (!CHROMIUM) throw new Error('CI is set but no Chromium was found (.ci/run installs Debian\'s chromium at /usr/bin/chromium)');
    const t0 = performance.now();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-odb-browser-'));
    bundle = await buildBrowser({ outDir: path.join(tmp, 'bundle') });
    server = await startServer({ bundleDir: path.join(tmp, 'bundle'), fixtureDir: FIXTURE });
    context = await chromium.launchPersistentContext(path.join(tmp, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
      timeout: 60_000,
    });
    // nothing leaves 127.0.0.1: anything else is recorded and refused
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
    page.on('requestfailed', (req) => failed.push(`${req.url()}: ${req.failure()?.errorText}`));
    await page.goto(server.url + '/', { waitUntil: 'load' });
    await page.waitForFunction(() => (window as any).pageReady === true || false, null, { timeout: 30_000 }).catch((err) => {
      throw new Error(`the page did not load: ${err.message}\npage errors: ${pageErrors.join('\n')}\nconsole errors: ${consoleErrors.join('\n')}`);
    });
    result = await page.evaluate(() => (window as any).runBrowserTest());
    elapsed = performance.now() - t0;
    console.log(`browser test: bundle ${bundle.bytes} bytes; in-page run ${result.ms.toFixed(0)} ms (writeMidx ${result.step.writeMs.toFixed(1)} ms); build + launch + run ${elapsed.toFixed(0)} ms`);
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await server?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('bundles without Node built-ins and runs the browser path (fflate, WebCrypto)', () => {
    // the check itself sees what it must
    expect(nodeImportsIn(`import fs from 'node:fs'; import { x } from "crypto"; const z = require('zlib'); await import('path')`)).toHaveLength(4);
    expect(nodeImportsIn(`const name = 'node:zlib'; await import(name)`)).toEqual([]);
    const code = fs.readFileSync(bundle.file, 'utf8');
    expect(nodeImportsIn(code)).toEqual([]);
    expect(result.environment.hasProcess).toBe(false);
    expect(result.environment.hasBuffer).toBe(false);
    expect(result.environment.secureContext).toBe(true);
    expect(result.full.codecNative).toBe(false);
    expect(result.step.codecNative).toBe(false);
  });

  it('loads with no page error, console error, failed request or traffic beyond 127.0.0.1', () => {
    expect(pageErrors).toEqual([]);
    expect(consoleErrors).toEqual([]);
    expect(failed).toEqual([]);
    expect(foreign).toEqual([]);
    expect(server.requests.filter((r) => r.status !== 200)).toEqual([]);
  });

  it('reads every object of the fixture through the chain, the unindexed pack and loose objects', () => {
    const expected = lines(path.join(FIXTURE, 'expect/objects.txt'));
    const full = result.full;
    expect(full.problems).toEqual([]);
    expect(full.objects).toBe(expected.length);
    expect(full.listed).toBe(expected.length);
    expect(full.layers).toEqual(lines(path.join(FIXTURE, 'expect/layers.txt')));
    expect(full.packs).toEqual(['pack-05eb0bb4d76bd9f3fd9f69ac65437cd9ae1a537b.idx']);
    expect(full.looseObjects).toBe(lines(path.join(FIXTURE, 'expect/files.txt')).filter((f) => /^\.\/[0-9a-f]{2}\/[0-9a-f]{38}$/.test(f)).length);
    expect(full.sources.midx + full.sources.pack + full.sources.loose).toBe(expected.length);
    expect(full.sources.midx).toBeGreaterThan(0);
    expect(full.sources.pack).toBeGreaterThan(0);
    expect(full.sources.loose).toBeGreaterThan(0);
    expect(full.expanded).toBe(expected[0].split(' ')[0]);
    expect(full.verify).toEqual({ ok: true, exitCode: 0, problems: [] });
    expect(result.warnings).toEqual([]);
  });

  it('appends a layer over LightningFS byte for byte as git 2.55 did', () => {
    const step = result.step;
    const dDir = path.join(FIXTURE, 'steps/3/files/multi-pack-index.d');
    const gitChain = lines(path.join(dDir, 'multi-pack-index-chain'));
    expect(step.layersBefore).toEqual(lines(path.join(FIXTURE, 'steps/2/files/multi-pack-index.d/multi-pack-index-chain')));
    expect(step.packsBefore).toEqual([]);
    expect(step.beforeReads.problems).toEqual([]);
    expect(step.beforeReads.objects).toBeGreaterThan(0);
    expect(step.added.sort()).toEqual(['pack-3020e5fc99920dcaafa626dbad3091000fc6e063', 'pack-63ed893fba981b19db8537504ca025a2598329f7']);
    expect(step.packsBetween.sort()).toEqual(step.added.map((p: string) => `${p}.idx`));

    expect(step.checksum).toBe(gitChain.at(-1));
    expect(step.gitLayer).toBe(`steps/3/files/multi-pack-index.d/multi-pack-index-${gitChain.at(-1)}.midx`);
    const written = Buffer.from(step.layerBase64, 'base64');
    const gitLayer = fs.readFileSync(path.join(FIXTURE, step.gitLayer));
    expect(written.length).toBe(gitLayer.length);
    expect(written.equals(gitLayer)).toBe(true);
    expect(step.layerEqual).toBe(true);
    expect(step.chainText).toBe(fs.readFileSync(path.join(dDir, 'multi-pack-index-chain'), 'utf8'));
    expect(step.chainEqual).toBe(true);
    // nothing left behind: no lock, no temporary file
    expect(step.dirAfter).toEqual(fs.readdirSync(dDir).sort());

    expect(step.layersAfter).toEqual(gitChain);
    expect(step.packsAfter).toEqual([]);
    expect(step.newLayerPacks).toEqual(step.added.map((p: string) => `${p}.idx`).sort());
    expect(step.verify).toEqual({ ok: true, exitCode: 0, problems: [] });
  });

  it('reads every object of the new layer through it', () => {
    const step = result.step;
    const layer3 = lines(path.join(FIXTURE, 'expect/read-midx.3.txt')).filter((l) => /^[0-9a-f]{40} /.test(l));
    expect(step.layer3.objects).toBe(layer3.length);
    expect(step.newLayerObjects).toBe(layer3.length);
    expect(step.layer3.wrongPlace).toEqual([]);
    expect(step.layer3.problems).toEqual([]);
    expect(step.reopened.layers).toEqual(lines(path.join(FIXTURE, 'steps/3/files/multi-pack-index.d/multi-pack-index-chain')));
    expect(step.reopened.locate).toMatchObject({ source: 'midx', layer: step.checksum });
  });
});
