/**
 * createIsogitCache: isomorphic-git's own commands (log, readTree, readBlob, walk,
 * checkout, statusMatrix, expandOid) give the same results through the adapter as
 * stock isomorphic-git, on the fixtures and on a generated many-pack repository, with
 * zero whole-file reads of `.idx` and `.pack` files by isomorphic-git; and the
 * self-test that guards isomorphic-git's internals passes with the installed version
 * (and fails loudly, naming what moved, when it does not).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import git from 'isomorphic-git';
import { createIsogitCache, createIsogitFs, isogitCacheSelfTest, isogitCacheStats, isogitFsStats, ISOGIT_VERIFIED, openOdb, type OdbWarning } from '../src/index.js';
import { buildMixedRepo } from './gitrepo.js';
import { countingFs, fixtures, git as sysGit, tmpdir, walk as walkFiles } from './helpers.js';

type Git = typeof git;
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

function temp(): string {
  const d = tmpdir('midx-odb-isocache-');
  scratch.push(d);
  return d;
}

// the package under test: isomorphic-git, or the alias of its newest release (vitest project isogit-latest)
const ISOGIT_DIR = path.join(path.dirname(createRequire(import.meta.url).resolve(process.env.ISOGIT_PACKAGE ?? 'isomorphic-git')));

/** A writable copy of a gitdir (checkout writes the index into it). */
function copyGitdir(gitdir: string): string {
  const dest = path.join(temp(), 'repo.git');
  fs.cpSync(gitdir, dest, { recursive: true });
  for (const f of walkFiles(dest)) fs.chmodSync(f, 0o644);
  return dest;
}

/** isomorphic-git cannot read `.idx` v1: index such packs again with its own indexPack (names do not change). */
async function withoutV1Indexes(gitdir: string): Promise<void> {
  const packDir = path.join(gitdir, 'objects/pack');
  for (const f of fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'))) {
    if (fs.readFileSync(path.join(packDir, f)).readUInt32BE(0) === 0xff744f63) continue;
    fs.rmSync(path.join(packDir, f));
    await git.indexPack({ fs, dir: gitdir, gitdir, filepath: `objects/pack/${f.replace(/\.idx$/, '.pack')}` });
  }
}

const sha = (b: Uint8Array) => crypto.createHash('sha1').update(b).digest('hex');

/** Everything the commands under test return, for one repository. */
async function runCommands(client: unknown, gitdir: string, dir: string, cache: object) {
  const fsc = client as typeof fs;
  const out: Record<string, unknown> = {};
  const log = await git.log({ fs: fsc, gitdir, ref: 'HEAD', cache });
  out.log = log;
  out.trees = [];
  for (const c of log) (out.trees as unknown[]).push(await git.readTree({ fs: fsc, gitdir, oid: c.commit.tree, cache }));
  const head = log[0].oid;
  const walked: unknown[] = [];
  const blobs: string[] = [];
  await git.walk({
    fs: fsc,
    gitdir,
    cache,
    trees: [git.TREE({ ref: 'HEAD' })],
    map: async (filepath, [e]) => {
      if (!e) return null;
      const type = await e.type();
      const row: unknown[] = [filepath, type, await e.mode(), await e.oid()];
      if (type === 'blob') {
        row.push(sha((await e.content())!));
        blobs.push(filepath);
      }
      walked.push(row);
      return true;
    },
  });
  // walk maps children concurrently: the order of the calls is not part of the result
  out.walk = walked.sort((a, b) => String((a as string[])[0]).localeCompare(String((b as string[])[0])));
  blobs.sort();
  out.blobs = [];
  for (const filepath of blobs.slice(0, 200)) {
    const { oid, blob } = await git.readBlob({ fs: fsc, gitdir, oid: head, filepath, cache });
    (out.blobs as unknown[]).push([filepath, oid, sha(blob)]);
  }
  // every object id of the log, abbreviated to 7 digits and expanded again
  out.expanded = [];
  for (const c of log.slice(0, 30)) (out.expanded as unknown[]).push(await git.expandOid({ fs: fsc, gitdir, oid: c.oid.slice(0, 7), cache }).catch((e: Error) => e.name));
  await git.checkout({ fs: fsc, dir, gitdir, ref: 'HEAD', force: true, cache });
  const files: Record<string, string> = {};
  for (const f of walkFiles(dir).sort()) {
    const st = fs.lstatSync(f);
    files[path.relative(dir, f)] = `${st.mode.toString(8)} ${st.isSymbolicLink() ? fs.readlinkSync(f) : sha(fs.readFileSync(f))}`;
  }
  out.checkout = files;
  // touch one file so that statusMatrix has something to say
  const first = Object.keys(files).find((f) => !files[f].startsWith('120'));
  if (first) fs.appendFileSync(path.join(dir, first), 'changed\n');
  out.status = await git.statusMatrix({ fs: fsc, dir, gitdir, cache });
  return out;
}

