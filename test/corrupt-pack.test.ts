/**
 * Issue 2: corrupt packs, indexes and loose objects give a CorruptError that
 * names the file: never a hang, an out-of-range read or a giant allocation.
 */

import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptError, NotFoundError, openOdb } from '../src/index.js';
import { applyDelta } from '../src/pack/delta.js';
import { tmpdir } from './helpers.js';
import { buildPack, delta, type EntrySpec } from './packbuilder.js';

const HELLO = Buffer.from('hello world, this is a base object\n');

function repoWith(entries: EntrySpec[], mutate?: (files: { pack: Buffer; idx: Buffer }) => void) {
  const gitdir = path.join(tmpdir(), 'repo.git');
  const packDir = path.join(gitdir, 'objects', 'pack');
  fs.mkdirSync(packDir, { recursive: true });
  fs.writeFileSync(path.join(gitdir, 'HEAD'), 'ref: refs/heads/main\n');
  const built = buildPack(entries);
  mutate?.(built);
  fs.writeFileSync(path.join(packDir, 'pack-test.pack'), built.pack);
  fs.writeFileSync(path.join(packDir, 'pack-test.idx'), built.idx);
  return { gitdir, packDir, oids: built.oids.map((o) => o.toString('hex')), offsets: built.offsets, pack: built.pack, idx: built.idx };
}

async function expectCorrupt(p: Promise<unknown>, file: RegExp, reason: RegExp) {
  const err = await p.then(
    () => null,
    (e) => e,
  );
  expect(err).toBeInstanceOf(CorruptError);
  expect((err as CorruptError).file).toMatch(file);
  expect((err as CorruptError).reason).toMatch(reason);
}

describe('hand-made packs', () => {
  it('a well-formed pack with an OFS_DELTA reads back (the builder is right)', async () => {
    const target = Buffer.from('hello world, this is a changed object\n');
    const ops = Buffer.concat([Buffer.from([0x90, 20]), Buffer.from([target.length - 20]), target.subarray(20)]);
    const r = repoWith([
      { type: 3, data: HELLO },
      { type: 6, base: 0, data: delta(HELLO.length, target.length, ops), oid: Buffer.alloc(20, 0xab) },
    ]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    expect(Buffer.from((await odb.read(r.oids[1])).data).toString()).toBe(target.toString());
    expect(await odb.readHeader(r.oids[1])).toEqual({ type: 'blob', size: target.length });
  });

  it('a delta whose declared base size does not match its base', async () => {
    const r = repoWith([
      { type: 3, data: HELLO },
      { type: 6, base: 0, data: delta(HELLO.length + 7, 5, Buffer.from([5, 1, 2, 3, 4, 5])), oid: Buffer.alloc(20, 0xab) },
    ]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[1]), /pack-test\.pack$/, /delta replay has gone wild: base size/);
  });

  it('a delta declaring a giant result is refused before anything is allocated', async () => {
    const r = repoWith([
      { type: 3, data: HELLO },
      { type: 6, base: 0, data: delta(HELLO.length, 2 ** 45, Buffer.from([0x90, 10])), oid: Buffer.alloc(20, 0xab) },
    ]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[1]), /pack-test\.pack$/, /declared|gone wild/);
  });

  it('a copy outside the base, an insert past the delta, opcode 0', () => {
    expect(() => applyDelta(HELLO, delta(HELLO.length, 10, Buffer.from([0x91, 30, 10])), 'x.pack')).toThrow(/outside/);
    expect(() => applyDelta(HELLO, delta(HELLO.length, 10, Buffer.from([10, 1, 2])), 'x.pack')).toThrow(/insert past/);
    expect(() => applyDelta(HELLO, delta(HELLO.length, 10, Buffer.from([0, 1, 2])), 'x.pack')).toThrow(/opcode 0/);
    expect(() => applyDelta(HELLO, Buffer.from([1]), 'x.pack')).toThrow(CorruptError);
  });

  it('a truncated zlib stream', async () => {
    const data = Buffer.from('some blob content that compresses\n'.repeat(20));
    const z = zlib.deflateSync(data);
    const r = repoWith([{ type: 3, data, compressed: z.subarray(0, z.length >> 1) }]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[0]), /pack-test\.pack$/, /zlib/);
  });

  it('a header that claims another size than the stream holds', async () => {
    const r = repoWith([{ type: 3, data: HELLO, claimSize: HELLO.length + 1 }]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[0]), /pack-test\.pack$/, /inflates to/);
  });

  it('a REF_DELTA cycle inside one pack is reported, not followed forever', async () => {
    const a = Buffer.alloc(20, 0x11);
    const b = Buffer.alloc(20, 0x22);
    const r = repoWith([
      { type: 7, baseOid: b, data: delta(5, 5, Buffer.from([5, 1, 2, 3, 4, 5])), oid: a },
      { type: 7, baseOid: a, data: delta(5, 5, Buffer.from([5, 1, 2, 3, 4, 5])), oid: b },
    ]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(a.toString('hex')), /pack-test\.pack$/, /longer than|cyclic/);
  });

  it('an offset past the end of the pack', async () => {
    const r = repoWith([{ type: 3, data: HELLO }], (f) => {
      // the single offset (after fanout, oids, crcs)
      f.idx.writeUInt32BE(f.pack.length + 1000, 8 + 1024 + 20 + 4);
    });
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[0]), /pack-test\.pack$/, /outside the pack/);
  });

  it('a bad pack header, a wrong object count, a trailer that does not match the index', async () => {
    const cases: Array<[(f: { pack: Buffer; idx: Buffer }) => void, RegExp]> = [
      [(f) => f.pack.write('KCAP', 0), /not a GIT packfile/],
      [(f) => f.pack.writeUInt32BE(7, 4), /version 7/],
      [(f) => f.pack.writeUInt32BE(9, 8), /claims to have 9 objects/],
      [(f) => (f.pack[f.pack.length - 1] ^= 1), /does not match index/],
    ];
    for (const [mutate, reason] of cases) {
      const r = repoWith([{ type: 3, data: HELLO }], mutate);
      const odb = await openOdb({ fs, gitdir: r.gitdir });
      await expectCorrupt(odb.read(r.oids[0]), /pack-test\.pack$/, reason);
    }
  });

  it('a truncated .idx and a non-monotonic fanout', async () => {
    const cases: Array<[(f: { pack: Buffer; idx: Buffer }) => Buffer | void, RegExp]> = [
      [(f) => f.idx.subarray(0, 500), /too small/],
      [(f) => f.idx.subarray(0, f.idx.length - 3), /wrong index v2 file size/],
      [(f) => void f.idx.writeUInt32BE(5, 8 + 4 * 10), /non-monotonic/],
    ];
    for (const [mutate, reason] of cases) {
      const gitdir = path.join(tmpdir(), 'repo.git');
      const packDir = path.join(gitdir, 'objects', 'pack');
      fs.mkdirSync(packDir, { recursive: true });
      const built = buildPack([{ type: 3, data: HELLO }]);
      const idx = (mutate(built) as Buffer | undefined) ?? built.idx;
      fs.writeFileSync(path.join(packDir, 'pack-test.pack'), built.pack);
      fs.writeFileSync(path.join(packDir, 'pack-test.idx'), idx);
      const warnings: Array<{ file: string; reason: string }> = [];
      const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w) });
      const oid = built.oids[0].toString('hex');
      await expectCorrupt(odb.read(oid), /pack-test\.idx$/, reason);
      // exists() answers false, and the warning names the file
      expect(await odb.exists(oid)).toBe(false);
      expect(warnings.some((w) => w.file.endsWith('pack-test.idx') && reason.test(w.reason))).toBe(true);
    }
  });
});

