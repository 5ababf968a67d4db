/**
 * withMidxHook: a MIDX layer after every pack isomorphic-git writes.
 *
 * The network test runs real smart-HTTP fetches: `git http-backend` behind a node
 * server on 127.0.0.1, isomorphic-git's clone and three fetches of new commits through
 * the hooked fs. After each one the chain has one more layer, git's fsck is clean (git
 * 2.39 does not read chains; with core.multiPackIndex=false neither MIDX is read), and
 * every object of the clone reads through the database via the MIDX, the new ones
 * from the new layer.
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { LockError, openOdb, withMidxHook } from '../src/index.js';
import { gitdirOfPackIndex, insideWorkTree } from '../src/isogit/hook.js';
import { normalizeFs } from '../src/io/fs.js';
import { startGitHttpServer, type GitHttpServer } from './httpserver.js';
import { chainLines, git as sysGit, gitRun, parseBatch, tmpdir } from './helpers.js';
import { makeSource as makeHttpSource } from './http-source.js';

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});
function temp(): string {
  const d = tmpdir('midx-odb-hook-');
  scratch.push(d);
  return d;
}

function makeSource(root: string) {
  return makeHttpSource(root, { file: (n) => ({ name: `f${n}.txt`, body: `file ${n}\n`.repeat(50 + n) }), grow: (n) => `line ${n} ${'x'.repeat(n % 13)}\n` });
}

function fsckClean(gitdir: string, extra: string[] = []) {
  const r = gitRun([...extra, '--git-dir', gitdir, 'fsck', '--full', '--strict']);
  expect(r.status, `git ${extra.join(' ')} fsck: ${r.stderr}`).toBe(0);
  expect(r.stderr, `git ${extra.join(' ')} fsck`).not.toMatch(/error|fatal|missing|corrupt|bad/i);
}

describe('withMidxHook over a real smart-HTTP fetch (git http-backend on 127.0.0.1)', () => {
  let root: string;
  let server: GitHttpServer;
  let source: ReturnType<typeof makeSource>;

  beforeAll(async () => {
    root = temp();
    source = makeSource(root);
    source.commits(5);
    server = await startGitHttpServer(path.join(root, 'serve'), { requestTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('clone, then three fetches: one more layer each, fsck clean, every object through the MIDX', async () => {
    const dir = path.join(root, 'clone');
    const gitdir = path.join(dir, '.git');
    const layers: Array<{ checksum: string; gitdir: string }> = [];
    const errors: unknown[] = [];
    const hooked = withMidxHook(fs, { onLayer: (checksum, g) => layers.push({ checksum, gitdir: g }), onError: (e) => errors.push(e) });
    const url = `${server.url}/src.git`;

    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    expect(errors).toEqual([]);
    expect(layers).toEqual([{ checksum: expect.stringMatching(/^[0-9a-f]{40}$/), gitdir }]);
    expect(chainLines(gitdir)).toEqual([layers[0].checksum]);

    let seen = new Set<string>();
    const check = async (round: number) => {
      expect(chainLines(gitdir)).toEqual(layers.map((l) => l.checksum));
      expect(chainLines(gitdir)).toHaveLength(round + 1);
      fsckClean(gitdir);
      fsckClean(gitdir, ['-c', 'core.multiPackIndex=false']);
      const all = parseBatch(sysGit(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']));
      const odb = await openOdb({ fs, gitdir });
      const tip = layers[layers.length - 1].checksum;
      let fresh = 0;
      for (const [oid, want] of all) {
        const loc = await odb.locate(oid);
        expect(loc?.source, `${oid} after round ${round}`).toBe('midx');
        if (!seen.has(oid)) {
          expect(loc?.layer, `${oid} is new: it is in the new layer`).toBe(tip);
          fresh++;
        }
        const got = await odb.read(oid);
        expect(got.type).toBe(want.type);
        expect(Buffer.compare(got.data, want.data)).toBe(0);
      }
      expect(fresh).toBeGreaterThan(0);
      const verify = await odb.verifyMidx();
      expect(verify.problems).toEqual([]);
      expect(verify.layers).toEqual(layers.map((l) => l.checksum));
      await odb.close();
      seen = new Set(all.keys());
    };
    await check(0);

    for (let round = 1; round <= 3; round++) {
      source.commits(2 + round);
      const res = await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
      expect((res as { packfile?: string }).packfile).toMatch(/^objects\/pack\/pack-[0-9a-f]{40}\.pack$/);
      expect(errors).toEqual([]);
      expect(layers).toHaveLength(round + 1);
      // the fetched commit is there, through isomorphic-git too
      expect(await git.resolveRef({ fs, dir, ref: 'refs/remotes/origin/main' })).toBe(sysGit(['--git-dir', source.bare, 'rev-parse', 'main']).toString().trim());
      await check(round);
    }
    expect(server.log.some((l) => l.startsWith('POST /src.git/git-upload-pack 200'))).toBe(true);
  });

  it('a failed layer write does not fail the fetch; the next write picks the pack up', async () => {
    const dir = path.join(root, 'clone-lock');
    const gitdir = path.join(dir, '.git');
    const url = `${server.url}/src.git`;
    const errors: unknown[] = [];
    const layers: string[] = [];
    const hooked = withMidxHook(fs, { onLayer: (c) => layers.push(c), onError: (e) => errors.push(e) });
    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    expect(layers).toHaveLength(1);
    // another writer holds the chain lock
    const lock = path.join(gitdir, 'objects/pack/multi-pack-index.d/multi-pack-index-chain.lock');
    fs.writeFileSync(lock, '');
    source.commits(1);
    await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    expect(errors).toHaveLength(1);
    expect(errors[0]).toBeInstanceOf(LockError);
    expect(chainLines(gitdir)).toHaveLength(1);
    fs.rmSync(lock);
    source.commits(1);
    await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    expect(errors).toHaveLength(1);
    expect(chainLines(gitdir)).toHaveLength(2);
    // the layer holds both fetched packs
    const odb = await openOdb({ fs, gitdir });
    const stats = await odb.stats();
    expect(stats.packs).toEqual([]);
    expect(stats.layers[1].packs).toHaveLength(2);
    await odb.close();
    fsckClean(gitdir);
  });
});

describe('withMidxHook without a network', () => {
  /** A repository of three packs made by git, with one `.idx` removed for indexPack to write. */
  function repoWithUnindexedPack() {
    const root = temp();
    const { work, commits } = makeSource(root);
    const gitdir = path.join(work, '.git');
    commits(2);
    sysGit(['repack', '-d', '-q'], { cwd: work });
    commits(2);
    sysGit(['repack', '-d', '-q'], { cwd: work });
    const packDir = path.join(gitdir, 'objects/pack');
    const newest = fs
      .readdirSync(packDir)
      .filter((n) => n.endsWith('.pack'))
      .map((n) => ({ n, t: fs.statSync(path.join(packDir, n)).mtimeMs }))
      .sort((a, b) => b.t - a.t)[0].n;
    return { root, work, gitdir, packDir, pack: newest };
  }

  /**
   * A callback-style client, as isomorphic-git sees it (its `promises` is not
   * enumerable, as on a memfs volume), so isomorphic-git calls writeFile with a callback.
   */
  function callbackClient() {
    const c: Record<string, unknown> = {};
    for (const name of ['readFile', 'writeFile', 'mkdir', 'rmdir', 'unlink', 'stat', 'lstat', 'readdir', 'readlink', 'symlink', 'rename', 'open', 'close', 'read']) {
      c[name] = (fs as any)[name].bind(fs);
    }
    Object.defineProperty(c, 'promises', { value: fs.promises, enumerable: false });
    return c;
  }

  it('indexPack through node fs, fs.promises and a callback-style client', async () => {
    for (const kind of ['fs', 'fs.promises', 'callbacks'] as const) {
      const { work, gitdir, packDir, pack } = repoWithUnindexedPack();
      // the other pack gets a layer first, with the plain API
      fs.rmSync(path.join(packDir, pack.replace(/\.pack$/, '.idx')));
      const plain = await openOdb({ fs, gitdir });
      expect(await plain.writeMidx({ incremental: true })).toBeTruthy();
      await plain.close();
      const client: any = kind === 'fs' ? fs : kind === 'fs.promises' ? fs.promises : callbackClient();
      const layers: string[] = [];
      const hooked = withMidxHook(client, { onLayer: (c) => layers.push(c), onError: (e) => { throw e; } });
      await git.indexPack({ fs: hooked, dir: work, gitdir, filepath: `.git/objects/pack/${pack}` });
      expect(layers, kind).toHaveLength(1);
      const odb = await openOdb({ fs, gitdir });
      const stats = await odb.stats();
      expect(stats.layers.map((l) => l.checksum), kind).toEqual([expect.any(String), layers[0]]);
      expect(stats.layers[1].packs, kind).toEqual([pack.replace(/\.pack$/, '.idx')]);
      expect(stats.packs, kind).toEqual([]);
      await odb.close();
    }
  });

  it('keeps the shape of the client: promises stays enumerable, other members work, other writes pass through', async () => {
    const hooked = withMidxHook(fs);
    expect(Object.getOwnPropertyDescriptor(hooked, 'promises')?.enumerable).toBe(true);
    expect(typeof hooked.promises.readFile).toBe('function');
    expect(hooked.promises.rmdir.length).toBe(fs.promises.rmdir.length);
    expect(typeof hooked.readFileSync).toBe('function');
    expect(hooked.constants).toBe(fs.constants);
    expect(Object.keys(hooked)).toEqual(Object.keys(fs));
    const dir = temp();
    await hooked.promises.writeFile(path.join(dir, 'a.idx'), 'x');
    await new Promise<void>((resolve, reject) => hooked.writeFile(path.join(dir, 'b.txt'), 'y', (err) => (err ? reject(err) : resolve())));
    expect(fs.readFileSync(path.join(dir, 'b.txt'), 'utf8')).toBe('y');
    const p = withMidxHook(fs.promises);
    expect(Object.getOwnPropertyDescriptor(p, 'promises')).toBeUndefined();
    expect(p.readFile).not.toBe(fs.promises.readFile);
  });

  it('a write that fails is not hooked; a throwing onError does not fail the write', async () => {
    const calls: string[] = [];
    const hooked = withMidxHook(fs.promises, {
      onError: () => {
        calls.push('error');
        throw new Error('boom');
      },
      onLayer: () => calls.push('layer'),
    });
    const dir = temp();
    await expect(hooked.writeFile(path.join(dir, 'missing/objects/pack/pack-1234.idx'), 'x')).rejects.toThrow(/ENOENT/);
    expect(calls).toEqual([]);
    // the chain is locked by another writer: the layer write fails, the file write does not
    const { gitdir, packDir, pack } = repoWithUnindexedPack();
    fs.mkdirSync(path.join(packDir, 'multi-pack-index.d'));
    fs.writeFileSync(path.join(packDir, 'multi-pack-index.d/multi-pack-index-chain.lock'), '');
    const idx = path.join(packDir, pack.replace(/\.pack$/, '.idx'));
    const bytes = fs.readFileSync(idx);
    await hooked.writeFile(idx, bytes);
    expect(calls).toEqual(['error']);
    expect(fs.readFileSync(idx).equals(bytes)).toBe(true);
    expect(chainLines(gitdir)).toEqual([]);
  });

  it('tells work-tree content from gitdirs', async () => {
    const w = temp();
    for (const d of ['.git/modules/sub', 'vendor/sub.git/objects', 'lib/.git', 'lib/deep/x.git']) fs.mkdirSync(path.join(w, d), { recursive: true });
    const bare = path.join(temp(), 'bare.git');
    fs.mkdirSync(bare);
    const nfs = normalizeFs(fs);
    const cases: Array<[string, boolean]> = [
      [path.join(w, '.git'), false],
      [path.join(w, 'vendor', 'sub.git'), true],
      [path.join(w, 'lib', '.git'), false],
      [path.join(w, 'lib', 'deep', 'x.git'), true],
      [path.join(w, '.git', 'modules', 'sub'), false],
      [bare, false],
      [`${w}//vendor/./sub.git/`, true],
    ];
    for (const [g, want] of cases) expect(await insideWorkTree(nfs, g), g).toBe(want);
  });

  it('recognises pack index paths', () => {
    expect(gitdirOfPackIndex('/r/.git/objects/pack/pack-0123abcd.idx')).toBe('/r/.git');
    expect(gitdirOfPackIndex('repo.git//objects/pack/pack-ab.idx')).toBe('repo.git');
    expect(gitdirOfPackIndex('/objects/pack/pack-ab.idx')).toBe('/');
    expect(gitdirOfPackIndex('/r/.git/objects/pack/pack-ab.pack')).toBeNull();
    expect(gitdirOfPackIndex('/r/.git/objects/pack/multi-pack-index.d/x.idx')).toBeNull();
    expect(gitdirOfPackIndex('/r/.git/objects/pack/tmp_pack.idx')).toBeNull();
  });
});

