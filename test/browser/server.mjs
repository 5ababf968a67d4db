/**
 * A tiny static server for the browser test, on 127.0.0.1 and an ephemeral
 * port. Routes:
 *   /                       test/browser/index.html
 *   /page.js                test/browser/page.js
 *   /midx-odb.js(.map)      the browser bundle (from `bundleDir`)
 *   /lightning-fs.js        LightningFS's own UMD build
 *   /fixture-manifest.json  { files: [...] }: every file under the fixture, relative, sorted
 *   /fixture/<path>         a file of the fixture
 *   ...routes               more path -> file routes, overriding these
 * Anything else, or a path that leaves its folder, is a 404.
 */

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRequire } from 'node:module';

const here = path.dirname(fileURLToPath(import.meta.url));

const TYPES = { '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.json': 'application/json', '.map': 'application/json' };

function listFiles(dir, prefix = '') {
  const out = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...listFiles(path.join(dir, entry.name), rel));
    else if (entry.isFile()) out.push(rel);
  }
  return out.sort();
}

/** `rel` inside `dir`, or null when it would leave it. */
function inside(dir, rel) {
  const full = path.resolve(dir, '.' + path.posix.normalize('/' + rel));
  return full === dir || full.startsWith(dir + path.sep) ? full : null;
}

/**
 * Starts the server. Resolves to { url, requests, close }: `requests` lists
 * every path asked for, with its status.
 */
export async function startServer({ bundleDir, fixtureDir, routes = {} }) {
  const require = createRequire(import.meta.url);
  const lightningFs = require.resolve('@isomorphic-git/lightning-fs/dist/lightning-fs.min.js');
  const fixtureRoot = path.resolve(fixtureDir);
  const manifest = JSON.stringify({ files: listFiles(fixtureRoot) });
  const fixed = {
    '/': path.join(here, 'index.html'),
    '/index.html': path.join(here, 'index.html'),
    '/page.js': path.join(here, 'page.js'),
    '/midx-odb.js': path.join(bundleDir, 'midx-odb.js'),
    '/midx-odb.js.map': path.join(bundleDir, 'midx-odb.js.map'),
    '/lightning-fs.js': lightningFs,
    // other pages' own files (test/browser-app.test.ts)
    ...routes,
  };
  const requests = [];

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const p = decodeURIComponent(url.pathname);
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      requests.push({ path: p, status });
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    if (p === '/fixture-manifest.json') return send(200, manifest, TYPES['.json']);
    let file = fixed[p] ?? null;
    if (!file && p.startsWith('/fixture/')) file = inside(fixtureRoot, p.slice('/fixture/'.length));
    if (!file) return send(404, 'not found');
    fs.readFile(file, (err, data) => {
      if (err) return send(404, 'not found');
      send(200, data, TYPES[path.extname(file)] ?? 'application/octet-stream');
    });
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
