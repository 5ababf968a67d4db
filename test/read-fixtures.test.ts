/**
 * Issue 2: every object of every git-2.55 fixture reads back with git's type
 * and size, and hashes to its id; through node fs, memfs, and a client with
 * promise readFile/readdir/stat only (the whole-file fallback).
 */

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { NotFoundError, openOdb } from '../src/index.js';
import { callbackFs, countingFs, expectedObjects, fixtures, gitHash, memfsCopy, readFileOnlyFs } from './helpers.js';

const readable = fixtures().filter((f) => f.name !== 'sha1-large-offsets');

const clients: Array<[string, (gitdir: string) => Promise<unknown>, ('auto' | 'pako')?]> = [
  ['node fs', async () => fs],
  ['node fs with pako (the browser codec)', async () => fs, 'pako'],
  ['fs.promises-style client', async () => ({ promises: fs.promises })],
  ['memfs', async (gitdir) => memfsCopy(gitdir)],
  ['callback-only client', async () => callbackFs()],
  ['readFile-only client', async () => readFileOnlyFs()],
];

describe.each(clients)('reading every fixture object via %s', (_label, makeFs, zlib) => {
  it.each(readable.map((f) => [f.name, f] as const))('%s', async (_name, f) => {
    const client = await makeFs(f.gitdir);
    const warnings: unknown[] = [];
    const odb = await openOdb({ fs: client, gitdir: f.gitdir, onWarning: (w) => warnings.push(w), zlib });
    const objects = expectedObjects(f);
    expect(objects.length).toBeGreaterThan(50);
    for (const o of objects) {
      const obj = await odb.read(o.oid);
      expect(obj.type, o.oid).toBe(o.type);
      expect(obj.data.length, o.oid).toBe(o.size);
      expect(gitHash(f.algorithm, obj.type, obj.data), o.oid).toBe(o.oid);
      expect(await odb.readHeader(o.oid)).toEqual({ type: o.type, size: o.size });
      expect(await odb.exists(o.oid)).toBe(true);
    }
    expect(warnings).toEqual([]);
    await odb.close();
  });
});

describe.each(clients)('concurrent reads via %s', (_label, makeFs, zlib) => {
  it('every object of sha1-chain and sha1-single at once, through one database', async () => {
    for (const f of readable.filter((x) => x.name === 'sha1-chain' || x.name === 'sha1-single')) {
      const odb = await openOdb({ fs: await makeFs(f.gitdir), gitdir: f.gitdir, zlib, deltaBaseCacheBytes: 64 * 1024 });
      const objects = expectedObjects(f);
      // twice over, all in flight together, with a cache small enough to evict while they run
      const results = await Promise.all([...objects, ...objects].map((o) => Promise.all([odb.read(o.oid), odb.readHeader(o.oid)])));
      results.forEach(([obj, h], i) => {
        const o = objects[i % objects.length];
        expect(gitHash(f.algorithm, obj.type, obj.data), o.oid).toBe(o.oid);
        expect(h).toEqual({ type: o.type, size: o.size });
      });
      await odb.close();
    }
  });
});

describe('missing objects', () => {
  it('throws NotFoundError carrying the oid, and exists() is false', async () => {
    const f = readable.find((x) => x.name === 'sha1-chain')!;
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const missing = '0123456789abcdef0123456789abcdef01234567';
    await expect(odb.read(missing)).rejects.toBeInstanceOf(NotFoundError);
    await expect(odb.read(missing)).rejects.toMatchObject({ oid: missing, code: 'ENOTFOUND' });
    await expect(odb.readHeader(missing)).rejects.toBeInstanceOf(NotFoundError);
    expect(await odb.exists(missing)).toBe(false);
    await expect(odb.read('not-an-oid')).rejects.toMatchObject({ code: 'EINVAL' });
    await odb.close();
  });

  it('sha256 repositories take 64-digit ids and reject 40-digit ones', async () => {
    const f = readable.find((x) => x.name === 'sha256-chain')!;
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    await expect(odb.read('0123456789abcdef0123456789abcdef01234567')).rejects.toMatchObject({ code: 'EINVAL' });
    const [o] = expectedObjects(f);
    expect((await odb.read(o.oid)).type).toBe(o.type);
    await odb.close();
  });
});

describe('positional reads', () => {
  it('never reads a .pack whole through node fs', async () => {
    const f = readable.find((x) => x.name === 'sha1-single')!;
    const { fs: counted, calls } = countingFs(fs);
    const odb = await openOdb({ fs: counted, gitdir: f.gitdir });
    for (const o of expectedObjects(f)) await odb.read(o.oid);
    const wholePackReads = calls.filter((c) => c.method.startsWith('readFile') && c.path.endsWith('.pack'));
    expect(wholePackReads).toEqual([]);
    expect(calls.some((c) => c.method === 'readSync')).toBe(true);
    await odb.close();
  });
});
