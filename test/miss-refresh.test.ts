/**
 * Issue 15, misses: a miss checks a stat stamp of the pack directory, the MIDX
 * and the chain before it reloads anything, and that check is shared by the
 * misses of one event-loop turn. Still, whatever git 2.55 writes behind the
 * database's back (a pack, a layer, a loose object) is seen by the next miss.
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { fastImportHistory, git255 } from './git255.js';
import { tmpdir } from './helpers.js';
import { internalsOf } from '../src/odb/odb.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

/** A repository of 30 commits in one pack, with a MIDX chain of one layer written by git 2.55. */
function repo(): string {
  const dir = tmpdir('midx-miss-');
  dirs.push(dir);
  const gitdir = path.join(dir, 'repo.git');
  fastImportHistory(gitdir, { commits: 30 });
  git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
  return gitdir;
}

/** Moves every file time under the pack directory ten seconds back: the stamps of it are trusted at once. */
function age(gitdir: string): void {
  const t = (Date.now() - 10_000) / 1000;
  const visit = (p: string) => {
    if (fs.statSync(p).isDirectory()) for (const n of fs.readdirSync(p)) visit(path.join(p, n));
    fs.utimesSync(p, t, t);
  };
  visit(path.join(gitdir, 'objects', 'pack'));
}

/** A blob written by git 2.55's fast-import straight into a new pack (never loose); its id. */
function newPackedBlob(gitdir: string, text: string): string {
  const marks = path.join(gitdir, 'blob-marks');
  git255(['-c', 'fastimport.unpackLimit=0', '--git-dir', gitdir, 'fast-import', '--quiet', `--export-marks=${marks}`], { input: `blob\nmark :1\ndata ${Buffer.byteLength(text)}\n${text}\n` });
  const oid = /^:1 ([0-9a-f]{40})$/m.exec(fs.readFileSync(marks, 'utf8'))![1];
  fs.rmSync(marks);
  expect(fs.existsSync(path.join(gitdir, 'objects', oid.slice(0, 2), oid.slice(2)))).toBe(false);
  return oid;
}

function chainTip(gitdir: string): string {
  return fs.readFileSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n').pop()!;
}

const ABSENT = (i: number) => `${i.toString(16).padStart(8, '0')}${'e'.repeat(32)}`;

let gitdir: string;
beforeEach(() => {
  gitdir = repo();
});

describe('a miss on an unchanged repository', () => {
  it('reloads nothing once the stamp is trusted; a check serves the misses of one turn', async () => {
    age(gitdir);
    const odb = await openOdb({ fs, gitdir, missRecheckMs: 60_000 });
    for (let i = 0; i < 300; i++) expect(await odb.exists(ABSENT(i))).toBe(false);
    await expect(odb.readHeader(ABSENT(1))).rejects.toThrow(/not found|no such object/i);
    // the first miss reloads (no stamp yet); later ones compare stamps only, and one
    // check serves the rest of the turn
    expect(internalsOf(odb).packBackend.missReloads).toBe(1);
    expect(internalsOf(odb).packBackend.missChecks).toBeLessThanOrEqual(3);
    await odb.close();
  });
});

