/**
 * Issue 9: reads that stay correct where only long-lived, concurrent or
 * suspicious use reaches, against git 2.55.
 *
 * (a) Delta-base cache keys never collide, however many packs a process has
 *     opened: keys were `packId * 2**40 + offset` with a process-wide pack
 *     counter, which stops being exact past 8,192 packs; beyond ~65k packs
 *     neighbouring entries of small deltas shared a key and reads returned
 *     another object. Here a 256-pack repository of tiny delta chains is opened
 *     over and over (well over 100k Pack objects) and every read is re-hashed.
 * (b) The REF_DELTA depth is counted per read: ~1,500 concurrent reads of
 *     thin-pack objects (REF_DELTA to a base in another pack) all succeed and
 *     give git's bytes (git reads them after `index-pack --fix-thin`).
 * (c) openOdb({ verifyReads: true }) re-hashes every object: a pack damaged so
 *     that its zlib streams stay valid reads (wrong) bytes as git cat-file does,
 *     and with verifyReads the damaged object is a CorruptError, as git fsck
 *     reports it.
 */

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CorruptError, openOdb } from '../src/index.js';
import { git255, git255Bin } from './git255.js';
import { GIT_ENV, gitHash, parseBatch, tmpdir } from './helpers.js';
import { buildPack, delta } from './packbuilder.js';

/** `git cat-file --batch` of `oids`: id -> { type, data } */
function catFileBatch(gitdir: string, oids: string[]): Map<string, { type: string; data: Buffer }> {
  return parseBatch(git255(['--git-dir', gitdir, 'cat-file', '--batch'], { input: oids.join('\n') + '\n' }));
}

describe('delta-base cache keys over a long-lived process', () => {
  const PACKS = 256;
  const CHAIN = 24;
  let gitdir: string;
  /** per pack, its blobs' ids, base first */
  const blobs: string[][] = [];
  const contents = new Map<string, Buffer>();

  beforeAll(() => {
    gitdir = path.join(tmpdir(), 'many-chains.git');
    git255(['init', '-q', '--bare', gitdir]);
    // fast-import deltifies each blob against the one before it: one pack per
    // checkpoint, each a chain of tiny OFS_DELTA entries a few dozen bytes apart
    const input: string[] = [];
    for (let p = 0; p < PACKS; p++) {
      const lines = Array.from({ length: 40 }, (_, i) => `pack ${p} line ${i} ${'abcdefgh'.repeat(3)}\n`);
      const ids: string[] = [];
      for (let k = 0; k < CHAIN; k++) {
        lines[k % lines.length] = `pack ${p} step ${k}\n`;
        const body = Buffer.from(lines.join(''));
        const oid = gitHash('sha1', 'blob', body);
        ids.push(oid);
        contents.set(oid, body);
        input.push(`blob\ndata ${body.length}\n`, body.toString(), '\n');
      }
      input.push('checkpoint\n\n');
      blobs.push(ids);
    }
    // (unpackLimit 0: keep every pack, small ones too, rather than exploding them into loose objects)
    git255(['--git-dir', gitdir, '-c', 'fastimport.unpackLimit=0', 'fast-import', '--quiet'], { input: input.join('') });
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const packs = fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((n) => n.endsWith('.pack'));
    expect(packs.length).toBe(PACKS);
    // git agrees with the contents, and the entries are deltas
    const check = catFileBatch(gitdir, blobs[0]);
    for (const oid of blobs[0]) expect(check.get(oid)!.data.equals(contents.get(oid)!)).toBe(true);
    const verify = git255(['verify-pack', '-v', path.join(gitdir, 'objects', 'pack', packs[0])]).toString();
    expect((verify.match(/ blob +\d+ \d+ \d+ \d+ [0-9a-f]{40}/g) ?? []).length).toBeGreaterThan(CHAIN / 2);
  });

  it('150,000 packs opened over the process life: every object read hashes to its id', async () => {
    const OPENS = 600;
    let read = 0;
    let wrong = 0;
    for (let i = 0; i < OPENS; i++) {
      const odb = await openOdb({ fs, gitdir });
      // one pack's chain, deepest first: each read leaves the chain's bases in the cache
      const ids = blobs[(i * 37) % PACKS];
      for (let k = ids.length - 1; k >= 0; k--) {
        const { type, data } = await odb.read(ids[k]);
        read++;
        if (gitHash('sha1', type, data) !== ids[k]) wrong++;
      }
      await odb.close();
    }
    expect(read).toBe(OPENS * CHAIN);
    expect(wrong).toBe(0);
  });
});