/** Runs the commands stock and through the adapter on separate copies; compares. */
async function compareOnRepo(source: string, opts: { midxCoversAll?: boolean; isogitFs?: boolean } = {}) {
  const stockGitdir = copyGitdir(source);
  await withoutV1Indexes(stockGitdir);
  const stock = await runCommands(fs, stockGitdir, temp(), {});

  // the adapter reads the repository as it is (`.idx` v1 included)
  const oursGitdir = copyGitdir(source);
  const warnings: OdbWarning[] = [];
  const odbFs = countingFs(fs);
  const odb = await openOdb({ fs: odbFs.fs, gitdir: oursGitdir, onWarning: (w) => warnings.push(w) });
  const cache = createIsogitCache(odb, { git });
  const counted = countingFs(fs);
  // with createIsogitFs, isomorphic-git's loose probes and pack listings are answered by the database
  const client = opts.isogitFs ? createIsogitFs(counted.fs, odb) : counted.fs;
  const ours = await runCommands(client, oursGitdir, temp(), cache);
  await odb.close();
  if (opts.isogitFs) {
    const fsStats = isogitFsStats(client)!;
    expect(fsStats.looseSkipped, 'loose probes answered without I/O').toBeGreaterThan(0);
    expect(fsStats.listingsKept, 'pack listings kept').toBeGreaterThan(fsStats.listingsRead);
    const packDir = path.join(oursGitdir, 'objects', 'pack');
    const listings = counted.calls.filter((c) => c.method === 'readdir' && path.resolve(c.path) === packDir).length;
    expect(listings).toBe(fsStats.listingsRead);
  }

  const whole = counted.calls.filter((c) => c.method === 'readFile' && /\.(idx|pack)$/.test(c.path));
  expect(whole, 'isomorphic-git read a pack or pack index whole').toEqual([]);
  // the database itself never reads a .pack whole; it reads the .idx of a pack it
  // reads from once (entry boundaries), and no other (the MIDX answers lookups)
  expect(odbFs.calls.filter((c) => c.method === 'readFile' && c.path.endsWith('.pack'))).toEqual([]);
  if (opts.midxCoversAll) {
    const idxReads = odbFs.calls.filter((c) => c.method === 'readFile' && c.path.endsWith('.idx')).map((c) => c.path);
    expect(new Set(idxReads).size).toBe(idxReads.length);
  }
  const stats = isogitCacheStats(cache)!;
  expect(stats.reads, 'objects read through the adapter').toBeGreaterThan(0);
  expect(stats.fallthroughs).toBe(0);
  expect(stats.problems).toEqual([]);
  expect(warnings).toEqual([]);
  for (const key of Object.keys(stock)) expect(ours[key], key).toStrictEqual(stock[key]);
  return { stats, calls: counted.calls };
}

