/**
 * Writing MIDX files against the system git (2.39): git verifies and reads
 * what we write, and for the same packs git 2.39 writes the same bytes.
 *
 * git 2.39 writes MIDX v1 only and knows no chains, no v2 and no BTMP chunk
 * (BTMP arrived in 2.44). So a `--bitmap` MIDX can only match git 2.39's
 * chunk by chunk: the same PNAM, OIDF, OIDL, OOFF and RIDX, plus the BTMP
 * chunk 2.55 adds (checked against RIDX here). Chains and compaction are
 * checked structurally, as git's t5335 does.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, openOdb } from '../src/index.js';
import { CHUNK_BTMP, CHUNK_OIDF, CHUNK_OIDL, CHUNK_OOFF, CHUNK_PNAM, CHUNK_RIDX, parseToc } from '../src/midx/chunks.js';
import type { CompactMidxOptions, WriteMidxOptions } from '../src/types.js';
import { git, gitRun, tmpdir } from './helpers.js';
import { git255 } from './git255.js';

// ---------------------------------------------------------------- helpers

function packDirOf(gitdir: string): string {
  return path.join(gitdir, 'objects', 'pack');
}

function clearMidx(gitdir: string): void {
  const dir = packDirOf(gitdir);
  for (const n of fs.readdirSync(dir)) if (n.startsWith('multi-pack-index')) fs.rmSync(path.join(dir, n), { recursive: true, force: true });
}

function idxNames(gitdir: string): string[] {
  return fs.readdirSync(packDirOf(gitdir)).filter((n) => n.endsWith('.idx')).sort();
}

async function ours(gitdir: string, options: WriteMidxOptions = {}): Promise<string | null> {
  const odb = await openOdb({ fs, gitdir });
  try {
    return await odb.writeMidx(options);
  } finally {
    await odb.close();
  }
}

async function oursCompact(gitdir: string, options: CompactMidxOptions): Promise<string | null> {
  const odb = await openOdb({ fs, gitdir });
  try {
    return await odb.compactMidx(options);
  } finally {
    await odb.close();
  }
}

function readMidx(gitdir: string): Buffer {
  return fs.readFileSync(path.join(packDirOf(gitdir), 'multi-pack-index'));
}

/** id → bytes of each chunk of a MIDX file. */
function chunksOf(file: Buffer, H = 20): Map<number, Buffer> {
  const count = file[6];
  const toc = parseToc(file.subarray(12, 12 + 12 * (count + 1)), count, file.length, H);
  if (typeof toc === 'string') throw new Error(toc);
  return new Map(toc.map((c) => [c.id, file.subarray(c.offset, c.offset + c.size)]));
}

function layerPath(gitdir: string, hex: string): string {
  return path.join(packDirOf(gitdir), 'multi-pack-index.d', `multi-pack-index-${hex}.midx`);
}

function chainOf(gitdir: string): string[] {
  const p = path.join(packDirOf(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain');
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean) : [];
}

function pnam(file: Buffer, numPacks = file.readUInt32BE(8)): string[] {
  return chunksOf(file).get(CHUNK_PNAM)!.toString('latin1').split('\0').slice(0, numPacks);
}

/** `git cat-file --batch-all-objects --batch-check` with the MIDX on and off. */
function catFileBoth(gitdir: string): { on: string; off: string } {
  const run = (v: string) => git(['--git-dir', gitdir, '-c', `core.multiPackIndex=${v}`, 'cat-file', '--batch-all-objects', '--batch-check']).toString();
  return { on: run('true'), off: run('false') };
}

function hidePacks(gitdir: string, idx: string[], shelf: string): void {
  for (const name of idx) {
    const stem = name.replace(/\.idx$/, '');
    for (const n of fs.readdirSync(packDirOf(gitdir))) if (n.startsWith(stem + '.')) fs.renameSync(path.join(packDirOf(gitdir), n), path.join(shelf, n));
  }
}

function showPacks(gitdir: string, shelf: string): void {
  for (const n of fs.readdirSync(shelf)) fs.renameSync(path.join(shelf, n), path.join(packDirOf(gitdir), n));
}

/**
 * A bare repository with nine packs and loose objects:
 * A (.idx v1), B, C (REF_DELTA), ALL (`repack -a` without -d: a copy of A+B+C),
 * D, E (overlapping D and ALL), F, G, and an empty pack; every pack with its
 * own mtime (the empty one newest) so git's tie-breaks never depend on the
 * directory listing order.
 */
function buildRepo(): { gitdir: string; packs: Record<string, string> } {
  const root = tmpdir('midx-write-git-');
  const work = path.join(root, 'work');
  const gitdir = path.join(root, 'repo.git');
  fs.mkdirSync(work);
  git(['init', '-q', '-b', 'main', work]);
  git(['init', '-q', '--bare', gitdir]);
  git(['config', 'gc.auto', '0'], { cwd: gitdir });
  let n = 0;
  const batch = (commits: number) => {
    for (let i = 0; i < commits; i++, n++) {
      fs.writeFileSync(path.join(work, `f${n % 5}.txt`), `content ${n}\n`.repeat(30 + n));
      fs.writeFileSync(path.join(work, `u${n}.txt`), `unique ${n} ${crypto.createHash('sha1').update(String(n)).digest('hex')}\n`);
      git(['add', '-A'], { cwd: work });
      git(['commit', '-q', '-m', `commit ${n}`], { cwd: work });
    }
    git(['push', '-q', gitdir, 'main'], { cwd: work });
  };
  const before = () => new Set(idxNames(gitdir));
  const newPack = (seen: Set<string>) => {
    const added = idxNames(gitdir).filter((x) => !seen.has(x));
    expect(added).toHaveLength(1);
    return added[0];
  };
  const packs: Record<string, string> = {};
  let seen = before();
  batch(8);
  git(['-c', 'pack.indexVersion=1', 'repack', '-d', '-q'], { cwd: gitdir });
  packs.A = newPack(seen);
  seen = before();
  batch(8);
  git(['repack', '-d', '-q'], { cwd: gitdir });
  packs.B = newPack(seen);
  seen = before();
  batch(8);
  git(['-c', 'repack.useDeltaBaseOffset=false', 'repack', '-d', '-q'], { cwd: gitdir });
  packs.C = newPack(seen);
  seen = before();
  git(['repack', '-a', '-q'], { cwd: gitdir });
  packs.ALL = newPack(seen);
  seen = before();
  batch(8);
  git(['repack', '-d', '-q'], { cwd: gitdir });
  packs.D = newPack(seen);
  seen = before();
  const overlap = git(['rev-list', '--objects', 'main~12..main'], { cwd: gitdir })
    .toString()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[0])
    .join('\n');
  git(['pack-objects', '-q', path.join(packDirOf(gitdir), 'pack')], { cwd: gitdir, input: overlap + '\n' });
  packs.E = newPack(seen);
  seen = before();
  batch(6);
  git(['repack', '-d', '-q'], { cwd: gitdir });
  packs.F = newPack(seen);
  seen = before();
  batch(6);
  git(['repack', '-d', '-q'], { cwd: gitdir });
  packs.G = newPack(seen);
  seen = before();
  git(['pack-objects', '-q', path.join(packDirOf(gitdir), 'pack')], { cwd: gitdir, input: '' });
  packs.EMPTY = newPack(seen);
  // loose objects, outside every pack
  batch(2);
  const mtimes: Record<string, number> = { A: 1_700_000_100, B: 1_700_000_300, C: 1_700_000_500, ALL: 1_700_000_400, D: 1_700_000_700, E: 1_700_000_600, F: 1_700_000_800, G: 1_700_000_900, EMPTY: 1_700_001_000 };
  for (const [k, idx] of Object.entries(packs)) {
    const p = path.join(packDirOf(gitdir), idx.replace(/\.idx$/, '.pack'));
    fs.utimesSync(p, mtimes[k], mtimes[k]);
  }
  return { gitdir, packs };
}

