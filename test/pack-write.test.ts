/**
 * The pack writer against git 2.55: `index-pack --verify` accepts every pack
 * written (it rebuilds the .idx and .rev and compares them byte for byte with
 * ours), `index-pack -o` writes the same .idx and .rev bytes, `fsck` is clean
 * in a repository holding only the new pack, and every object reads back as
 * `cat-file --batch` read it from the source repository.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CorruptError, openOdb, writePack, writePackOfPacks, type WrittenPack } from '../src/index.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA, parseEntryHeader } from '../src/pack/entry.js';
import { PackIndex } from '../src/pack/idx.js';
import { encodeIdxV2, oidOrder } from '../src/pack/idx-write.js';
import { encodeEntryHeader, encodeOfsDistance, PackSources, writePackFromSources } from '../src/pack/write.js';
import { hashInfo } from '../src/oid.js';
import { jsCrc32, jsHasher } from '../src/zlib/stream-hash.js';
import { loadCodec } from '../src/zlib/index.js';
import { buildMixedRepo } from './gitrepo.js';
import { callbackFs, type Fixture, fixtures, GIT_ENV, memfsCopy, parseBatch, readFileOnlyFs, tmpdir, walk } from './helpers.js';
import { buildPack, delta } from './packbuilder.js';
import { internalsOf } from '../src/odb/odb.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
let GIT = 'git';

beforeAll(() => {
  try {
    const dir = execFileSync('bash', [path.join(ROOT, '..', 'shared', 'git-2.55', 'setup.sh')], { encoding: 'utf8' }).trim();
    GIT = path.join(dir, 'git', 'bin', 'git');
  } catch {
    GIT = 'git';
  }
}, 120_000);

function g(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) {
  // outside any repository by default: index-pack checks ids against the repository it runs in
  const r = spawnSync(GIT, args, { cwd: opts.cwd ?? os.tmpdir(), input: opts.input, env: GIT_ENV, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

function ok(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Buffer {
  const r = g(args, opts);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

function writableCopy(gitdir: string): string {
  const dest = path.join(tmpdir(), 'repo.git');
  fs.cpSync(gitdir, dest, { recursive: true });
  for (const file of walk(dest)) fs.chmodSync(file, 0o644);
  return dest;
}

function packNames(gitdir: string): string[] {
  return fs
    .readdirSync(path.join(gitdir, 'objects', 'pack'))
    .filter((n) => n.endsWith('.idx'))
    .sort();
}

/** Every object of `oids` as git reads it from `gitdir`. */
function gitObjects(gitdir: string, oids: string[]) {
  return parseBatch(ok(['--git-dir', gitdir, 'cat-file', '--batch'], { input: oids.join('\n') + '\n' }));
}

/** The entry types of a pack, in pack order (read back through its .idx). */
function entryTypes(written: WrittenPack, algorithm: 'sha1' | 'sha256'): number[] {
  const hash = hashInfo(algorithm);
  const idx = PackIndex.parse(written.idxPath, fs.readFileSync(written.idxPath), hash);
  const pack = fs.readFileSync(written.packPath);
  return [...idx.sortedOffsets()].map((off) => parseEntryHeader(pack.subarray(off, off + 64), off, hash.rawLength, written.packPath)!.type);
}

/**
 * What git says of a written pack: index-pack --verify, the same .idx and .rev
 * from index-pack -o, fsck in a repository holding only this pack (and the
 * refs, when given), and the objects read back equal `expected`.
 */