describe('thin packs: REF_DELTA bases in another pack', () => {
  it('1,500 concurrent reads of objects whose base is in another pack all succeed, with the bytes git reads', async () => {
    const gitdir = path.join(tmpdir(), 'thin.git');
    git255(['init', '-q', '--bare', gitdir]);
    const packDir = path.join(gitdir, 'objects', 'pack');
    // pack A (by git): 50 blobs
    const bases: Buffer[] = Array.from({ length: 50 }, (_, i) => Buffer.from(`base ${i}\n${crypto.randomBytes(300).toString('hex')}\n`));
    const baseIds = bases.map((b) => git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: b }).toString().trim());
    git255(['--git-dir', gitdir, 'repack', '-q', '-a', '-d']);
    // pack B (thin, by hand): one REF_DELTA per base, naming its base in pack A
    const results: Buffer[] = [];
    const entries = bases.map((b, i) => {
      const tail = Buffer.from(`appended to ${i}\n`);
      const result = Buffer.concat([b.subarray(0, 200), tail]);
      results.push(result);
      const ops = Buffer.concat([Buffer.from([0x90, 200]), Buffer.from([tail.length]), tail]); // copy 200 from 0, insert tail
      return { type: 7, data: delta(b.length, result.length, ops), baseOid: Buffer.from(baseIds[i], 'hex'), oid: Buffer.from(gitHash('sha1', 'blob', result), 'hex') };
    });
    const thin = buildPack(entries);
    fs.writeFileSync(path.join(packDir, 'pack-thin.pack'), thin.pack);
    fs.writeFileSync(path.join(packDir, 'pack-thin.idx'), thin.idx);
    const ids = thin.oids.map((o) => o.toString('hex'));

    // git's answer: the same pack made whole by index-pack --fix-thin, in a copy
    const fixed = path.join(tmpdir(), 'fixed.git');
    fs.cpSync(gitdir, fixed, { recursive: true });
    fs.rmSync(path.join(fixed, 'objects', 'pack', 'pack-thin.pack'));
    fs.rmSync(path.join(fixed, 'objects', 'pack', 'pack-thin.idx'));
    const r = spawnSync(git255Bin(), ['--git-dir', fixed, 'index-pack', '--stdin', '--fix-thin'], { input: thin.pack, env: GIT_ENV });
    expect(r.status, r.stderr.toString()).toBe(0);
    const expected = catFileBatch(fixed, ids);
    ids.forEach((oid, i) => expect(expected.get(oid)!.data.equals(results[i])).toBe(true));

    const odb = await openOdb({ fs, gitdir });
    const reads: Promise<{ type: string; data: Uint8Array }>[] = [];
    for (let round = 0; round < 30; round++) for (const oid of ids) reads.push(odb.read(oid));
    const headers = ids.map((oid) => odb.readHeader(oid));
    const settled = await Promise.allSettled(reads);
    const failed = settled.filter((s) => s.status === 'rejected');
    expect(failed.map((f) => String((f as PromiseRejectedResult).reason)).slice(0, 3)).toEqual([]);
    settled.forEach((s, i) => {
      const got = (s as PromiseFulfilledResult<{ type: string; data: Uint8Array }>).value;
      const want = expected.get(ids[i % ids.length])!;
      expect(got.type).toBe(want.type);
      expect(Buffer.from(got.data).equals(want.data)).toBe(true);
    });
    for (const [i, h] of (await Promise.all(headers)).entries()) expect(h).toEqual({ type: 'blob', size: results[i].length });
    // and later reads still work (no counter left behind)
    expect(Buffer.from((await odb.read(ids[0])).data).equals(results[0])).toBe(true);
    await odb.close();
  });
});