describe('loose objects', () => {
  it('a truncated or mislabelled loose object', async () => {
    const gitdir = path.join(tmpdir(), 'repo.git');
    fs.mkdirSync(path.join(gitdir, 'objects', 'ab'), { recursive: true });
    const oid = 'ab' + '0'.repeat(38);
    const file = path.join(gitdir, 'objects', 'ab', '0'.repeat(38));
    const odb = await openOdb({ fs, gitdir });
    fs.writeFileSync(file, zlib.deflateSync(Buffer.from('blob 10\0short')));
    await expectCorrupt(odb.read(oid), /ab\/0+$/, /header says 10/);
    fs.writeFileSync(file, zlib.deflateSync(Buffer.from('blub 5\0hello')));
    await expectCorrupt(odb.read(oid), /ab\/0+$/, /bad loose object header/);
    fs.writeFileSync(file, zlib.deflateSync(Buffer.from('blob 5\0hello')).subarray(0, 8));
    await expectCorrupt(odb.read(oid), /ab\/0+$/, /zlib|truncated/);
    fs.rmSync(file);
    await expect(odb.read(oid)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('thin packs: REF_DELTA bases outside the pack', () => {
  const target = Buffer.from('hello world, this is a changed object\n');
  const ops = Buffer.concat([Buffer.from([0x90, 20]), Buffer.from([target.length - 20]), target.subarray(20)]);
  const helloOid = buildPack([{ type: 3, data: HELLO }]).oids[0];

  it('a base that is a loose object', async () => {
    const r = repoWith([{ type: 7, baseOid: helloOid, data: delta(HELLO.length, target.length, ops), oid: Buffer.alloc(20, 0xcd) }]);
    const hex = helloOid.toString('hex');
    fs.mkdirSync(path.join(r.gitdir, 'objects', hex.slice(0, 2)), { recursive: true });
    fs.writeFileSync(path.join(r.gitdir, 'objects', hex.slice(0, 2), hex.slice(2)), zlib.deflateSync(Buffer.concat([Buffer.from(`blob ${HELLO.length}\0`), HELLO])));
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    expect(Buffer.from((await odb.read(r.oids[0])).data).toString()).toBe(target.toString());
    expect(await odb.readHeader(r.oids[0])).toEqual({ type: 'blob', size: target.length });
  });

  it('a base in another pack, and a missing base', async () => {
    const r = repoWith([{ type: 7, baseOid: helloOid, data: delta(HELLO.length, target.length, ops), oid: Buffer.alloc(20, 0xcd) }]);
    const odb = await openOdb({ fs, gitdir: r.gitdir });
    await expectCorrupt(odb.read(r.oids[0]), /pack-test\.pack$/, /REF_DELTA base .* is missing/);
    const other = buildPack([{ type: 3, data: HELLO }]);
    fs.writeFileSync(path.join(r.packDir, 'pack-other.pack'), other.pack);
    fs.writeFileSync(path.join(r.packDir, 'pack-other.idx'), other.idx);
    await odb.refresh();
    expect(Buffer.from((await odb.read(r.oids[0])).data).toString()).toBe(target.toString());
    expect(await odb.readHeader(r.oids[0])).toEqual({ type: 'blob', size: target.length });
  });
});