describe('the self-test guards the internals the adapter relies on', () => {
  it(`passes with the installed isomorphic-git (verified: ${ISOGIT_VERIFIED})`, async () => {
    const r = await isogitCacheSelfTest(git);
    // a failure here means a new isomorphic-git moved an internal: the reason says which
    if (!r.ok) throw new Error(`isomorphic-git ${r.version} changed the internals createIsogitCache relies on: ${r.reason}`);
    expect(r).toEqual({ ok: true, reason: '', version: git.version() });
  });

  it('passes with each bundle: esm, cjs and umd (each has its own Symbol)', async () => {
    const esm = (await import(pathToFileURL(path.join(ISOGIT_DIR, 'index.js')).href)).default as Git;
    const require = createRequire(import.meta.url);
    const cjs = require(path.join(ISOGIT_DIR, 'index.cjs')) as Git;
    // the umd bundle is a browser script (and the package is "type": "module"): run it as one
    const umdModule = { exports: {} as unknown };
    new Function('module', 'exports', 'self', fs.readFileSync(path.join(ISOGIT_DIR, 'index.umd.min.js'), 'utf8'))(umdModule, umdModule.exports, globalThis);
    const umd = umdModule.exports as Git;
    for (const [name, g] of [['esm', esm], ['cjs', cjs], ['umd', umd]] as const) {
      const r = await isogitCacheSelfTest(g);
      if (!r.ok) throw new Error(`isomorphic-git ${r.version} (${name} bundle) changed the internals createIsogitCache relies on: ${r.reason}`);
    }
  });

  it('names what moved when an internal changes', async () => {
    // an isomorphic-git whose pack reader no longer uses the cache symbol
    const moved = { version: () => '1.99.0', readObject: async () => ({ type: 'blob', format: 'content', object: Buffer.from('x') }) };
    const r = await isogitCacheSelfTest(moved);
    expect(r.ok).toBe(false);
    expect(r.reason).toMatch(/PackfileCache/);
    // one that asks for the map but reads a member the stand-in does not have
    const probing = {
      version: () => '1.99.0',
      async readObject({ cache, gitdir }: Record<string, any>) {
        const sym = Symbol('PackfileCache');
        const files = await (cache as any)[sym];
        const p = await files.get(`${gitdir}/objects/pack/pack-${'5e1f'.repeat(10)}.idx`);
        void p.packfileSha;
        return { type: 'blob', format: 'content', object: Buffer.from('x') };
      },
    };
    const r2 = await isogitCacheSelfTest(probing);
    expect(r2.ok).toBe(false);
    expect(r2.reason).toMatch(/offsets\.has|packfileSha/);
  });

  it('a failed self-test turns the adapter off: isomorphic-git reads packs itself, results unchanged', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const warnings: OdbWarning[] = [];
    const odb = await openOdb({ fs, gitdir: f.gitdir, onWarning: (w) => warnings.push(w) });
    const broken = { version: () => '9.0.0', readObject: async () => ({}) };
    const cache = createIsogitCache(odb, { git: broken });
    await new Promise((r) => setTimeout(r, 10));
    const counted = countingFs(fs);
    const log = await git.log({ fs: counted.fs, gitdir: f.gitdir, cache });
    expect(log).toStrictEqual(await git.log({ fs, gitdir: f.gitdir, cache: {} }));
    expect(isogitCacheStats(cache)!.enabled).toBe(false);
    expect(counted.calls.some((c) => c.method === 'readFile' && c.path.endsWith('.idx'))).toBe(true);
    expect(warnings.map((w) => w.reason).join('\n')).toMatch(/9\.0\.0 is not a verified version[\s\S]*self-test failed/);
    await odb.close();
  });
});

