/**
 * Issue 15: an entry is read to a bound its header gives (its size, plus what
 * zlib adds at most) rather than to the next entry's offset, so that reads
 * through a MIDX need neither the packs' sorted offsets nor their whole .idx
 * files. Entries whose streams are longer than the bound (valid deflate that
 * no zlib writes) must still read right, and so must everything git writes.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { CorruptError, openOdb } from '../src/index.js';
import { adler32 } from '../src/zlib/js.js';
import { git, gitHash, parseBatch, tmpdir } from './helpers.js';
import { buildPack, delta, type EntrySpec } from './packbuilder.js';

/** A valid zlib stream of `data` in stored blocks of one byte each: six bytes a byte, far past any bound on what zlib writes. */
function storedBytewise(data: Buffer): Buffer {
  const parts: Buffer[] = [Buffer.from([0x78, 0x01])];
  for (let i = 0; i < data.length; i++) {
    const last = i === data.length - 1 ? 1 : 0;
    // BFINAL, BTYPE 00, padded to the byte; LEN 1, NLEN ~1; the byte
    parts.push(Buffer.from([last, 0x01, 0x00, 0xfe, 0xff, data[i]]));
  }
  const adler = Buffer.alloc(4);
  adler.writeUInt32BE(adler32(data));
  parts.push(adler);
  return Buffer.concat(parts);
}

function blobOid(data: Buffer): Buffer {
  return Buffer.from(gitHash('sha1', 'blob', data), 'hex');
}

function text(n: number, seed: string): Buffer {
  let s = '';
  for (let i = 0; s.length < n; i++) s += `${seed} line ${i} of a text that compresses well\n`;
  return Buffer.from(s.slice(0, n));
}