function checkWithGit(written: WrittenPack, algorithm: 'sha1' | 'sha256', expected: Map<string, { type: string; data: Buffer }>, refsFrom?: string) {
  expect(fs.existsSync(written.packPath) && fs.existsSync(written.idxPath) && fs.existsSync(written.revPath)).toBe(true);
  expect(path.basename(written.packPath)).toBe(`pack-${written.checksum}.pack`);
  const format = algorithm === 'sha256' ? ['--object-format=sha256'] : [];
  // --verify rebuilds the .idx and the .rev and dies on the first byte that differs from ours
  const v = g(['index-pack', ...format, '--verify', '--rev-index', written.packPath]);
  expect(v.stderr).toBe('');
  expect(v.status).toBe(0);
  const scratch = tmpdir();
  const idx = path.join(scratch, 'git.idx');
  ok(['index-pack', ...format, '--rev-index', '-o', idx, written.packPath]);
  expect(fs.readFileSync(written.idxPath).equals(fs.readFileSync(idx))).toBe(true);
  expect(fs.readFileSync(written.revPath).equals(fs.readFileSync(path.join(scratch, 'git.rev')))).toBe(true);
  // a repository with just this pack
  const repo = path.join(scratch, 'only.git');
  ok(['init', '-q', '--bare', ...format, repo]);
  for (const f of [written.packPath, written.idxPath, written.revPath]) fs.copyFileSync(f, path.join(repo, 'objects', 'pack', path.basename(f)));
  if (refsFrom) {
    fs.cpSync(path.join(refsFrom, 'refs'), path.join(repo, 'refs'), { recursive: true });
    if (fs.existsSync(path.join(refsFrom, 'packed-refs'))) fs.copyFileSync(path.join(refsFrom, 'packed-refs'), path.join(repo, 'packed-refs'));
    fs.copyFileSync(path.join(refsFrom, 'HEAD'), path.join(repo, 'HEAD'));
  }
  const fsck = g(['--git-dir', repo, 'fsck', '--full', '--no-dangling']);
  // without refs git notes that there are none; nothing else may be said
  expect(fsck.stderr.replace(/^notice: No default references\n/, '')).toBe('');
  expect(fsck.status).toBe(0);
  const back = parseBatch(ok(['--git-dir', repo, 'cat-file', '--batch-all-objects', '--batch']));
  expect(back.size).toBe(written.count);
  expect([...back.keys()].sort()).toEqual([...expected.keys()].sort());
  for (const [oid, obj] of expected) {
    const got = back.get(oid)!;
    expect(got.type).toBe(obj.type);
    expect(got.data.equals(obj.data)).toBe(true);
  }
  return repo;
}

const FIXTURES_WITH_PACKS = fixtures().filter((f) => f.name !== 'sha1-large-offsets');

describe('writePack: every object of a git 2.55 fixture (packed through its MIDX or packs, and loose)', () => {
  for (const f of FIXTURES_WITH_PACKS) {
    it(f.name, async () => {
      const gitdir = writableCopy(f.gitdir);
      const all = ok(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
      const odb = await openOdb({ fs, gitdir });
      const out = tmpdir();
      const written = await writePack(odb, all, { packDir: out });
      await odb.close();
      expect(written.count).toBe(all.length);
      checkWithGit(written, f.algorithm, gitObjects(gitdir, all), gitdir);
    });
  }
});

describe('writePackOfPacks', () => {
  it('all packs of sha1-duplicates (every object in two packs) hold each object once', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-duplicates')!;
    const gitdir = writableCopy(f.gitdir);
    const odb = await openOdb({ fs, gitdir });
    const names = packNames(gitdir);
    const expected = new Set<string>();
    for (const n of names) {
      const idx = PackIndex.parse(n, fs.readFileSync(path.join(gitdir, 'objects', 'pack', n)), hashInfo('sha1'));
      for (let i = 0; i < idx.count; i++) expected.add(Buffer.from(idx.oidBytes(i)).toString('hex'));
    }
    const written = await writePackOfPacks(odb, names, { packDir: tmpdir() });
    await odb.close();
    expect(written.count).toBe(expected.size);
    checkWithGit(written, 'sha1', gitObjects(gitdir, [...expected]));
  });

  it('a SHA-256 repository: pack by pack', async () => {
    const f = fixtures().find((x) => x.name === 'sha256-chain')!;
    const gitdir = writableCopy(f.gitdir);
    const odb = await openOdb({ fs, gitdir });
    for (const n of packNames(gitdir)) {
      const written = await writePackOfPacks(odb, [n], { packDir: tmpdir() });
      const idx = PackIndex.parse(n, fs.readFileSync(path.join(gitdir, 'objects', 'pack', n)), hashInfo('sha256'));
      const oids = Array.from({ length: idx.count }, (_, i) => Buffer.from(idx.oidBytes(i)).toString('hex'));
      checkWithGit(written, 'sha256', gitObjects(gitdir, oids));
    }
    await odb.close();
  });
});