/** Paths of this process's open descriptors under `root` (Linux: /proc/self/fd). */
function openFilesUnder(root: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(root + '/')) out.push(target);
    } catch {
      // closed meanwhile
    }
  }
  return out;
}

describe('withMidxHook: only the command\'s own gitdir, and files let go (issue 9)', () => {
  let root: string;
  let server: GitHttpServer;
  let source: ReturnType<typeof makeSource>;

  beforeAll(async () => {
    root = temp();
    source = makeSource(root);
    source.commits(2);
    // the source tracks a bare repository, packs and all
    const sub = path.join(source.work, 'vendor', 'sub.git');
    sysGit(['init', '-q', '--bare', sub]);
    const blob = sysGit(['--git-dir', sub, 'hash-object', '-w', '--stdin'], { input: 'tracked bare content\n' }).toString().trim();
    sysGit(['--git-dir', sub, 'pack-objects', '-q', path.join(sub, 'objects', 'pack', 'pack')], { input: blob + '\n' });
    expect(fs.readdirSync(path.join(sub, 'objects', 'pack')).some((n) => /^pack-[0-9a-f]+\.idx$/.test(n))).toBe(true);
    sysGit(['add', '-A', '-f'], { cwd: source.work });
    sysGit(['commit', '-q', '-m', 'track a bare repository'], { cwd: source.work });
    sysGit(['push', '-q', source.bare, 'main'], { cwd: source.work });
    server = await startGitHttpServer(path.join(root, 'serve'), { requestTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('a checkout of tracked pack indexes writes no MIDX in the work tree; clone and fetch still append layers', async () => {
    const dir = path.join(root, 'clone-tracked');
    const gitdir = path.join(dir, '.git');
    const layers: Array<{ checksum: string; gitdir: string }> = [];
    const errors: unknown[] = [];
    const hooked = withMidxHook(fs, { onLayer: (checksum, g) => layers.push({ checksum, gitdir: g }), onError: (e) => errors.push(e) });
    const url = `${server.url}/src.git`;
    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    const trackedPacks = path.join(dir, 'vendor', 'sub.git', 'objects', 'pack');
    // the checkout wrote the tracked pack index...
    expect(fs.readdirSync(trackedPacks).some((n) => /^pack-[0-9a-f]+\.idx$/.test(n))).toBe(true);
    // ...and nothing else there: the work tree is what the commit holds
    expect(fs.readdirSync(trackedPacks).filter((n) => n.startsWith('multi-pack-index'))).toEqual([]);
    expect(sysGit(['status', '--porcelain', '--untracked-files=all'], { cwd: dir }).toString()).toBe('');
    expect(errors).toEqual([]);
    expect(layers).toEqual([{ checksum: expect.stringMatching(/^[0-9a-f]{40}$/), gitdir }]);
    // a fetch into the clone's own gitdir still appends a layer
    source.commits(1);
    await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    expect(errors).toEqual([]);
    expect(layers).toHaveLength(2);
    expect(chainLines(gitdir)).toEqual(layers.map((l) => l.checksum));
    // and a checkout of the fetched commit writes nothing into the tracked repository either
    await git.checkout({ fs: hooked, dir, ref: 'origin/main', force: true });
    expect(fs.readdirSync(trackedPacks).filter((n) => n.startsWith('multi-pack-index'))).toEqual([]);
    expect(layers).toHaveLength(2);
    await hooked.close();
  });

  it('gitdirs: only the named gitdirs get layers', async () => {
    const dir = path.join(root, 'clone-named');
    const layers: string[] = [];
    const other = withMidxHook(fs, { gitdirs: [path.join(root, 'elsewhere', '.git')], onLayer: (c) => layers.push(c) });
    await git.clone({ fs: other, http, dir, url: `${server.url}/src.git`, singleBranch: true });
    expect(layers).toEqual([]);
    const named = withMidxHook(fs, { gitdirs: [`${dir}//.git/`], onLayer: (c) => layers.push(c) });
    source.commits(1);
    await git.fetch({ fs: named, http, dir, url: `${server.url}/src.git`, singleBranch: true, ref: 'main' });
    expect(layers).toHaveLength(1);
    expect(chainLines(path.join(dir, '.git'))).toEqual(layers);
    await other.close();
    await named.close();
  });

  it('close() releases every file the hook\'s databases held; an idle database releases its own', async () => {
    const dir = path.join(root, 'clone-close');
    const gitdir = path.join(dir, '.git');
    const url = `${server.url}/src.git`;
    const hooked = withMidxHook(fs, { idleMs: 3_600_000 });
    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    source.commits(1);
    await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    expect(chainLines(gitdir)).toHaveLength(2);
    // the database is open: its layers are
    expect(openFilesUnder(gitdir).some((f) => f.includes('multi-pack-index.d'))).toBe(true);
    await hooked.close();
    expect(openFilesUnder(gitdir)).toEqual([]);
    // still usable: the next fetch opens the database again
    source.commits(1);
    await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    expect(chainLines(gitdir)).toHaveLength(3);
    await hooked.close();
    expect(openFilesUnder(gitdir)).toEqual([]);

    // idle: a database that wrote nothing for idleMs closes by itself
    const idle = withMidxHook(fs, { idleMs: 20 });
    source.commits(1);
    await git.fetch({ fs: idle, http, dir, url, singleBranch: true, ref: 'main' });
    expect(chainLines(gitdir)).toHaveLength(4);
    for (let i = 0; i < 200 && openFilesUnder(gitdir).length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(openFilesUnder(gitdir)).toEqual([]);
    // and opens again on the next pack
    source.commits(1);
    await git.fetch({ fs: idle, http, dir, url, singleBranch: true, ref: 'main' });
    expect(chainLines(gitdir)).toHaveLength(5);
    await idle.close();
    expect(openFilesUnder(gitdir)).toEqual([]);
  });

  it("close with arguments is still the client's own close(fd, cb)", async () => {
    const hooked = withMidxHook(fs);
    const f = path.join(temp(), 'x');
    fs.writeFileSync(f, 'x');
    const fd = fs.openSync(f, 'r');
    await new Promise<void>((resolve, reject) => hooked.close(fd, (err) => (err ? reject(err) : resolve())));
    expect(() => fs.fstatSync(fd)).toThrow(/EBADF/);
  });
});