// ---------------------------------------------------------------- tests

let repo: { gitdir: string; packs: Record<string, string> };

beforeAll(() => {
  repo = buildRepo();
  // the A pack really has a version 1 index, and the empty pack really is empty
  const a = fs.readFileSync(path.join(packDirOf(repo.gitdir), repo.packs.A));
  expect(a.readUInt32BE(0)).not.toBe(0xff744f63);
  const e = fs.readFileSync(path.join(packDirOf(repo.gitdir), repo.packs.EMPTY));
  expect(e.readUInt32BE(8 + 255 * 4)).toBe(0);
});

describe('a full MIDX written by us, read by git 2.39', () => {
  it('passes `git multi-pack-index verify`, and cat-file sees the same objects with the MIDX on and off', async () => {
    clearMidx(repo.gitdir);
    const hex = await ours(repo.gitdir);
    const file = readMidx(repo.gitdir);
    expect(hex).toBe(file.subarray(file.length - 20).toString('hex'));
    expect(file[4]).toBe(1);
    expect(pnam(file)).toEqual(idxNames(repo.gitdir));
    const v = gitRun(['--git-dir', repo.gitdir, 'multi-pack-index', 'verify']);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    const { on, off } = catFileBoth(repo.gitdir);
    expect(on).toBe(off);
    expect(on.split('\n').length).toBeGreaterThan(100);
  });

  it('with RIDX and BTMP (bitmap: true) still verifies and reads the same', async () => {
    clearMidx(repo.gitdir);
    await ours(repo.gitdir, { bitmap: true });
    const c = chunksOf(readMidx(repo.gitdir));
    expect(c.has(CHUNK_RIDX) && c.has(CHUNK_BTMP)).toBe(true);
    // and the .bitmap, named by the MIDX checksum, which git 2.39 reads and checks
    const hex = readMidx(repo.gitdir).subarray(-20).toString('hex');
    expect(fs.readdirSync(packDirOf(repo.gitdir)).filter((n) => n.startsWith('multi-pack-index') && n.endsWith('.bitmap'))).toEqual([`multi-pack-index-${hex}.bitmap`]);
    const v = gitRun(['--git-dir', repo.gitdir, 'multi-pack-index', 'verify']);
    expect(v.status).toBe(0);
    // git 2.55 writes the same .bitmap over the same packs and refs
    const copy = path.join(tmpdir('midx-bitmap-'), 'repo.git');
    fs.cpSync(repo.gitdir, copy, { recursive: true, preserveTimestamps: true });
    clearMidx(copy);
    git255(['--git-dir', copy, 'multi-pack-index', 'write', '--bitmap']);
    expect(fs.readFileSync(path.join(packDirOf(copy), `multi-pack-index-${hex}.bitmap`)).equals(fs.readFileSync(path.join(packDirOf(repo.gitdir), `multi-pack-index-${hex}.bitmap`)))).toBe(true);
    const { on, off } = catFileBoth(repo.gitdir);
    expect(on).toBe(off);
  });
});