describe('deltas: OFS, REF, deep chains, bases outside the new pack', () => {
  let gitdir: string;
  /** the packs of the mixed repository: deep OFS chains, REF_DELTA, the one with the big blob */
  let packs: { name: string; oids: string[]; types: Map<number, number> }[];

  beforeAll(() => {
    gitdir = buildMixedRepo();
    packs = packNames(gitdir).map((name) => {
      const idx = PackIndex.parse(name, fs.readFileSync(path.join(gitdir, 'objects', 'pack', name)), hashInfo('sha1'));
      const data = fs.readFileSync(path.join(gitdir, 'objects', 'pack', name.replace(/\.idx$/, '.pack')));
      const types = new Map<number, number>();
      for (const off of idx.sortedOffsets()) {
        const t = parseEntryHeader(data.subarray(off, off + 64), off, 20, name)!.type;
        types.set(t, (types.get(t) ?? 0) + 1);
      }
      const oids = Array.from({ length: idx.count }, (_, i) => Buffer.from(idx.oidBytes(i)).toString('hex'));
      return { name, oids, types };
    });
  }, 120_000);

  it('the REF_DELTA pack alone: its deltas become OFS_DELTA', async () => {
    const ref = packs.find((p) => (p.types.get(OBJ_REF_DELTA) ?? 0) > 0)!;
    expect(ref).toBeTruthy();
    const odb = await openOdb({ fs, gitdir });
    const meters: Array<[string, number, number[], boolean]> = [];
    const progress = {
      start(title: string, total: number) {
        const m: [string, number, number[], boolean] = [title, total, [], false];
        meters.push(m);
        return { update: (n: number) => m[2].push(n), stop: () => void (m[3] = true) };
      },
    };
    const written = await writePackOfPacks(odb, [ref.name], { packDir: tmpdir(), progress });
    await odb.close();
    expect(meters.map(([t, n, u, s]) => [t, n, u[u.length - 1], s])).toEqual([['Writing objects', written.count, written.count, true]]);
    expect(written.rebased).toBe(ref.types.get(OBJ_REF_DELTA));
    const types = entryTypes(written, 'sha1');
    expect(types).not.toContain(OBJ_REF_DELTA);
    expect(types).toContain(OBJ_OFS_DELTA);
    checkWithGit(written, 'sha1', gitObjects(gitdir, ref.oids));
  });

  it('deltaBaseOffset: false writes REF_DELTA entries, which git accepts as well', async () => {
    const odb = await openOdb({ fs, gitdir });
    const written = await writePackOfPacks(odb, packNames(gitdir), { packDir: tmpdir(), deltaBaseOffset: false });
    await odb.close();
    const types = entryTypes(written, 'sha1');
    expect(types).toContain(OBJ_REF_DELTA);
    expect(types).not.toContain(OBJ_OFS_DELTA);
    checkWithGit(written, 'sha1', gitObjects(gitdir, [...new Set(packs.flatMap((p) => p.oids))]));
  });

  it('every other object of the deep-chain pack: deltas that lose their base are written whole', async () => {
    const deep = packs.reduce((a, b) => ((b.types.get(OBJ_OFS_DELTA) ?? 0) > (a.types.get(OBJ_OFS_DELTA) ?? 0) ? b : a));
    expect(deep.types.get(OBJ_OFS_DELTA)).toBeGreaterThan(50);
    const subset = deep.oids.filter((_, i) => i % 2 === 0);
    const odb = await openOdb({ fs, gitdir });
    const written = await writePack(odb, subset, { packDir: tmpdir() });
    await odb.close();
    expect(written.count).toBe(subset.length);
    expect(written.deflated).toBeGreaterThan(0);
    expect(written.reused + written.rebased).toBeGreaterThan(0);
    checkWithGit(written, 'sha1', gitObjects(gitdir, subset));
  });

  it('every object of the repository (packs and loose), with the refs: fsck checks connectivity', async () => {
    const all = ok(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
    const odb = await openOdb({ fs, gitdir });
    const written = await writePack(odb, all, { packDir: tmpdir() });
    await odb.close();
    expect(written.deflated).toBeGreaterThan(0); // the loose objects
    checkWithGit(written, 'sha1', gitObjects(gitdir, all), gitdir);
  });

  it('a pack written into the repository itself is found and read by the database', async () => {
    const copy = writableCopy(gitdir);
    const odb = await openOdb({ fs, gitdir: copy });
    const names = packNames(copy);
    const written = await writePackOfPacks(odb, names);
    expect(path.dirname(written.packPath)).toBe(path.join(copy, 'objects', 'pack'));
    for (const n of names) for (const ext of ['.idx', '.pack', '.rev']) fs.rmSync(path.join(copy, 'objects', 'pack', n.replace(/\.idx$/, ext)), { force: true });
    await odb.refresh();
    const sample = packs.flatMap((p) => p.oids).slice(0, 200);
    const expected = gitObjects(gitdir, sample);
    for (const oid of sample) {
      expect((await odb.locate(oid))?.pack).toBe(`${written.name}.idx`);
      expect(Buffer.from((await odb.read(oid)).data).equals(expected.get(oid)!.data)).toBe(true);
    }
    await odb.close();
    // no temporary files are left behind
    expect(fs.readdirSync(path.join(copy, 'objects', 'pack')).filter((n) => n.startsWith('tmp_'))).toEqual([]);
  });

  it('fs clients: node fs.promises, a memfs volume, a callback client and a client without open(): the same bytes; pako and the JavaScript hashes: git accepts the pack', async () => {
    // the mixed repository: a pack over 1 MiB, so the writers see several chunks, and loose objects
    const packBytes = packNames(gitdir).reduce((n, x) => n + fs.statSync(path.join(gitdir, 'objects', 'pack', x.replace(/\.idx$/, '.pack'))).size, 0);
    expect(packBytes).toBeGreaterThan(1 << 20);
    const names = packNames(gitdir);
    const files = (w: WrittenPack, read: (p: string) => Uint8Array) => [w.packPath, w.idxPath, w.revPath].map((p) => Buffer.from(read(p)));
    const refOdb = await openOdb({ fs, gitdir });
    const ref = await writePackOfPacks(refOdb, names, { packDir: tmpdir() });
    await refOdb.close();
    const want = files(ref, (p) => fs.readFileSync(p));
    const vol = await memfsCopy(gitdir);
    const clients: Array<[string, unknown, (p: string) => Uint8Array]> = [
      ['fs.promises', fs.promises, (p) => fs.readFileSync(p)],
      ['memfs', vol, (p) => vol.readFileSync(p) as Uint8Array],
      ['callback', callbackFs(), (p) => fs.readFileSync(p)],
      ['no open()', readFileOnlyFs(), (p) => fs.readFileSync(p)],
    ];
    for (const [label, client, read] of clients) {
      const odb = await openOdb({ fs: client, gitdir });
      const out = label === 'memfs' ? path.join(gitdir, 'objects', 'pack') : tmpdir();
      const w = await writePackOfPacks(odb, names, { packDir: out });
      await odb.close();
      expect({ label, same: files(w, read).every((b, i) => b.equals(want[i])) }).toEqual({ label, same: true });
    }
    // the browser path: pako, and SHA-1/CRC-32 in JavaScript; a loose object is deflated by pako
    const all = ok(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
    const odb = await openOdb({ fs, gitdir, zlib: 'pako' });
    expect((await odb.stats()).zlib).toBe('javascript');
    const w = await writePack(odb, all, { packDir: tmpdir() });
    await odb.close();
    expect(w.deflated).toBeGreaterThan(0);
    checkWithGit(w, 'sha1', gitObjects(gitdir, all), gitdir);
  });

  it.each([0, 1, 2, 3])('an entry whose bytes disagree with its CRC in the .idx (pack %i): CorruptError, and no temporary files', async (which) => {
    const copy = writableCopy(gitdir);
    const names = packNames(copy);
    if (which >= names.length) return;
    const deep = names[which];
    const packFile = path.join(copy, 'objects', 'pack', deep.replace(/\.idx$/, '.pack'));
    const idx = PackIndex.parse(deep, fs.readFileSync(path.join(copy, 'objects', 'pack', deep)), hashInfo('sha1'));
    const bytes = fs.readFileSync(packFile);
    const offs = idx.sortedOffsets();
    const victim = offs[Math.floor(offs.length / 2)];
    bytes[victim + 8] ^= 0x40;
    fs.writeFileSync(packFile, bytes);
    const odb = await openOdb({ fs, gitdir: copy });
    const out = tmpdir();
    await expect(writePackOfPacks(odb, [deep], { packDir: out })).rejects.toBeInstanceOf(CorruptError);
    await odb.close();
    expect(fs.readdirSync(out)).toEqual([]);
  });
});

describe('delta cycles across duplicate packs', () => {
  it('X (a delta on Y) from one pack and Y (a delta on X) from another: one is written whole', async () => {
    const gitdir = path.join(tmpdir(), 'cycle.git');
    execFileSync('git', ['init', '-q', '--bare', gitdir], { env: GIT_ENV });
    const y = Buffer.from('the base line of text\n'.repeat(8));
    const x = Buffer.concat([y, Buffer.from('and more\n')]);
    const hashOf = (d: Buffer) => crypto.createHash('sha1').update(`blob ${d.length}\0`).update(d).digest();
    const [xo, yo] = [hashOf(x), hashOf(y)];
    const copyAll = (n: number) => Buffer.from([0x90, n]);
    // pack A: Y whole, X = Y + insert
    const a = buildPack([
      { type: 3, data: y },
      { type: 7, data: delta(y.length, x.length, Buffer.concat([copyAll(y.length), Buffer.from([9]), Buffer.from('and more\n')])), baseOid: yo, oid: xo },
    ]);
    // pack B: X whole, Y = a prefix of X
    const b = buildPack([
      { type: 3, data: x },
      { type: 7, data: delta(x.length, y.length, copyAll(y.length)), baseOid: xo, oid: yo },
    ]);
    const dir = path.join(gitdir, 'objects', 'pack');
    fs.writeFileSync(path.join(dir, 'pack-a.pack'), a.pack);
    fs.writeFileSync(path.join(dir, 'pack-a.idx'), a.idx);
    fs.writeFileSync(path.join(dir, 'pack-b.pack'), b.pack);
    fs.writeFileSync(path.join(dir, 'pack-b.idx'), b.idx);
    const odb = await openOdb({ fs, gitdir });
    await internalsOf(odb).packBackend.ready();
    const pa = internalsOf(odb).packBackend.packNamed('pack-a.idx')!;
    const pb = internalsOf(odb).packBackend.packNamed('pack-b.idx')!;
    const src = new PackSources(20);
    src.add(xo, pa, a.offsets[1]);
    src.add(yo, pb, b.offsets[1]);
    const written = await writePackFromSources(
      {
        fs: internalsOf(odb).fs,
        codec: internalsOf(odb).codec,
        hash: odb.hash,
        packDir: tmpdir(),
        readWhole: async () => {
          throw new Error('not called');
        },
      },
      src,
    );
    await odb.close();
    expect(written.count).toBe(2);
    expect(written.deflated).toBe(1);
    expect(written.rebased).toBe(1);
    checkWithGit(
      written,
      'sha1',
      new Map([
        [xo.toString('hex'), { type: 'blob', data: x }],
        [yo.toString('hex'), { type: 'blob', data: y }],
      ]),
    );
  });
});

describe('encoders', () => {
  it('the .idx v2 large-offset table: the sha1-large-offsets .idx (objects past 4 GiB), rebuilt byte for byte', async () => {
    const f: Fixture = fixtures().find((x) => x.name === 'sha1-large-offsets')!;
    const dir = path.join(f.gitdir, 'objects', 'pack');
    const name = fs.readdirSync(dir).find((n) => n.endsWith('.idx'))!;
    const bytes = fs.readFileSync(path.join(dir, name));
    const hash = hashInfo('sha1');
    const idx = PackIndex.parse(name, bytes, hash);
    const n = idx.count;
    // the table in a scrambled order: the writer sorts
    const perm = Array.from({ length: n }, (_, i) => (i * 7919) % n);
    expect(new Set(perm).size).toBe(n);
    const oids = new Uint8Array(n * 20);
    const offsets = new Float64Array(n);
    const crcs = new Uint32Array(n);
    perm.forEach((pos, i) => {
      idx.copyOid(pos, oids, i * 20);
      offsets[i] = idx.offsetAt(pos);
      crcs[i] = idx.crcAt(pos);
    });
    expect([...offsets].some((o) => o >= 2 ** 32)).toBe(true);
    const codec = await loadCodec();
    const ours = encodeIdxV2({ count: n, oids, offsets, crcs }, oidOrder(oids, n, 20), idx.packChecksum, hash, codec.hasher('sha1'));
    expect(Buffer.from(ours).equals(bytes)).toBe(true);
  });

  it('entry headers and OFS distances, at the edges of each byte length', () => {
    for (const size of [0, 15, 16, 2047, 2048, 2 ** 32 + 5, 2 ** 40]) {
      const h = Uint8Array.from([...encodeEntryHeader(3, size), 0]);
      expect(parseEntryHeader(h, 100, 20, 'x')).toMatchObject({ type: 3, size, headerLength: h.length - 1 });
    }
    for (const v of [1, 127, 128, 16511, 16512, 2 ** 31, 2 ** 33 + 1]) {
      const bytes = Uint8Array.from([...encodeEntryHeader(6, 10), ...encodeOfsDistance(v)]);
      expect(parseEntryHeader(bytes, 2 ** 34, 20, 'x')!.baseOffset).toBe(2 ** 34 - v);
    }
  });

  it('the plain-JavaScript SHA-1, SHA-256 and CRC-32 (browsers) agree with node, fed in uneven pieces', () => {
    const data = crypto.randomBytes(100_003);
    for (const alg of ['sha1', 'sha256'] as const) {
      const h = jsHasher(alg);
      for (let i = 0, k = 0; i < data.length; k++) {
        const n = (k * 31) % 97;
        h.update(data.subarray(i, i + n));
        i += n;
      }
      expect(Buffer.from(h.digest()).toString('hex')).toBe(crypto.createHash(alg).update(data).digest('hex'));
      for (const len of [0, 55, 56, 63, 64, 119, 120]) {
        const d = data.subarray(0, len);
        const one = jsHasher(alg);
        one.update(d);
        expect(Buffer.from(one.digest()).toString('hex')).toBe(crypto.createHash(alg).update(d).digest('hex'));
      }
    }
    let crc = 0;
    for (let i = 0; i < data.length; i += 1000) crc = jsCrc32(data.subarray(i, i + 1000), crc);
    expect(crc).toBe(zlib.crc32(data));
  });
});

describe('streaming', () => {
  it.runIf(process.platform === 'linux')('a pack holding a 200 MiB blob is copied with a resident set that grows far less than the blob (measured in a child process)', async () => {
    const gitdir = path.join(tmpdir(), 'big.git');
    ok(['init', '-q', '--bare', gitdir]);
    // the pack by hand: one blob of 200 MiB, stored (zlib level 0), so that building it is quick
    const size = 200 * 1024 * 1024;
    const block = crypto.randomBytes(1 << 20);
    const sha = crypto.createHash('sha1').update(`blob ${size}\0`);
    const data = Buffer.alloc(size);
    for (let i = 0; i < size; i += block.length) block.copy(data, i);
    sha.update(data);
    const oid = sha.digest('hex');
    const body = Buffer.concat([Buffer.from('PACK\0\0\0\x02\0\0\0\x01', 'latin1'), Uint8Array.from(encodeEntryHeader(3, size)), zlib.deflateSync(data, { level: 0 })]);
    const packFile = path.join(gitdir, 'objects', 'pack', 'pack-big.pack');
    fs.writeFileSync(packFile, Buffer.concat([body, crypto.createHash('sha1').update(body).digest()]));
    ok(['index-pack', packFile]);
    const out = tmpdir();
    const script = `
      import fs from 'node:fs';
      const { openOdb, writePackOfPacks } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const odb = await openOdb({ fs, gitdir: ${JSON.stringify(gitdir)} });
      await odb.loadPackIndexes();
      const before = process.memoryUsage().rss;
      const t0 = process.hrtime.bigint();
      const w = await writePackOfPacks(odb, ['pack-big.idx'], { packDir: ${JSON.stringify(out)} });
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // VmHWM, the peak resident set of this process image (getrusage's maxRSS would include the parent's, inherited across fork+exec)
      const peak = Number(/VmHWM:\\s*(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
      console.log(JSON.stringify({ before, peak, ms, size: w.size, packPath: w.packPath }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
    expect(r.stderr).toBe('');
    const m = JSON.parse(r.stdout);
    const growth = m.peak - m.before;
    console.log(`200 MiB blob: RSS ${Math.round(m.before / 2 ** 20)} MiB before, peak ${Math.round(m.peak / 2 ** 20)} MiB, growth ${Math.round(growth / 2 ** 20)} MiB; ${m.ms.toFixed(0)} ms (${(m.size / 2 ** 20 / (m.ms / 1000)).toFixed(0)} MiB/s)`);
    expect(growth).toBeLessThan(48 * 1024 * 1024);
    expect(m.size).toBeGreaterThan(size);
    const v = g(['index-pack', '--verify', m.packPath]);
    expect(v.stderr).toBe('');
    expect(v.status).toBe(0);
    expect(ok(['--git-dir', gitdir, 'cat-file', '-s', oid]).toString().trim()).toBe(String(size));
  }, 120_000);
});
