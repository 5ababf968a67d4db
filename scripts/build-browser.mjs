#!/usr/bin/env node
/**
 * Builds the browser bundle: dist/browser/midx-odb.js, one ES module holding
 * the library and fflate, with no Node built-in in its graph. The only
 * references to node:zlib / node:crypto are src/zlib's dynamic imports with a
 * computed specifier, which run only where `process.versions.node` exists.
 *
 *   node scripts/build-browser.mjs [outDir]
 *
 * Also callable from tests: `import { buildBrowser } from '../scripts/build-browser.mjs'`.
 */

import { fileURLToPath } from 'node:url';
import { dirname, resolve } from 'node:path';
import { readFile } from 'node:fs/promises';
import { builtinModules } from 'node:module';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Node built-ins, with and without the node: prefix. */
const builtins = new Set([...builtinModules, ...builtinModules.map((m) => `node:${m}`)]);

/**
 * Static imports, re-exports and require() calls of a Node built-in in `code`.
 * A dynamic import() with a computed specifier is not listed: it is the
 * guarded Node path of src/zlib.
 */
export function nodeImportsIn(code) {
  const found = [];
  const patterns = [
    /\bimport\s+(?:[\w*{}\s,$]+\s+from\s+)?["']([^"']+)["']/g,
    /\bexport\s+(?:\*|\{[^}]*\})\s+from\s+["']([^"']+)["']/g,
    /\brequire\s*\(\s*["']([^"']+)["']\s*\)/g,
    /\bimport\s*\(\s*["']([^"']+)["']\s*\)/g,
  ];
  for (const re of patterns) {
    for (const m of code.matchAll(re)) if (builtins.has(m[1]) || m[1].startsWith('node:')) found.push(m[0]);
  }
  return found;
}

export async function buildBrowser({ outDir = resolve(root, 'dist/browser'), minify = false, entry = resolve(root, 'src/index.ts') } = {}) {
  const { build } = await import('vite');
  await build({
    configFile: false,
    root,
    logLevel: 'warn',
    publicDir: false,
    build: {
      outDir,
      emptyOutDir: true,
      target: 'es2022',
      minify,
      sourcemap: true,
      reportCompressedSize: false,
      lib: {
        entry,
        formats: ['es'],
        fileName: () => 'midx-odb.js',
      },
      rolldownOptions: {
        // a Node built-in reached statically is a bug on the browser path: fail the build
        external: (id) => {
          if (builtins.has(id)) throw new Error(`browser bundle: an import of the Node built-in '${id}'`);
          return false;
        },
        output: { codeSplitting: false },
      },
    },
    // fflate and any later dependency: their browser builds
    resolve: { conditions: ['browser', 'import', 'module', 'default'], mainFields: ['browser', 'module', 'main'] },
  });
  const file = resolve(outDir, 'midx-odb.js');
  const code = await readFile(file, 'utf8');
  const bad = nodeImportsIn(code);
  if (bad.length) throw new Error(`browser bundle ${file} imports Node built-ins: ${bad.join('; ')}`);
  return { file, bytes: Buffer.byteLength(code) };
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const outDir = process.argv[2] ? resolve(process.argv[2]) : undefined;
  const { file, bytes } = await buildBrowser({ outDir });
  console.log(`${file}: ${bytes} bytes`);
}