describe('the same packs written by git 2.39 and by us', () => {
  const gitWrite = (...args: string[]) => {
    clearMidx(repo.gitdir);
    git(['--git-dir', repo.gitdir, 'multi-pack-index', 'write', ...args]);
    return readMidx(repo.gitdir);
  };
  const ourWrite = async (options: WriteMidxOptions = {}) => {
    clearMidx(repo.gitdir);
    await ours(repo.gitdir, options);
    return readMidx(repo.gitdir);
  };

  it('a plain write is byte-identical', async () => {
    const theirs = gitWrite();
    const mine = await ourWrite();
    expect(mine.equals(theirs)).toBe(true);
  });

  it('--preferred-pack (as .pack and as .idx) is byte-identical', async () => {
    for (const name of [repo.packs.ALL.replace(/\.idx$/, '.pack'), repo.packs.E]) {
      const theirs = gitWrite(`--preferred-pack=${name}`);
      const mine = await ourWrite({ preferredPack: name });
      expect(mine.equals(theirs), name).toBe(true);
    }
  });

  it('a rewrite that reuses an existing MIDX (objects carried over count as old) is byte-identical', async () => {
    const shelf = tmpdir('midx-shelf-');
    // (a carried-over preferred pack without --bitmap makes git 2.39 segfault: it only loads the
    // carried packs when it writes a reverse index. That case is compared in the --bitmap test.)
    for (const preferred of [undefined, repo.packs.D]) {
      // a MIDX written by git over some of the packs...
      clearMidx(repo.gitdir);
      hidePacks(repo.gitdir, [repo.packs.D, repo.packs.E, repo.packs.G], shelf);
      git(['--git-dir', repo.gitdir, 'multi-pack-index', 'write']);
      const start = readMidx(repo.gitdir);
      showPacks(repo.gitdir, shelf);
      // ...then rewritten over all of them, by git and by us
      const args = preferred ? [`--preferred-pack=${preferred}`] : [];
      const r = gitRun(['--git-dir', repo.gitdir, 'multi-pack-index', 'write', ...args]);
      expect(r.stderr, `git write ${args}`).toBe('');
      const theirs = readMidx(repo.gitdir);
      fs.rmSync(path.join(packDirOf(repo.gitdir), 'multi-pack-index'));
      fs.writeFileSync(path.join(packDirOf(repo.gitdir), 'multi-pack-index'), start);
      await ours(repo.gitdir, preferred ? { preferredPack: preferred } : {});
      expect(readMidx(repo.gitdir).equals(theirs), `preferred ${preferred}`).toBe(true);
    }
  });

  it('an up-to-date MIDX is left alone (null), as git leaves it', async () => {
    const theirs = gitWrite();
    const st = fs.statSync(path.join(packDirOf(repo.gitdir), 'multi-pack-index'));
    expect(await ours(repo.gitdir)).toBeNull();
    const after = fs.statSync(path.join(packDirOf(repo.gitdir), 'multi-pack-index'));
    expect(after.ino).toBe(st.ino);
    expect(readMidx(repo.gitdir).equals(theirs)).toBe(true);
  });

  /** A --bitmap MIDX by git 2.39 and by 2.55's rules: every 2.39 chunk identical, plus a BTMP chunk that agrees with RIDX. */
  function compareBitmapMidx(theirs: Buffer, mine: Buffer, preferred: string): void {
    const t = chunksOf(theirs);
    const m = chunksOf(mine);
    expect([...t.keys()].map((k) => k.toString(16))).toEqual(['504e414d', '4f494446', '4f49444c', '4f4f4646', '52494458']);
    expect([...m.keys()].map((k) => k.toString(16))).toEqual(['504e414d', '4f494446', '4f49444c', '4f4f4646', '52494458', '42544d50']);
    for (const [id, bytes] of t) expect(m.get(id)!.equals(bytes), `chunk ${id.toString(16)}`).toBe(true);
    expect(mine.subarray(0, 6).equals(theirs.subarray(0, 6))).toBe(true);
    expect(mine[6]).toBe(theirs[6] + 1);
    // BTMP: each pack's range of pseudo-pack slots, read back from RIDX and OOFF
    const ridx = m.get(CHUNK_RIDX)!;
    const ooff = m.get(CHUNK_OOFF)!;
    const btmp = m.get(CHUNK_BTMP)!;
    const numPacks = mine.readUInt32BE(8);
    const first = new Array(numPacks).fill(-1);
    const count = new Array(numPacks).fill(0);
    for (let j = 0; j < ridx.length / 4; j++) {
      const pack = ooff.readUInt32BE(8 * ridx.readUInt32BE(4 * j));
      if (first[pack] < 0) first[pack] = j;
      else expect(first[pack] + count[pack]).toBe(j);
      count[pack]++;
    }
    for (let p = 0; p < numPacks; p++) {
      expect(btmp.readUInt32BE(8 * p)).toBe(Math.max(first[p], 0));
      expect(btmp.readUInt32BE(8 * p + 4)).toBe(count[p]);
    }
    // the preferred pack's objects come first
    expect(pnam(mine)[ooff.readUInt32BE(8 * ridx.readUInt32BE(0))]).toBe(preferred);
  }

  it('--bitmap: git 2.39 has no BTMP chunk; every other chunk is identical, and our BTMP agrees with RIDX', async () => {
    // git 2.39 builds a real bitmap, so every reachable object must be in the MIDX: pack the loose ones, in a copy
    const gitdir = path.join(tmpdir('midx-bitmap-'), 'repo.git');
    fs.cpSync(repo.gitdir, gitdir, { recursive: true, preserveTimestamps: true });
    git(['--git-dir', gitdir, 'repack', '-d', '-q']);
    for (const preferred of [undefined, repo.packs.B]) {
      const args = ['--bitmap', ...(preferred ? [`--preferred-pack=${preferred}`] : [])];
      clearMidx(gitdir);
      git(['--git-dir', gitdir, 'multi-pack-index', 'write', ...args]);
      const theirs = readMidx(gitdir);
      clearMidx(gitdir);
      await ours(gitdir, { bitmap: true, ...(preferred ? { preferredPack: preferred } : {}) });
      // the default preferred pack is the oldest non-empty one, A
      compareBitmapMidx(theirs, readMidx(gitdir), preferred ?? repo.packs.A);
    }
    // a rewrite reusing a MIDX, with a preferred pack carried over from it (and with the default)
    const shelf = tmpdir('midx-shelf-');
    for (const preferred of [repo.packs.ALL, undefined]) {
      clearMidx(gitdir);
      // hidden: packs whose objects are all elsewhere too (A and B are in ALL, E in ALL and D), so the bitmap can be built
      hidePacks(gitdir, [repo.packs.A, repo.packs.B, repo.packs.E], shelf);
      git(['--git-dir', gitdir, 'multi-pack-index', 'write', '--bitmap']);
      const start = readMidx(gitdir);
      showPacks(gitdir, shelf);
      git(['--git-dir', gitdir, 'multi-pack-index', 'write', '--bitmap', ...(preferred ? [`--preferred-pack=${preferred}`] : [])]);
      const theirs = readMidx(gitdir);
      clearMidx(gitdir);
      fs.writeFileSync(path.join(packDirOf(gitdir), 'multi-pack-index'), start);
      await ours(gitdir, { bitmap: true, ...(preferred ? { preferredPack: preferred } : {}) });
      compareBitmapMidx(theirs, readMidx(gitdir), preferred ?? repo.packs.A);
    }
  });
});

