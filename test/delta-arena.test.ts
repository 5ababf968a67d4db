/**
 * The delta arena (pack.ts): the deltas of one read are inflated into one
 * reused buffer. A chain whose deltas outgrow it mid-read (the earlier ones stay
 * in the old buffer), and reads that interleave, must give git's bytes.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git, gitHash, parseBatch, tmpdir } from './helpers.js';
import { buildPack, delta, type EntrySpec } from './packbuilder.js';

/** A delta that copies the base's first `keep` bytes and then inserts `extra`. */
function copyThenInsert(baseSize: number, keep: number, extra: Buffer): Buffer {
  const ops: Buffer[] = [];
  // copy [0, keep): offset 0, size in two bytes
  ops.push(Buffer.from([0x80 | 0x10 | 0x20, keep & 0xff, (keep >> 8) & 0xff]));
  for (let i = 0; i < extra.length; i += 127) {
    const part = extra.subarray(i, i + 127);
    ops.push(Buffer.from([part.length]), part);
  }
  return delta(baseSize, keep + extra.length, Buffer.concat(ops));
}

function blobOid(data: Buffer): Buffer {
  return Buffer.from(gitHash('sha1', 'blob', data), 'hex');
}

describe('the delta arena', () => {
  it('a chain whose deltas outgrow the arena mid-read, and reads that interleave, give git bytes', async () => {
    // a base and six deltas of ~90 KiB each (inserted random bytes): 540 KiB held at once
    const entries: EntrySpec[] = [];
    const objects: Buffer[] = [];
    let cur = crypto.randomBytes(4000);
    entries.push({ type: 3, data: cur });
    objects.push(cur);
    for (let level = 1; level <= 6; level++) {
      const extra = crypto.randomBytes(90_000 + level);
      const d = copyThenInsert(cur.length, 4000, extra);
      const next = Buffer.concat([cur.subarray(0, 4000), extra]);
      entries.push({ type: 6, data: d, base: level - 1, oid: blobOid(next) });
      objects.push(next);
      cur = next;
    }
    const gitdir = path.join(tmpdir(), 'repo.git');
    git(['init', '-q', '--bare', gitdir]);
    const built = buildPack(entries);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-test.pack'), built.pack);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-test.idx'), built.idx);
    const oids = built.oids.map((o) => o.toString('hex'));
    const want = parseBatch(git(['--git-dir', gitdir, 'cat-file', '--batch'], { input: oids.join('\n') + '\n' }));
    for (let i = 0; i < oids.length; i++) expect(want.get(oids[i])!.data.equals(objects[i])).toBe(true);
    for (const deltaBaseCacheBytes of [0, 96 << 20]) {
      // the top first: every delta of the chain is held by that one read
      const odb = await openOdb({ fs, gitdir, deltaBaseCacheBytes });
      for (const i of [6, 5, 3, 6, 1, 0]) expect(Buffer.from((await odb.read(oids[i])).data).equals(objects[i]), `object ${i}`).toBe(true);
      // reads that interleave (the memfs-like async client would suspend them; these complete at once)
      const all = await Promise.all(oids.map((o) => odb.read(o)));
      all.forEach((o, i) => expect(Buffer.from(o.data).equals(objects[i])).toBe(true));
      await odb.close();
    }
  });
});