describe('entries read to a bound', () => {
  it('streams longer than the bound (one-byte stored blocks) read as git reads them, as whole objects and as deltas', async () => {
    const small = text(1000, 'small'); // 6 KiB stream: past the first read
    const mid = text(5000, 'mid'); // 30 KiB stream: past the first read and the bound
    const base = text(3000, 'base');
    const result = Buffer.concat([base.subarray(0, 2000), Buffer.from('changed tail\n')]);
    // copy 2000 bytes from the base at 0, then insert the tail
    const ops = Buffer.concat([Buffer.from([0x80 | 0x10 | 0x20, 0xd0, 0x07]), Buffer.from([13]), Buffer.from('changed tail\n')]);
    const d = delta(base.length, result.length, ops);
    const padding = crypto.randomBytes(3000); // the delta's own stream, bytewise, is 6x its size
    const entries: EntrySpec[] = [
      { type: 3, data: small, compressed: storedBytewise(small) },
      { type: 3, data: mid, compressed: storedBytewise(mid) },
      { type: 3, data: base },
      { type: 6, data: d, base: 2, oid: blobOid(result), compressed: storedBytewise(d) },
      { type: 3, data: padding, compressed: storedBytewise(padding) },
      { type: 3, data: text(200, 'last') },
    ];
    const gitdir = path.join(tmpdir(), 'repo.git');
    git(['init', '-q', '--bare', gitdir]);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const built = buildPack(entries);
    fs.writeFileSync(path.join(packDir, 'pack-test.pack'), built.pack);
    fs.writeFileSync(path.join(packDir, 'pack-test.idx'), built.idx);
    const oids = built.oids.map((o) => o.toString('hex'));
    // git reads the pack (the streams are valid), and a MIDX over it
    const want = parseBatch(git(['--git-dir', gitdir, 'cat-file', '--batch'], { input: oids.join('\n') + '\n' }));
    expect(want.get(oids[3])!.data.equals(result)).toBe(true);
    for (const withMidx of [false, true]) {
      if (withMidx) git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
      for (const zlibName of ['native', 'js'] as const) {
        const odb = await openOdb({ fs, gitdir, zlib: zlibName === 'native' ? 'auto' : 'js' });
        for (const oid of oids) {
          const o = await odb.read(oid);
          expect(o.type, oid).toBe(want.get(oid)!.type);
          expect(Buffer.from(o.data).equals(want.get(oid)!.data), `${oid} (MIDX ${withMidx}, ${zlibName})`).toBe(true);
          expect(await odb.readHeader(oid)).toEqual({ type: 'blob', size: want.get(oid)!.data.length });
        }
        await odb.close();
      }
    }
  });

  it('a REF_DELTA header whose size needs the whole delta, while other reads use the shared buffers, finds its base (git writes the MIDX)', async () => {
    // the delta's stream starts with 60 empty stored blocks: the header probe inflates
    // nothing, so the size comes from the whole entry, once the index is loaded (a wait)
    const base = text(3000, 'ref base');
    const result = Buffer.concat([base.subarray(0, 2000), Buffer.from('changed tail\n')]);
    const d = delta(base.length, result.length, Buffer.concat([Buffer.from([0x80 | 0x10 | 0x20, 0xd0, 0x07, 13]), Buffer.from('changed tail\n')]));
    const empty = Buffer.alloc(60 * 5);
    for (let i = 0; i < 60; i++) empty.set([0x00, 0x00, 0x00, 0xff, 0xff], i * 5);
    const last = Buffer.from([0x01, d.length & 0xff, d.length >> 8, ~d.length & 0xff, (~d.length >> 8) & 0xff]);
    const adler = Buffer.alloc(4);
    adler.writeUInt32BE(adler32(d));
    const stream = Buffer.concat([Buffer.from([0x78, 0x01]), empty, last, d, adler]);
    const others = Array.from({ length: 20 }, (_, i) => text(500 + i * 10, `other ${i}`));
    const entries: EntrySpec[] = [{ type: 3, data: base }, { type: 7, data: d, baseOid: blobOid(base), oid: blobOid(result), compressed: stream }, ...others.map((o) => ({ type: 3, data: o }))];
    const gitdir = path.join(tmpdir(), 'repo.git');
    git(['init', '-q', '--bare', gitdir]);
    const built = buildPack(entries);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-test.pack'), built.pack);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-test.idx'), built.idx);
    git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const top = built.oids[1].toString('hex');
    expect(git(['--git-dir', gitdir, 'cat-file', '-t', top]).toString().trim()).toBe('blob');
    for (const packWindowBytes of [0, 8192, undefined]) {
      const odb = await openOdb({ fs, gitdir, packWindowBytes });
      // the header first: it waits for the index; the reads run meanwhile
      const [h, ...rest] = await Promise.all([odb.readHeader(top), ...built.oids.slice(2).map((o) => odb.read(o.toString('hex')))]);
      expect(h, `windows ${packWindowBytes}`).toEqual({ type: 'blob', size: result.length });
      rest.forEach((o, i) => expect(Buffer.from(o.data).equals(others[i])).toBe(true));
      expect(Buffer.from((await odb.read(top)).data).equals(result)).toBe(true);
      await odb.close();
    }
  });

  it('a damaged stream is still named, whether the bound or the exact end reads it', async () => {
    const data = text(600, 'damaged');
    const good = zlib.deflateSync(data);
    const bad = Buffer.from(good);
    bad[bad.length - 1] ^= 0xff; // the Adler-32 trailer
    const gitdir = path.join(tmpdir(), 'repo.git');
    const packDir = path.join(gitdir, 'objects', 'pack');
    fs.mkdirSync(packDir, { recursive: true });
    const built = buildPack([{ type: 3, data, compressed: bad }, { type: 3, data: text(100, 'next') }]);
    fs.writeFileSync(path.join(packDir, 'pack-test.pack'), built.pack);
    fs.writeFileSync(path.join(packDir, 'pack-test.idx'), built.idx);
    const odb = await openOdb({ fs, gitdir });
    const err = await odb.read(built.oids[0].toString('hex')).then(
      () => null,
      (e) => e,
    );
    expect(err).toBeInstanceOf(CorruptError);
    expect((err as CorruptError).reason).toMatch(/bad zlib stream in entry at offset 12/);
    expect(Buffer.from((await odb.read(built.oids[1].toString('hex'))).data).equals(text(100, 'next'))).toBe(true);
    await odb.close();
  });

  it('through a MIDX, objects of every size read with only the head and tail of each .idx (git writes the packs)', async () => {
    const work = tmpdir();
    git(['init', '-q', work]);
    const files: Record<string, Buffer> = {};
    for (let i = 0; i < 300; i++) files[`t${i}.txt`] = text(200 + i * 37, `file ${i}`);
    files['mid.txt'] = text(300_000, 'mid'); // past the first read, within the bounded read
    files['big.bin'] = crypto.randomBytes(1_500_000); // past the bounded read: its exact end
    for (let round = 0; round < 3; round++) {
      // big.bin is written once: one pack holds it
      if (round === 1) delete files['big.bin'];
      for (const [name, data] of Object.entries(files)) fs.writeFileSync(path.join(work, name), round ? Buffer.concat([data, Buffer.from(`round ${round}\n`)]) : data);
      git(['-C', work, 'add', '-A']);
      git(['-C', work, '-c', 'user.name=t', '-c', 'user.email=t@t', 'commit', '-q', '-m', `round ${round}`]);
      git(['-C', work, 'repack', '-d', '-q']);
    }
    const gitdir = path.join(work, '.git');
    git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const oids = git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
    const want = parseBatch(git(['--git-dir', gitdir, 'cat-file', '--batch'], { input: oids.join('\n') + '\n' }));
    expect([...want.values()].some((o) => o.data.length > 1 << 20)).toBe(true);
    expect([...want.values()].some((o) => o.data.length > 100_000 && o.data.length < 1 << 20)).toBe(true);

    // bytes read from .idx files: node's fs, its descriptor calls watched
    let idxBytes = 0;
    const idxFds = new Set<number>();
    const spy = new Proxy(fs, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (prop === 'openSync')
          return (p: string, ...rest: unknown[]) => {
            const fd = (v as (...a: unknown[]) => number)(p, ...rest);
            if (String(p).endsWith('.idx')) idxFds.add(fd);
            return fd;
          };
        if (prop === 'closeSync')
          return (fd: number) => {
            idxFds.delete(fd);
            return (v as (fd: number) => void)(fd);
          };
        if (prop === 'readSync')
          return (fd: number, ...rest: unknown[]) => {
            const n = (v as (...a: unknown[]) => number)(fd, ...rest);
            if (idxFds.has(fd)) idxBytes += n;
            return n;
          };
        return v;
      },
    });
    const odb = await openOdb({ fs: spy, gitdir });
    for (const oid of oids) {
      const o = await odb.read(oid);
      expect(o.type, oid).toBe(want.get(oid)!.type);
      expect(Buffer.from(o.data).equals(want.get(oid)!.data), oid).toBe(true);
    }
    const packs = fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((n) => n.endsWith('.idx')).length;
    expect(packs).toBeGreaterThan(1);
    // each pack's index: its header and fanout (1,032 bytes) and its pack checksum;
    // the big object's pack also has its offsets sorted, from its whole index
    // (read after its header again)
    const sizes = fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((n) => n.endsWith('.idx')).map((n) => fs.statSync(path.join(gitdir, 'objects', 'pack', n)).size);
    expect(Math.min(...sizes)).toBeGreaterThan(8000);
    expect(idxBytes).toBeGreaterThan(0);
    expect(idxBytes).toBeLessThanOrEqual(packs * (1032 + 20) + 1032 + Math.max(...sizes));
    await odb.close();
  });
});