describe('isomorphic-git commands through the adapter equal stock isomorphic-git', () => {
  for (const f of fixtures()) {
    if (f.algorithm !== 'sha1' || f.name === 'sha1-large-offsets') continue;
    it(f.name, async () => {
      await compareOnRepo(f.gitdir);
    });
    it(`${f.name}, with createIsogitFs too`, async () => {
      await compareOnRepo(f.gitdir, { isogitFs: true });
    });
  }

  describe('a generated many-pack repository', () => {
    let repo: string;
    beforeAll(() => {
      // the mixed repository (an .idx v1, REF_DELTA, deep delta chains, a 1.5 MB blob),
      // then 24 more packs: the first 12 under a MIDX chain of two layers, the rest unindexed
      repo = buildMixedRepo();
      scratch.push(path.dirname(repo));
      sysGit(['symbolic-ref', 'HEAD', 'refs/heads/main'], { cwd: repo });
      const work = path.join(path.dirname(repo), 'work');
      for (let i = 0; i < 24; i++) {
        fs.mkdirSync(path.join(work, `dir${i % 5}`, `sub${i % 3}`), { recursive: true });
        fs.writeFileSync(path.join(work, `dir${i % 5}`, `sub${i % 3}`, `file${i}.txt`), `round ${i}\n`.repeat(10 + i));
        fs.appendFileSync(path.join(work, 'deep.txt'), `round ${i}\n`);
        if (i === 5) {
          fs.symlinkSync('deep.txt', path.join(work, 'link'));
          fs.writeFileSync(path.join(work, 'run.sh'), '#!/bin/sh\necho hi\n', { mode: 0o755 });
        }
        sysGit(['add', '-A'], { cwd: work });
        sysGit(['commit', '-q', '-m', `round ${i}`], { cwd: work });
        sysGit(['push', '-q', repo, 'main'], { cwd: work });
        if (i < 23) sysGit(['repack', '-d', '-q'], { cwd: repo });
      }
    });

    it('with a MIDX chain over half the packs', async () => {
      const odb = await openOdb({ fs, gitdir: repo });
      const packs = () => fs.readdirSync(path.join(repo, 'objects/pack')).filter((n) => n.endsWith('.pack')).length;
      expect(packs()).toBeGreaterThanOrEqual(26);
      expect(await odb.writeMidx({ incremental: true })).toBeTruthy();
      await odb.close();
      // more packs after the layer
      const work = path.join(path.dirname(repo), 'work');
      for (let i = 0; i < 3; i++) {
        fs.writeFileSync(path.join(work, `late${i}.txt`), `late ${i}\n`);
        sysGit(['add', '-A'], { cwd: work });
        sysGit(['commit', '-q', '-m', `late ${i}`], { cwd: work });
        sysGit(['push', '-q', repo, 'main'], { cwd: work });
        sysGit(['repack', '-d', '-q'], { cwd: repo });
      }
      const { stats } = await compareOnRepo(repo);
      expect(stats.indexes).toBeGreaterThanOrEqual(29);
      await compareOnRepo(repo, { isogitFs: true });
    });

    it('with every pack under the MIDX', async () => {
      const copy = copyGitdir(repo);
      const odb = await openOdb({ fs, gitdir: copy });
      expect(await odb.writeMidx({ incremental: true })).toBeTruthy();
      await odb.close();
      await compareOnRepo(copy, { midxCoversAll: true });
      await compareOnRepo(copy, { midxCoversAll: true, isogitFs: true });
    });
  });
});

