/**
 * The package as users install it: `npm pack` of this checkout (dist/ as built
 * by `tsc`, which `npm test` runs first), unpacked into a scratch project's
 * node_modules, then loaded from a CommonJS file with `require('midx-odb')`
 * (Node >= 20.19 requires an ES module without top-level await) and from an
 * ES module with `import`. Both read objects of a git-2.55 fixture and must
 * agree with git's object list.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, tmpdir } from './helpers.js';
import { installPacked, ROOT } from './packed.js';

const FIXTURE = path.join(FIXTURES, 'sha1-chain');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

/** git's answers for the first objects of the fixture: "<oid> <type> <size>" */
const expected = fs.readFileSync(path.join(FIXTURE, 'expect/objects.txt'), 'utf8').trim().split('\n').slice(0, 20);

let project: string;

beforeAll(() => {
  project = tmpdir('midx-odb-package-');
  installPacked(project);
  // this project is CommonJS: the .cjs/.mjs files below say what they are anyway
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }));
}, 60_000);

afterAll(() => {
  if (project) fs.rmSync(project, { recursive: true, force: true });
});

function runNode(file: string) {
  const r = spawnSync(process.execPath, [file], { cwd: project, encoding: 'utf8', env: { ...process.env, FIXTURE_GITDIR: path.join(FIXTURE, 'repo.git'), OIDS: expected.map((l) => l.split(' ')[0]).join(',') } });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const reader = (load: string) => `
  const { openOdb, NotFoundError, ISOGIT_VERIFIED } = ${load};
  const fs = require('node:fs');
  (async () => {
    const odb = await openOdb({ fs, gitdir: process.env.FIXTURE_GITDIR });
    const lines = [];
    for (const oid of process.env.OIDS.split(',')) {
      const o = await odb.read(oid);
      lines.push(oid + ' ' + o.type + ' ' + o.data.length);
    }
    let notFound = false;
    try { await odb.read('0'.repeat(40)); } catch (e) { notFound = e instanceof NotFoundError; }
    await odb.close();
    console.log(JSON.stringify({ lines, notFound, verified: ISOGIT_VERIFIED, openOdb: typeof openOdb }));
  })().catch((e) => { console.error(e); process.exit(1); });
`;

describe('the packed package', () => {
  it('declares the conditions bundlers and Node look for, and Node >= 20.19', () => {
    const dot = pkg.exports['.'];
    // order matters: the first matching condition wins, so types first and default last
    expect(Object.keys(dot)).toEqual(['types', 'browser', 'import', 'require', 'default']);
    for (const file of Object.values(dot) as string[]) expect(fs.existsSync(path.join(project, 'node_modules/midx-odb', file)), file).toBe(true);
    expect(pkg.engines.node).toBe('>=20.19');
    expect(pkg.type).toBe('module');
  });

  it("loads with require('midx-odb') from a CommonJS file and reads objects as git lists them", () => {
    const file = path.join(project, 'reader.cjs');
    fs.writeFileSync(file, reader("require('midx-odb')"));
    const r = runNode(file);
    expect(r.stderr.replace(/.*ExperimentalWarning.*\n|.*node --trace-warnings.*\n/g, '')).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.openOdb).toBe('function');
    expect(out.lines).toEqual(expected);
    expect(out.notFound).toBe(true);
    expect(out.verified).toMatch(/^1\.44\.\d+/);
  });

  it('resolves require and import to the same module (one copy of the error classes)', () => {
    const file = path.join(project, 'same.cjs');
    fs.writeFileSync(
      file,
      `const a = require('midx-odb');
       import('midx-odb').then((b) => console.log(JSON.stringify({ same: a.NotFoundError === b.NotFoundError, path: require.resolve('midx-odb') })));`,
    );
    const r = runNode(file);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.same).toBe(true);
    // the bundle: one file with fflate inside (scripts/build-node.mjs)
    expect(path.relative(project, out.path)).toBe(path.join('node_modules', 'midx-odb', 'dist', 'node', 'midx-odb.js'));
    // fflate is inside (no package to resolve at load), without its Node build's worker loader
    const code = fs.readFileSync(out.path, 'utf8');
    expect(code).not.toMatch(/["']fflate["']/);
    expect(code).toMatch(/inflateSync/);
    expect(code).not.toMatch(/worker_threads/);
  });

  it("loads with import 'midx-odb' from an ES module", () => {
    const file = path.join(project, 'reader.mjs');
    fs.writeFileSync(
      file,
      `import { openOdb } from 'midx-odb';
       import fs from 'node:fs';
       const odb = await openOdb({ fs, gitdir: process.env.FIXTURE_GITDIR });
       const lines = [];
       for (const oid of process.env.OIDS.split(',')) { const o = await odb.read(oid); lines.push(oid + ' ' + o.type + ' ' + o.data.length); }
       console.log(JSON.stringify(lines));`,
    );
    const r = runNode(file);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual(expected);
  });
});
