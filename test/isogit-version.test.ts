/**
 * Which isomorphic-git releases the adapter is verified with. Two are installed:
 * the pinned devDependency `isomorphic-git` and the npm alias
 * `isomorphic-git-latest` (`npm:isomorphic-git@^1.44`: the newest 1.44.x the
 * registry served when the lockfile was last refreshed). The isogit-* tests run
 * once per release (vitest projects `pinned` and `isogit-latest`); this file
 * checks that the bookkeeping agrees: ISOGIT_VERIFIED lists both, the peer range
 * admits both, the self-test passes on both, and each project really loads the
 * release it says it tests.
 */

import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import git from 'isomorphic-git';
import { describe, expect, it } from 'vitest';
import { ISOGIT_VERIFIED, isogitCacheSelfTest, type IsogitLike } from '../src/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
const require = createRequire(import.meta.url);

function installed(name: string): { version: string; dir: string } {
  const dir = path.join(ROOT, 'node_modules', name);
  return { version: JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version, dir };
}

const parse = (v: string) => v.split('.').map(Number) as [number, number, number];
const atLeast = (v: string, min: string) => {
  const [a, b] = [parse(v), parse(min)];
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
};
/** `^x.y.z` for x >= 1: same major, not below x.y.z */
function satisfiesCaret(version: string, range: string): boolean {
  const m = /^\^(\d+\.\d+\.\d+)$/.exec(range);
  if (!m) throw new Error(`not a caret range: ${range}`);
  return parse(version)[0] === parse(m[1])[0] && atLeast(version, m[1]);
}

const pinned = installed('isomorphic-git');
const latest = installed('isomorphic-git-latest');
const verified = ISOGIT_VERIFIED.split(/,\s*/);

describe('isomorphic-git versions', () => {
  it('ISOGIT_VERIFIED lists the pinned and the newest installed release', () => {
    expect(pkg.devDependencies['isomorphic-git']).toBe(pinned.version);
    expect(pkg.devDependencies['isomorphic-git-latest']).toMatch(/^npm:isomorphic-git@\^1\.44(\.\d+)?$/);
    expect(atLeast(latest.version, pinned.version)).toBe(true);
    // a newer release installed but not listed: run the tests, then add it to ISOGIT_VERIFIED
    expect(verified).toContain(pinned.version);
    expect(verified).toContain(latest.version);
  });

  it('the peer range admits every verified release', () => {
    const range = pkg.peerDependencies['isomorphic-git'];
    expect(range).toBe('^1.44.0');
    for (const v of verified) expect(satisfiesCaret(v, range), v).toBe(true);
    expect(satisfiesCaret('2.0.0', range)).toBe(false);
    expect(satisfiesCaret('1.43.9', range)).toBe(false);
  });

  it('this project loads the release it tests', () => {
    const want = process.env.ISOGIT_PACKAGE === 'isomorphic-git-latest' ? latest.version : pinned.version;
    expect(git.version()).toBe(want);
  });

  it.each([
    ['pinned', pinned],
    ['latest', latest],
  ] as const)('the adapter self-test passes on the %s release (esm and cjs bundles)', async (_name, rel) => {
    const esm = (await import(pathToFileURL(path.join(rel.dir, 'index.js')).href)).default as IsogitLike;
    const cjs = require(path.join(rel.dir, 'index.cjs')) as IsogitLike;
    for (const g of [esm, cjs]) {
      const r = await isogitCacheSelfTest(g);
      expect(r).toEqual({ ok: true, reason: '', version: rel.version });
    }
  });
});