describe('a miss after git wrote behind the database', () => {
  it('a new pack and a new chain layer by git 2.55: the next exists() sees the object, in the new layer', async () => {
    age(gitdir);
    const odb = await openOdb({ fs, gitdir });
    for (let i = 0; i < 50; i++) expect(await odb.exists(ABSENT(i))).toBe(false);
    const oid = newPackedBlob(gitdir, 'written behind our back');
    expect(await odb.exists(oid)).toBe(true);
    expect(new TextDecoder().decode((await odb.read(oid)).data)).toBe('written behind our back');
    // now the chain: git appends a layer over the new pack
    const oid2 = newPackedBlob(gitdir, 'second, with a layer');
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    expect(await odb.exists(oid2)).toBe(true);
    const loc = await odb.locate(oid2);
    expect(loc).toMatchObject({ source: 'midx', layer: chainTip(gitdir) });
    expect((await odb.readHeader(oid2)).size).toBe(Number(git255(['--git-dir', gitdir, 'cat-file', '-s', oid2]).toString().trim()));
    await odb.close();
  });

  it('a chain rewritten by git 2.55 (layers compacted into one): the next miss reloads it', async () => {
    const oid = newPackedBlob(gitdir, 'layer two');
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    age(gitdir);
    const odb = await openOdb({ fs, gitdir });
    expect((await odb.stats()).layers.length).toBe(2);
    expect(await odb.exists(ABSENT(7))).toBe(false);
    // a full, non-incremental MIDX replaces the chain
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const oid3 = newPackedBlob(gitdir, 'after the rewrite');
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    expect(await odb.exists(oid3)).toBe(true);
    expect(await odb.locate(oid)).toMatchObject({ source: 'midx' });
    const st = await odb.stats();
    expect(st.layers.length).toBe(1);
    expect(st.layers[0].checksum).toBe(fs.readFileSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index')).subarray(-20).toString('hex'));
    await odb.close();
  });

  it('a loose object written by git: the next exists() and read() see it', async () => {
    age(gitdir);
    const odb = await openOdb({ fs, gitdir });
    expect(await odb.exists(ABSENT(3))).toBe(false);
    const oid = git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: 'loose behind our back\n' }).toString().trim();
    expect(await odb.exists(oid)).toBe(true);
    expect((await odb.read(oid)).type).toBe('blob');
    await odb.close();
  });

  it('a check is not shared across event-loop turns: after a turn, a long window still re-checks', async () => {
    age(gitdir);
    const odb = await openOdb({ fs, gitdir, missRecheckMs: 60_000 });
    expect(await odb.exists(ABSENT(1))).toBe(false);
    const oid = newPackedBlob(gitdir, 'between two turns');
    await new Promise((resolve) => setImmediate(resolve));
    expect(await odb.exists(oid)).toBe(true);
    await odb.close();
  });

  it('a promise-only fs client (no statSync): the stamp is taken with stat()', async () => {
    age(gitdir);
    const odb = await openOdb({ fs: fs.promises, gitdir });
    expect(await odb.exists(ABSENT(2))).toBe(false);
    const oid = newPackedBlob(gitdir, 'through fs.promises');
    expect(await odb.exists(oid)).toBe(true);
    await odb.close();
  });
});

describe('the racy rule', () => {
  /**
   * node fs whose stat times all read `mtime` (a file system whose clock resolution
   * hides every change since, or whose server clock runs ahead) and whose sizes are
   * those of the first stat: a stamp of it never changes.
   */
  function frozenStatFs(mtime: number) {
    const sizes = new Map<string, number>();
    const freeze = (p: string, st: fs.Stats | undefined) => {
      if (!st) return st;
      if (!sizes.has(p)) sizes.set(p, st.size);
      return Object.assign(Object.create(Object.getPrototypeOf(st)), st, { mtimeMs: mtime, mtime: new Date(mtime), size: sizes.get(p) });
    };
    const promises = new Proxy(fs.promises, {
      get(t, k, r) {
        if (k === 'stat') return async (p: string) => freeze(p, await fs.promises.stat(p));
        const v = Reflect.get(t, k, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
    return new Proxy(fs, {
      get(t, k, r) {
        if (k === 'promises') return promises;
        if (k === 'statSync') return (p: string, o?: fs.StatSyncOptions) => freeze(p, fs.statSync(p, { ...o, throwIfNoEntry: false }) as fs.Stats | undefined);
        const v = Reflect.get(t, k, r);
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  }

  it('a stamp whose newest time is not well in the past is not trusted: the full check runs and finds the pack', async () => {
    // times "in the future" (a server clock ahead), on whole seconds
    const odb = await openOdb({ fs: frozenStatFs(Math.floor(Date.now() / 1000) * 1000 + 60_000), gitdir, missRecheckMs: 0 });
    for (let i = 0; i < 3; i++) expect(await odb.exists(ABSENT(i))).toBe(false);
    const oid = newPackedBlob(gitdir, 'the stamp cannot see me');
    expect(await odb.exists(oid)).toBe(true);
    await odb.close();
  });

  it('whole-second times well in the past: the stamp is trusted (no reload per miss)', async () => {
    const odb = await openOdb({ fs: frozenStatFs(Math.floor(Date.now() / 1000) * 1000 - 10_000), gitdir, missRecheckMs: 0 });
    for (let i = 0; i < 20; i++) expect(await odb.exists(ABSENT(i))).toBe(false);
    expect(internalsOf(odb).packBackend.missReloads).toBe(1);
    expect(internalsOf(odb).packBackend.missChecks).toBe(20);
    await odb.close();
  });
});