describe('verifyReads', () => {
  /** Adler-32, to keep a stored zlib stream valid after its bytes change */
  function adler32(data: Uint8Array): number {
    let a = 1;
    let b = 0;
    for (const c of data) {
      a = (a + c) % 65521;
      b = (b + a) % 65521;
    }
    return ((b << 16) | a) >>> 0;
  }

  it('a pack damaged with valid zlib streams: git cat-file reads the wrong bytes, verifyReads refuses them as git fsck does', async () => {
    const gitdir = path.join(tmpdir(), 'damaged.git');
    git255(['init', '-q', '--bare', gitdir]);
    const blobsIn = Array.from({ length: 5 }, (_, i) => Buffer.from(`blob number ${i}: ${crypto.randomBytes(100).toString('hex')}\n`));
    const ids = blobsIn.map((b) => git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: b }).toString().trim());
    // a delta on blob 2, so that damage to a base reaches the objects standing on it
    const onTop = Buffer.concat([blobsIn[2], Buffer.from('and one more line\n')]);
    const topId = git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: onTop }).toString().trim();
    // stored (level 0) zlib streams: the content sits in the pack as is
    git255(['--git-dir', gitdir, '-c', 'pack.compression=0', 'pack-objects', '-q', path.join(gitdir, 'objects', 'pack', 'pack')], { input: [...ids, topId].join('\n') + '\n' });
    git255(['--git-dir', gitdir, 'prune-packed']);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packName = fs.readdirSync(packDir).find((n) => n.endsWith('.pack'))!;
    const packFile = path.join(packDir, packName);
    const pack = fs.readFileSync(packFile);
    // of blob 2 and the blob made from it, one is the other's delta base: flip one
    // byte of the base's content (both start "blob number 2") and fix the Adler-32
    const verify = git255(['verify-pack', '-v', packFile]).toString();
    const lines = verify.split('\n').filter((l) => l.startsWith(ids[2]) || l.startsWith(topId));
    expect(lines.length).toBe(2);
    const line = lines.find((l) => l.trim().split(/ +/).length === 5)!;
    const [, type, size, sizeInPack, offset] = line.trim().split(/ +/);
    expect(type).toBe('blob');
    const entryAt = Number(offset);
    const entry = pack.subarray(entryAt, entryAt + Number(sizeInPack));
    const at = entry.indexOf(Buffer.from('blob number 2'));
    expect(at).toBeGreaterThan(0);
    entry[at + 5] ^= 0x20; // "number" -> "nUmber"
    const streamEnd = entry.length - 4;
    const content = entry.subarray(at, at + Number(size));
    entry.writeUInt32BE(adler32(content), streamEnd);
    expect(zlib.inflateSync(entry.subarray(at - 7)).length).toBe(Number(size)); // header byte(s) + 2 zlib + 5 stored-block bytes precede
    fs.chmodSync(packFile, 0o644);
    fs.writeFileSync(packFile, pack);
    const git = catFileBatch(gitdir, [...ids, topId]);

    // without verifyReads: git's bytes, damage included
    const plain = await openOdb({ fs, gitdir });
    for (const oid of [...ids, topId]) expect(Buffer.from((await plain.read(oid)).data).equals(git.get(oid)!.data)).toBe(true);
    expect(gitHash('sha1', 'blob', git.get(ids[2])!.data)).not.toBe(ids[2]);
    await plain.close();

    // git fsck names the object
    const fsck = spawnSync(git255Bin(), ['--git-dir', gitdir, 'fsck', '--full'], { env: GIT_ENV, encoding: 'utf8' });
    expect(fsck.status).not.toBe(0);
    expect(fsck.stderr + fsck.stdout).toContain(ids[2]);

    const odb = await openOdb({ fs, gitdir, verifyReads: true });
    for (const oid of [ids[0], ids[1], ids[3], ids[4]]) expect(Buffer.from((await odb.read(oid)).data).equals(git.get(oid)!.data)).toBe(true);
    for (const oid of [ids[2], topId]) {
      const err = await odb.read(oid).then(
        () => null,
        (e) => e,
      );
      expect(err).toBeInstanceOf(CorruptError);
      expect(err.file).toBe(packFile);
      expect(err.reason).toContain(oid);
    }
    // readObject (the isomorphic-git shapes) verifies too
    await expect(odb.readObject({ oid: ids[2] })).rejects.toBeInstanceOf(CorruptError);
    expect((await odb.readObject({ oid: ids[0] })).oid).toBe(ids[0]);
    await odb.close();

    // a loose object whose content was swapped (a valid stream of other bytes)
    const looseId = git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: 'loose one\n' }).toString().trim();
    const looseFile = path.join(gitdir, 'objects', looseId.slice(0, 2), looseId.slice(2));
    fs.chmodSync(looseFile, 0o644);
    fs.writeFileSync(looseFile, zlib.deflateSync(Buffer.from('blob 10\0loose One\n')));
    const odb2 = await openOdb({ fs, gitdir, verifyReads: true });
    await expect(odb2.read(looseId)).rejects.toMatchObject({ code: 'ECORRUPT', file: looseFile });
    await odb2.close();
  });
});