describe('chains and compaction (checked as t5334/t5335 check them)', () => {
  /** A fresh copy of the repo's packs: layer sets are revealed one at a time. */
  function chainRepo(): { gitdir: string; shelf: string } {
    const root = tmpdir('midx-chain-');
    const gitdir = path.join(root, 'repo.git');
    fs.cpSync(repo.gitdir, gitdir, { recursive: true, preserveTimestamps: true });
    clearMidx(gitdir);
    const shelf = path.join(root, 'shelf');
    fs.mkdirSync(shelf);
    for (const n of fs.readdirSync(packDirOf(gitdir))) if (/\.(idx|pack|rev|bitmap)$/.test(n)) fs.renameSync(path.join(packDirOf(gitdir), n), path.join(shelf, n));
    // no refs: with packs shelved, a ref can name a commit that is not there (git dies on it
    // when choosing bitmap commits); without refs each layer's .bitmap holds type bitmaps only
    fs.rmSync(path.join(gitdir, 'refs'), { recursive: true, force: true });
    fs.mkdirSync(path.join(gitdir, 'refs', 'heads'), { recursive: true });
    fs.rmSync(path.join(gitdir, 'packed-refs'), { force: true });
    return { gitdir, shelf };
  }
  function reveal(gitdir: string, shelf: string, idx: string[], mtimes?: number[]): void {
    idx.forEach((name, i) => {
      const stem = name.replace(/\.idx$/, '');
      for (const n of fs.readdirSync(shelf)) if (n.startsWith(stem + '.')) fs.renameSync(path.join(shelf, n), path.join(packDirOf(gitdir), n));
      if (mtimes) fs.utimesSync(path.join(packDirOf(gitdir), `${stem}.pack`), mtimes[i], mtimes[i]);
    });
  }

  /** For the whole chain: OIDs in pseudo-pack order, and each pack's (bitmap_pos, bitmap_nr). */
  function chainView(gitdir: string) {
    const oids: string[] = [];
    const btmp = new Map<string, [number, number]>();
    const where = new Map<string, string>();
    let base = 0;
    const files = chainOf(gitdir).map((h) => fs.readFileSync(layerPath(gitdir, h)));
    const all: string[] = [];
    for (const f of files) {
      const c = chunksOf(f);
      const n = c.get(CHUNK_OIDL)!.length / 20;
      for (let i = 0; i < n; i++) all.push(c.get(CHUNK_OIDL)!.subarray(20 * i, 20 * i + 20).toString('hex'));
    }
    for (const f of files) {
      const c = chunksOf(f);
      const names = pnam(f);
      const ridx = c.get(CHUNK_RIDX)!;
      for (let j = 0; j < ridx.length / 4; j++) oids.push(all[ridx.readUInt32BE(4 * j)]);
      const b = c.get(CHUNK_BTMP)!;
      names.forEach((name, p) => btmp.set(name, [b.readUInt32BE(8 * p), b.readUInt32BE(8 * p + 4)]));
      const oidl = c.get(CHUNK_OIDL)!;
      const ooff = c.get(CHUNK_OOFF)!;
      for (let i = 0; i < oidl.length / 20; i++) where.set(oidl.subarray(20 * i, 20 * i + 20).toString('hex'), `${names[ooff.readUInt32BE(8 * i)]}@${ooff.readUInt32BE(8 * i + 4)}`);
      base += oidl.length / 20;
    }
    expect(oids.length).toBe(base);
    return { oids, btmp, where };
  }

  it('incremental layers hold only new packs and objects, with global RIDX/BTMP; compaction keeps pseudo-pack order and pack selection', async () => {
    const { gitdir, shelf } = chainRepo();
    const p = repo.packs;
    const byName = (a: string, b: string) => (a < b ? -1 : 1);
    // four layers of two packs; in each, the pack later by name is the older one,
    // so a layer's preferred pack is not its first pack name
    const layers = [
      [p.A, p.B],
      [p.C, p.ALL],
      [p.D, p.E],
      [p.F, p.G],
    ].map((l) => [...l].sort(byName));
    const hexes: string[] = [];
    layers.forEach(() => hexes.push(''));
    for (let k = 0; k < layers.length; k++) {
      reveal(gitdir, shelf, layers[k], [1_700_100_000 + 10 * k + 5, 1_700_100_000 + 10 * k]);
      hexes[k] = (await ours(gitdir, { incremental: true, bitmap: true }))!;
      expect(chainOf(gitdir)).toEqual(hexes.slice(0, k + 1));
      const f = fs.readFileSync(layerPath(gitdir, hexes[k]));
      expect(pnam(f)).toEqual(layers[k]);
      expect(f[7]).toBe(0);
      // mode 0444, as git creates layer files
      expect(fs.statSync(layerPath(gitdir, hexes[k])).mode & 0o777).toBe(0o444);
    }
    // no new packs: nothing to write
    expect(await ours(gitdir, { incremental: true })).toBeNull();
    // no object appears in two layers
    const seen = new Set<string>();
    for (const h of hexes) {
      const oidl = chunksOf(fs.readFileSync(layerPath(gitdir, h))).get(CHUNK_OIDL)!;
      for (let i = 0; i < oidl.length / 20; i++) {
        const oid = oidl.subarray(20 * i, 20 * i + 20).toString('hex');
        expect(seen.has(oid)).toBe(false);
        seen.add(oid);
      }
    }
    // every object git knows is readable through the chain (git 2.39 ignores chains: it reads the packs)
    const objects = git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check']).toString().trim().split('\n');
    {
      const odb = await openOdb({ fs, gitdir });
      const stats = await odb.stats();
      expect(stats.layers.map((l) => l.checksum)).toEqual(hexes);
      for (const line of objects) {
        const [oid, type, size] = line.split(' ');
        const h = await odb.readHeader(oid);
        expect(`${h.type} ${h.size}`).toBe(`${type} ${size}`);
      }
      await odb.close();
    }

    // each layer's preferred pack: the pack of its first pseudo-pack slot
    const preferredOf = (h: string) => {
      const f = fs.readFileSync(layerPath(gitdir, h));
      const c = chunksOf(f);
      const base = hexes.slice(0, hexes.indexOf(h)).reduce((n, x) => n + chunksOf(fs.readFileSync(layerPath(gitdir, x))).get(CHUNK_OIDL)!.length / 20, 0);
      return pnam(f)[c.get(CHUNK_OOFF)!.readUInt32BE(8 * (c.get(CHUNK_RIDX)!.readUInt32BE(0) - base))];
    };
    const preferred = [preferredOf(hexes[1]), preferredOf(hexes[2])];
    const before = chainView(gitdir);
    // t5335 "with bitmaps": compact layers 2..3 under layer 4
    const compacted = (await oursCompact(gitdir, { from: hexes[1], to: hexes[2], incremental: true, bitmap: true }))!;
    expect(chainOf(gitdir)).toEqual([hexes[0], compacted, hexes[3]]);
    const files = fs.readdirSync(path.join(packDirOf(gitdir), 'multi-pack-index.d')).sort();
    expect(files).toEqual(['multi-pack-index-chain', ...[hexes[0], compacted, hexes[3]].flatMap((h) => [`multi-pack-index-${h}.midx`, `multi-pack-index-${h}.bitmap`])].sort());
    const cf = fs.readFileSync(layerPath(gitdir, compacted));
    expect(cf[4]).toBe(2);
    // the compacted layer lists each layer's preferred pack first, then the rest in PNAM order
    const expected = [1, 2].flatMap((k) => [preferred[k - 1], ...layers[k].filter((n) => n !== preferred[k - 1])]);
    expect(expected).not.toEqual([...layers[1], ...layers[2]]);
    expect(pnam(cf)).toEqual(expected);
    const after = chainView(gitdir);
    expect(after.oids).toEqual(before.oids);
    expect(after.btmp).toEqual(before.btmp);
    // "preserves pack object selection"
    expect(after.where).toEqual(before.where);
    const odb = await openOdb({ fs, gitdir });
    for (const line of objects) {
      const [oid, type] = line.split(' ');
      expect((await odb.readHeader(oid)).type).toBe(type);
    }
    await odb.close();

    // non-incremental compaction: a v2 multi-pack-index of just the range, and .d emptied
    const single = (await oursCompact(gitdir, { from: compacted, to: hexes[3] }))!;
    const sf = readMidx(gitdir);
    expect(sf.subarray(sf.length - 20).toString('hex')).toBe(single);
    expect(sf[4]).toBe(2);
    expect(pnam(sf)).toEqual([...pnam(cf), ...layers[3]]);
    expect(fs.readdirSync(path.join(packDirOf(gitdir), 'multi-pack-index.d'))).toEqual([]);
  });

  it('converting a non-incremental MIDX hard-links it as the root layer; a full write converts back', async () => {
    const { gitdir, shelf } = chainRepo();
    const p = repo.packs;
    reveal(gitdir, shelf, [p.A, p.B, p.C]);
    git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const first = readMidx(gitdir);
    const firstHex = first.subarray(first.length - 20).toString('hex');
    const ino = fs.statSync(path.join(packDirOf(gitdir), 'multi-pack-index')).ino;
    reveal(gitdir, shelf, [p.D]);
    const second = (await ours(gitdir, { incremental: true }))!;
    expect(chainOf(gitdir)).toEqual([firstHex, second]);
    expect(fs.existsSync(path.join(packDirOf(gitdir), 'multi-pack-index'))).toBe(false);
    expect(fs.statSync(layerPath(gitdir, firstHex)).ino).toBe(ino);
    expect(fs.readFileSync(layerPath(gitdir, firstHex)).equals(first)).toBe(true);
    // a full write over an up-to-date chain does nothing
    expect(await ours(gitdir)).toBeNull();
    expect(chainOf(gitdir)).toEqual([firstHex, second]);
    // after a new pack, a full write replaces the chain, and git 2.39 verifies the result
    reveal(gitdir, shelf, [p.E]);
    const full = (await ours(gitdir))!;
    expect(readMidx(gitdir).subarray(-20).toString('hex')).toBe(full);
    expect(fs.readdirSync(path.join(packDirOf(gitdir), 'multi-pack-index.d'))).toEqual([]);
    expect(gitRun(['--git-dir', gitdir, 'multi-pack-index', 'verify']).status).toBe(0);
    const { on, off } = catFileBoth(gitdir);
    expect(on).toBe(off);
  });

  it('--no-write-chain-file and --base write a layer and leave the chain alone', async () => {
    const { gitdir, shelf } = chainRepo();
    const p = repo.packs;
    reveal(gitdir, shelf, [p.A]);
    const l1 = (await ours(gitdir, { incremental: true, bitmap: true }))!;
    reveal(gitdir, shelf, [p.B]);
    const l2 = (await ours(gitdir, { incremental: true, bitmap: true }))!;
    const chainBytes = fs.readFileSync(path.join(packDirOf(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain'));
    reveal(gitdir, shelf, [p.C]);
    const a = (await ours(gitdir, { incremental: true, writeChainFile: false }))!;
    const again = (await ours(gitdir, { incremental: true, writeChainFile: false }))!;
    expect(again).toBe(a);
    // without RIDX a layer's bytes do not depend on its base when no object is filtered
    const plainNone = (await ours(gitdir, { incremental: true, writeChainFile: false, base: 'none' }))!;
    expect(plainNone).toBe(a);
    // with RIDX they do: its values are shifted by the base's object count
    const onTip = (await ours(gitdir, { incremental: true, bitmap: true, writeChainFile: false }))!;
    const none = (await ours(gitdir, { incremental: true, bitmap: true, writeChainFile: false, base: 'none' }))!;
    const onL1 = (await ours(gitdir, { incremental: true, bitmap: true, writeChainFile: false, base: l1 }))!;
    for (const h of [a, onTip, none, onL1]) expect(fs.existsSync(layerPath(gitdir, h))).toBe(true);
    expect(new Set([onTip, none, onL1]).size).toBe(3);
    const ridx0 = (h: string) => chunksOf(fs.readFileSync(layerPath(gitdir, h))).get(CHUNK_RIDX)!.readUInt32BE(0);
    const l1Objects = chunksOf(fs.readFileSync(layerPath(gitdir, l1))).get(CHUNK_OIDL)!.length / 20;
    const l2Objects = chunksOf(fs.readFileSync(layerPath(gitdir, l2))).get(CHUNK_OIDL)!.length / 20;
    expect(ridx0(none)).toBeLessThan(ridx0(onL1));
    expect(ridx0(onL1) - ridx0(none)).toBe(l1Objects);
    expect(ridx0(onTip) - ridx0(none)).toBe(l1Objects + l2Objects);
    expect(fs.readFileSync(path.join(packDirOf(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain')).equals(chainBytes)).toBe(true);
    expect(fs.existsSync(layerPath(gitdir, l2))).toBe(true);
    // a layer on base=none covers the new pack alone, as a root layer
    expect(pnam(fs.readFileSync(layerPath(gitdir, none)))).toEqual([p.C]);
    await expect(ours(gitdir, { incremental: true, writeChainFile: false, base: 'deadbeef' })).rejects.toThrow("could not find base MIDX 'deadbeef'");
  });
});

describe("option and argument errors, with git's messages", () => {
  it('write', async () => {
    clearMidx(repo.gitdir);
    const cases: Array<[WriteMidxOptions, string]> = [
      [{ writeChainFile: false }, 'cannot use --no-write-chain-file without --incremental'],
      [{ incremental: true, base: 'none' }, 'cannot use --base without --no-write-chain-file'],
      [{ version: 3 as 1 }, 'unknown MIDX version: 3'],
      [{ stdinPacks: [], preferredPack: 'does-not-exist' }, 'no pack files to index.'],
      [{ preferredPack: repo.packs.EMPTY }, `cannot select preferred pack ${path.join(packDirOf(repo.gitdir), repo.packs.EMPTY.replace('.idx', '.pack'))} with no objects`],
    ];
    for (const [options, message] of cases) {
      const warnings: string[] = [];
      const odb = await openOdb({ fs, gitdir: repo.gitdir, onWarning: (w) => warnings.push(w.reason) });
      const err = await odb.writeMidx(options).then(
        () => null,
        (e) => e,
      );
      await odb.close();
      expect(err, JSON.stringify(options)).toBeInstanceOf(InvalidArgumentError);
      expect(err.message).toBe(message);
      if (options.preferredPack === 'does-not-exist') expect(warnings).toContain("unknown preferred pack: 'does-not-exist'");
    }
  });

  it('compact', async () => {
    const root = tmpdir('midx-compact-err-');
    const gitdir = path.join(root, 'repo.git');
    fs.cpSync(repo.gitdir, gitdir, { recursive: true, preserveTimestamps: true });
    clearMidx(gitdir);
    const shelf = path.join(root, 'shelf');
    fs.mkdirSync(shelf);
    const p = repo.packs;
    hidePacks(gitdir, [p.B, p.C, p.D, p.E, p.F, p.G, p.ALL, p.EMPTY], shelf);
    const l1 = (await ours(gitdir, { incremental: true }))!;
    showPacks(gitdir, shelf);
    hidePacks(gitdir, [p.C, p.D, p.E, p.F, p.G, p.ALL, p.EMPTY], shelf);
    const l2 = (await ours(gitdir, { incremental: true }))!;
    const missing = 'f'.repeat(40);
    const cases: Array<[CompactMidxOptions, string]> = [
      [{ from: l1, to: l2, writeChainFile: false }, 'cannot use --no-write-chain-file without --incremental'],
      [{ from: missing, to: l2 }, `could not find MIDX: ${missing}`],
      [{ from: l1, to: missing }, `could not find MIDX: ${missing}`],
      [{ from: l2, to: l2 }, 'MIDX compaction endpoints must be unique'],
      [{ from: l2, to: l1 }, `MIDX ${l2} must be an ancestor of ${l1}`],
      [{ from: l1, to: l2, version: 1 }, 'cannot perform MIDX compaction with v1 format'],
      [{ from: l1, to: l2, incremental: true, base: 'deadbeef' }, "could not find base MIDX 'deadbeef'"],
      // layers written without bitmap have no RIDX: no preferred pack to put first
      [{ from: l1, to: l2, incremental: true, bitmap: true }, 'could not determine preferred pack'],
    ];
    const chain = chainOf(gitdir);
    for (const [options, message] of cases) {
      await expect(oursCompact(gitdir, options), JSON.stringify(options)).rejects.toThrow(message);
      expect(chainOf(gitdir)).toEqual(chain);
    }
    // midx.version=1 in the config is the same error
    git(['--git-dir', gitdir, 'config', 'midx.version', '1']);
    await expect(oursCompact(gitdir, { from: l1, to: l2, incremental: true })).rejects.toThrow('cannot perform MIDX compaction with v1 format');
    // and midx.version=2 makes a plain write a v2 file
    git(['--git-dir', gitdir, 'config', 'midx.version', '2']);
    showPacks(gitdir, shelf);
    await ours(gitdir);
    expect(readMidx(gitdir)[4]).toBe(2);
  });
});

// ---------------------------------------------------------------- scale and timing

/** Synthetic packs: real .idx v2 files of random object ids (a share of them duplicated across packs) and empty .pack placeholders. */
function syntheticRepo(packs: number, perPack: number, dupShare: number, seed: number): { gitdir: string; names: string[] } {
  const root = tmpdir('midx-synth-');
  const gitdir = path.join(root, 'repo.git');
  git(['init', '-q', '--bare', gitdir]);
  let state = seed >>> 0;
  const rnd = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const pool: Buffer[] = [];
  const names: string[] = [];
  for (let p = 0; p < packs; p++) {
    const oids: Buffer[] = [];
    for (let i = 0; i < perPack; i++) {
      if (pool.length && rnd() % 1000 < dupShare * 1000) oids.push(pool[rnd() % pool.length]);
      else {
        const b = Buffer.alloc(20);
        for (let k = 0; k < 20; k += 4) b.writeUInt32BE(rnd(), k);
        oids.push(b);
        if (rnd() % 10 === 0) pool.push(b);
      }
    }
    const uniq = [...new Map(oids.map((o) => [o.toString('hex'), o])).values()].sort(Buffer.compare);
    const n = uniq.length;
    const idx = Buffer.alloc(8 + 1024 + n * 28 + 40);
    idx.writeUInt32BE(0xff744f63, 0);
    idx.writeUInt32BE(2, 4);
    const fan = new Uint32Array(256);
    for (const o of uniq) fan[o[0]]++;
    let acc = 0;
    for (let b = 0; b < 256; b++) idx.writeUInt32BE((acc += fan[b]), 8 + 4 * b);
    uniq.forEach((o, i) => o.copy(idx, 1032 + 20 * i));
    // offsets: a permutation of entry positions, 12 + 100 * k
    const order = uniq.map((_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = rnd() % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    order.forEach((i, k) => idx.writeUInt32BE(12 + 100 * k, 1032 + 24 * n + 4 * i));
    crypto.randomBytes(20).copy(idx, 1032 + 28 * n);
    crypto.createHash('sha1').update(idx.subarray(0, idx.length - 20)).digest().copy(idx, idx.length - 20);
    const name = `pack-${crypto.createHash('sha1').update(`${seed}:${p}`).digest('hex')}`;
    fs.writeFileSync(path.join(packDirOf(gitdir), `${name}.idx`), idx);
    fs.writeFileSync(path.join(packDirOf(gitdir), `${name}.pack`), '');
    fs.utimesSync(path.join(packDirOf(gitdir), `${name}.pack`), 1_600_000_000 + p, 1_600_000_000 + p);
    names.push(`${name}.idx`);
  }
  return { gitdir, names };
}

describe('scale', () => {
  it('200k objects in 40 packs (10% duplicates): identical to git 2.39, with timings', async () => {
    const { gitdir, names } = syntheticRepo(40, 5000, 0.1, 7);
    const shelf = tmpdir('midx-shelf-');
    const last = names.slice(-1);
    hidePacks(gitdir, last, shelf);

    let t = performance.now();
    git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const gitMs = performance.now() - t;
    const theirs = readMidx(gitdir);
    clearMidx(gitdir);
    t = performance.now();
    await ours(gitdir);
    const ourMs = performance.now() - t;
    expect(readMidx(gitdir).equals(theirs)).toBe(true);
    const total = chunksOf(theirs).get(CHUNK_OIDF)!.readUInt32BE(255 * 4);

    // incremental append of one small pack on top: the chain root is the full MIDX
    showPacks(gitdir, shelf);
    t = performance.now();
    const tip = await ours(gitdir, { incremental: true });
    const appendMs = performance.now() - t;
    expect(chainOf(gitdir)).toHaveLength(2);
    expect(tip).toBe(chainOf(gitdir)[1]);

    // a full rewrite that reuses the chain
    const extra = syntheticRepo(1, 300, 0, 99);
    for (const n of fs.readdirSync(packDirOf(extra.gitdir))) fs.renameSync(path.join(packDirOf(extra.gitdir), n), path.join(packDirOf(gitdir), n));
    t = performance.now();
    await ours(gitdir);
    const rewriteMs = performance.now() - t;
    console.log(
      `[write timing] ${total} objects / ${names.length} packs: git 2.39 write ${gitMs.toFixed(0)} ms, ours ${ourMs.toFixed(0)} ms; ` +
        `incremental append of 1 pack (5k objects) ${appendMs.toFixed(0)} ms; full rewrite reusing the chain (+1 pack) ${rewriteMs.toFixed(0)} ms`,
    );
  });
});

describe("git's rules for the MIDX already there (fixture copies)", () => {
  const fixtureCopy = (name: string) => {
    const gitdir = path.join(tmpdir('midx-rules-'), 'repo.git');
    fs.cpSync(path.join(__dirname, 'fixtures', 'git', name, 'repo.git'), gitdir, { recursive: true });
    for (const f of fs.readdirSync(packDirOf(gitdir), { recursive: true }) as string[]) fs.chmodSync(path.join(packDirOf(gitdir), f), 0o755);
    // git breaks ties by pack mtime: the fixture's own
    for (const line of fs.readFileSync(path.join(__dirname, 'fixtures', 'git', name, 'mtimes'), 'utf8').split('\n').filter(Boolean)) {
      const [pack, secs] = line.split(' ');
      const p = path.join(packDirOf(gitdir), pack);
      if (fs.existsSync(p)) fs.utimesSync(p, Number(secs), Number(secs));
    }
    return gitdir;
  };
  const withWarnings = async (gitdir: string, run: (odb: Awaited<ReturnType<typeof openOdb>>) => Promise<unknown>) => {
    const warnings: string[] = [];
    const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w.reason) });
    try {
      return { result: await run(odb), warnings };
    } finally {
      await odb.close();
    }
  };

  it('an incremental write over a tip with a bad checksum warns and starts a new one-layer chain over every pack (A.13)', async () => {
    const gitdir = fixtureCopy('sha1-chain');
    const old = chainOf(gitdir);
    const tip = layerPath(gitdir, old[2]);
    const bytes = fs.readFileSync(tip);
    bytes[bytes.length - 1] ^= 0xff;
    fs.writeFileSync(tip, bytes);
    const { result, warnings } = await withWarnings(gitdir, (odb) => odb.writeMidx({ incremental: true }));
    expect(warnings).toContain('ignoring existing multi-pack-index; checksum mismatch');
    expect(chainOf(gitdir)).toEqual([result]);
    expect(pnam(fs.readFileSync(layerPath(gitdir, result as string)))).toEqual(idxNames(gitdir));
    expect(fs.readdirSync(path.join(packDirOf(gitdir), 'multi-pack-index.d')).sort()).toEqual([`multi-pack-index-${result}.midx`, 'multi-pack-index-chain'].sort());
  });

  it('a full write over a MIDX with a bad checksum warns and rewrites it from the packs (t5319 "corrupt MIDX is not reused")', async () => {
    const gitdir = fixtureCopy('sha1-single');
    const file = path.join(packDirOf(gitdir), 'multi-pack-index');
    const good = fs.readFileSync(file);
    const bad = Buffer.from(good);
    bad[bad.length - 30] ^= 0xff; // an offset in OOFF
    fs.writeFileSync(file, bad);
    const { result, warnings } = await withWarnings(gitdir, (odb) => odb.writeMidx());
    expect(warnings).toContain('ignoring existing multi-pack-index; checksum mismatch');
    expect(result).toBe(readMidx(gitdir).subarray(-20).toString('hex'));
    expect(gitRun(['--git-dir', gitdir, 'multi-pack-index', 'verify']).status).toBe(0);
    // it now covers every pack (the fixture's MIDX left one out)
    expect(pnam(readMidx(gitdir))).toEqual(idxNames(gitdir));
  });

  it('--stdin-packs: the same packs keep an up-to-date MIDX, fewer rewrite it (t5319 #28)', async () => {
    const gitdir = fixtureCopy('sha1-single');
    const covered = pnam(readMidx(gitdir));
    const before = readMidx(gitdir);
    expect((await withWarnings(gitdir, (odb) => odb.writeMidx({ stdinPacks: covered }))).result).toBeNull();
    expect(readMidx(gitdir).equals(before)).toBe(true);
    const hex = (await withWarnings(gitdir, (odb) => odb.writeMidx({ stdinPacks: [covered[0], 'pack-nonexistent.idx'] }))).result;
    expect(pnam(readMidx(gitdir))).toEqual([covered[0]]);
    expect(hex).toBe(readMidx(gitdir).subarray(-20).toString('hex'));
  });

  it('bitmap: true over an up-to-date MIDX with no .bitmap rewrites it (as git does when its .bitmap is missing)', async () => {
    const gitdir = fixtureCopy('sha1-bitmap');
    const before = readMidx(gitdir);
    // with its .bitmap, git's MIDX is up to date
    expect((await withWarnings(gitdir, (odb) => odb.writeMidx({ bitmap: true }))).result).toBeNull();
    for (const n of fs.readdirSync(packDirOf(gitdir))) if (n.endsWith('.bitmap')) fs.rmSync(path.join(packDirOf(gitdir), n));
    const hex = (await withWarnings(gitdir, (odb) => odb.writeMidx({ bitmap: true }))).result;
    expect(hex).toBe(before.subarray(-20).toString('hex'));
    expect(readMidx(gitdir).equals(before)).toBe(true);
  });

  it('without bitmap, an up-to-date MIDX stays and its .bitmap files go', async () => {
    const gitdir = fixtureCopy('sha1-bitmap');
    const before = readMidx(gitdir);
    expect((await withWarnings(gitdir, (odb) => odb.writeMidx())).result).toBeNull();
    expect(readMidx(gitdir).equals(before)).toBe(true);
    expect(fs.readdirSync(packDirOf(gitdir)).filter((n) => n.endsWith('.bitmap'))).toEqual([]);
  });

  it('a layer whose objects are all in its base: refusing to write a bitmap, a layer of packs only; the next --bitmap layer fails', async () => {
    const gitdir = fixtureCopy('sha1-duplicates');
    clearMidx(gitdir);
    const shelf = tmpdir('midx-shelf-');
    const everything = 'pack-04846d34249ed81ba5cb9e50fde6832fa0006310.idx';
    const others = idxNames(gitdir).filter((n) => n !== everything);
    hidePacks(gitdir, others, shelf);
    const l1 = (await withWarnings(gitdir, (odb) => odb.writeMidx({ incremental: true, bitmap: true }))).result as string;
    showPacks(gitdir, shelf);
    hidePacks(gitdir, others.slice(1), shelf);
    const { result, warnings } = await withWarnings(gitdir, (odb) => odb.writeMidx({ incremental: true, bitmap: true }));
    expect(warnings).toContain('refusing to write multi-pack .bitmap without any objects');
    const empty = fs.readFileSync(layerPath(gitdir, result as string));
    expect(empty[6]).toBe(4);
    expect(empty.readUInt32BE(8)).toBe(1);
    expect(chunksOf(empty).get(CHUNK_OIDL)!.length).toBe(0);
    expect(chainOf(gitdir)).toEqual([l1, result]);
    showPacks(gitdir, shelf);
    hidePacks(gitdir, others.slice(2), shelf);
    await expect(withWarnings(gitdir, (odb) => odb.writeMidx({ incremental: true, bitmap: true }))).rejects.toThrow(`could not load reverse index for MIDX ${result}`);
    // without bitmap it works
    const l3 = (await withWarnings(gitdir, (odb) => odb.writeMidx({ incremental: true }))).result;
    expect(chainOf(gitdir)).toEqual([l1, result, l3]);
  });

  it('packs git cannot add are skipped with its warnings', async () => {
    const gitdir = fixtureCopy('sha1-single');
    clearMidx(gitdir);
    const pd = packDirOf(gitdir);
    const some = idxNames(gitdir)[0];
    fs.copyFileSync(path.join(pd, some), path.join(pd, 'pack-orphan.idx'));
    fs.writeFileSync(path.join(pd, 'pack-broken.idx'), 'not an index');
    fs.writeFileSync(path.join(pd, 'pack-broken.pack'), '');
    const { result, warnings } = await withWarnings(gitdir, (odb) => odb.writeMidx());
    expect(warnings).toContain(`failed to add packfile '${path.join(pd, 'pack-orphan.idx')}'`);
    expect(warnings).toContain(`failed to open pack-index '${path.join(pd, 'pack-broken.idx')}'`);
    expect(pnam(readMidx(gitdir))).not.toContain('pack-orphan.idx');
    expect(result).toBeTruthy();
  });
});