describe('adapter behaviour', () => {
  it('reads a repository holding an .idx v1, which stock isomorphic-git cannot', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-single')!;
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const cache = createIsogitCache(odb);
    const oids = fs.readFileSync(path.join(f.dir, 'expect/objects.txt'), 'utf8').trim().split('\n').map((l) => l.split(' ')[0]);
    let stockFailures = 0;
    const stockCache = {};
    for (const oid of oids) {
      const mine = await git.readObject({ fs, gitdir: f.gitdir, oid, cache, format: 'content' });
      const want = await odb.read(oid);
      expect(mine.type).toBe(want.type);
      expect(Buffer.compare(mine.object as Uint8Array, want.data)).toBe(0);
      await git.readObject({ fs, gitdir: f.gitdir, oid, cache: stockCache, format: 'content' }).catch(() => stockFailures++);
    }
    expect(stockFailures).toBeGreaterThan(0);
    await odb.close();
  });

  it('sees a pack written after it was created (refresh), without reading it whole', async () => {
    const bare = copyGitdir(fixtures().find((x) => x.name === 'sha1-chain')!.gitdir);
    const odb = await openOdb({ fs, gitdir: bare });
    const cache = createIsogitCache(odb);
    const counted = countingFs(fs);
    const before = await git.log({ fs: counted.fs, gitdir: bare, cache });
    // a new commit, packed by git
    const tree = sysGit(['--git-dir', bare, 'write-tree'], { env: { GIT_INDEX_FILE: path.join(temp(), 'index') } }).toString().trim();
    const commit = sysGit(['--git-dir', bare, 'commit-tree', tree, '-p', before[0].oid, '-m', 'new'], {}).toString().trim();
    sysGit(['--git-dir', bare, 'update-ref', 'refs/heads/main', commit]);
    sysGit(['--git-dir', bare, 'repack', '-d', '-q']);
    expect(fs.existsSync(path.join(bare, 'objects', commit.slice(0, 2), commit.slice(2)))).toBe(false);
    const after = await git.log({ fs: counted.fs, gitdir: bare, cache });
    expect(after.length).toBe(before.length + 1);
    expect(after[0].oid).toBe(commit);
    expect(counted.calls.filter((c) => c.method === 'readFile' && /\.(idx|pack)$/.test(c.path))).toEqual([]);
    await odb.close();
  });

  it('createIsogitFs: a pack written by another process is listed at once; loose objects it writes read back', async () => {
    const bare = copyGitdir(fixtures().find((x) => x.name === 'sha1-chain')!.gitdir);
    const odb = await openOdb({ fs, gitdir: bare });
    const cache = createIsogitCache(odb);
    const client = createIsogitFs(fs, odb);
    const before = await git.log({ fs: client, gitdir: bare, cache });
    const kept = isogitFsStats(client)!.listingsKept;
    expect(kept).toBeGreaterThan(0);
    // a new commit, packed by git (repack -d also removes the loose objects)
    const tree = sysGit(['--git-dir', bare, 'write-tree'], { env: { GIT_INDEX_FILE: path.join(temp(), 'index') } }).toString().trim();
    const commit = sysGit(['--git-dir', bare, 'commit-tree', tree, '-p', before[0].oid, '-m', 'new'], {}).toString().trim();
    sysGit(['--git-dir', bare, 'update-ref', 'refs/heads/main', commit]);
    sysGit(['--git-dir', bare, 'repack', '-d', '-q']);
    const after = await git.log({ fs: client, gitdir: bare, cache });
    expect(after.length).toBe(before.length + 1);
    expect(after[0].oid).toBe(commit);
    // isomorphic-git writes a loose object through the client, and reads it back
    const oid = await git.writeBlob({ fs: client, gitdir: bare, blob: new TextEncoder().encode('written through createIsogitFs\n') });
    const { blob } = await git.readBlob({ fs: client, gitdir: bare, oid, cache });
    expect(new TextDecoder().decode(blob)).toBe('written through createIsogitFs\n');
    expect(isogitFsStats(client)!.looseSkipped).toBeGreaterThan(0);
    await odb.close();
  });

  it("another repository's packs go through isomorphic-git's own path", async () => {
    const [a, b] = ['sha1-chain', 'sha1-v2'].map((n) => fixtures().find((x) => x.name === n)!);
    const odb = await openOdb({ fs, gitdir: a.gitdir });
    const cache = createIsogitCache(odb);
    const counted = countingFs(fs);
    expect(await git.log({ fs: counted.fs, gitdir: b.gitdir, cache })).toStrictEqual(await git.log({ fs, gitdir: b.gitdir, cache: {} }));
    expect(isogitCacheStats(cache)!.fallthroughs).toBeGreaterThan(0);
    expect(counted.calls.some((c) => c.method === 'readFile' && c.path.endsWith('.idx'))).toBe(true);
    // and its own repository still through the database, with the same cache, a gitdir spelled differently
    const before = counted.calls.length;
    expect(await git.log({ fs: counted.fs, gitdir: a.gitdir + '/', cache })).toStrictEqual(await git.log({ fs, gitdir: a.gitdir, cache: {} }));
    expect(counted.calls.slice(before).filter((c) => c.method === 'readFile' && /\.(idx|pack)$/.test(c.path))).toEqual([]);
    await odb.close();
  });

  it('keeps ordinary property behaviour for every other key (the staging index cache)', () => {
    const f = fixtures()[0];
    return openOdb({ fs, gitdir: f.gitdir }).then(async (odb) => {
      const cache = createIsogitCache(odb) as Record<string | symbol, unknown>;
      const other = Symbol('IndexCache');
      cache[other] = 1;
      cache.plain = 2;
      expect([cache[other], cache.plain]).toEqual([1, 2]);
      expect(cache[Symbol('PackfileCache')]).toBeInstanceOf(Map);
      await odb.close();
    });
  });

  it('warns (once) when isomorphic-git touches a member the stand-in lacks', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const warnings: OdbWarning[] = [];
    const odb = await openOdb({ fs, gitdir: f.gitdir, onWarning: (w) => warnings.push(w) });
    const cache = createIsogitCache(odb) as Record<symbol, Map<string, Promise<Record<string, unknown>>>>;
    const idx = fs.readdirSync(path.join(f.gitdir, 'objects/pack')).find((n) => n.endsWith('.idx'))!;
    const p = await cache[Symbol('PackfileCache')].get(`${f.gitdir}/objects/pack/${idx}`)!;
    void p.packfileSha;
    void p.packfileSha;
    expect(warnings.map((w) => w.reason)).toEqual([expect.stringMatching(/packIndex\.packfileSha/)]);
    expect(isogitCacheStats(cache)!.problems).toHaveLength(1);
    await odb.close();
  });
});
