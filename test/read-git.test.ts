/** Issue 2: repositories made by the system git; every object equals what `git cat-file --batch` prints. */

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { PackIndex } from '../src/pack/idx.js';
import { SHA1 } from '../src/oid.js';
import { allObjects, buildMixedRepo } from './gitrepo.js';
import { git, memfsCopy, readFileOnlyFs } from './helpers.js';
import { internalsOf } from '../src/odb/odb.js';

let gitdir: string;
let expected: Map<string, { type: string; data: Buffer }>;

beforeAll(() => {
  gitdir = buildMixedRepo();
  expected = allObjects(gitdir);
});

describe('a repository written by the system git', () => {
  it('has what the test means it to have', () => {
    const packDir = path.join(gitdir, 'objects', 'pack');
    const idxs = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
    expect(idxs.length).toBe(3);
    const versions = idxs.map((n) => PackIndex.parse(n, fs.readFileSync(path.join(packDir, n)), SHA1).version).sort();
    expect(versions).toEqual([1, 2, 2]);
    const verbose = idxs.map((n) => git(['verify-pack', '-v', path.join(packDir, n)]).toString()).join('\n');
    expect(verbose).toMatch(/chain length = (\d{2,})/); // deep chains
    const loose = fs.readdirSync(path.join(gitdir, 'objects')).filter((d) => /^[0-9a-f]{2}$/.test(d));
    expect(loose.length).toBeGreaterThan(0);
    expect([...expected.values()].some((o) => o.data.length > 1_000_000)).toBe(true);
  });

  const clients: Array<[string, () => Promise<unknown>]> = [
    ['node fs', async () => fs],
    ['memfs', async () => memfsCopy(gitdir)],
    ['readFile-only client', async () => readFileOnlyFs()],
  ];
  it.each(clients)('every object equals git cat-file --batch (%s)', async (_label, make) => {
    const odb = await openOdb({ fs: await make(), gitdir });
    for (const [oid, o] of expected) {
      const obj = await odb.read(oid);
      expect(obj.type, oid).toBe(o.type);
      expect(Buffer.compare(Buffer.from(obj.data), o.data), oid).toBe(0);
      expect(await odb.readHeader(oid)).toEqual({ type: o.type, size: o.data.length });
    }
    // the delta-base cache was used for the deep chains
    expect(internalsOf(odb).cache.hits).toBeGreaterThan(0);
    await odb.close();
  });

  it.each([
    ['two windows: every new block evicts one, entries straddle blocks', 8192],
    ['windows off', 0],
  ])('every object and header equals git cat-file --batch with pack windows of %s', async (_label, packWindowBytes) => {
    const odb = await openOdb({ fs, gitdir, packWindowBytes });
    for (const [oid, o] of expected) {
      const obj = await odb.read(oid);
      expect(obj.type, oid).toBe(o.type);
      expect(Buffer.compare(Buffer.from(obj.data), o.data), oid).toBe(0);
      expect(await odb.readHeader(oid)).toEqual({ type: o.type, size: o.data.length });
    }
    const w = internalsOf(odb).windows;
    if (packWindowBytes) {
      // the path under test was taken: far more blocks loaded than the two slots hold
      expect(w.slots).toBe(2);
      expect(w.misses).toBeGreaterThan(100);
      expect(w.hits).toBeGreaterThan(0);
    } else expect(w.hits + w.misses).toBe(0);
    await odb.close();
  });

  it('reads REF_DELTA entries whose base is in the same pack', async () => {
    const packDir = path.join(gitdir, 'objects', 'pack');
    let refDeltas = 0;
    for (const n of fs.readdirSync(packDir).filter((x) => x.endsWith('.pack'))) {
      const idx = PackIndex.parse(n, fs.readFileSync(path.join(packDir, n.replace(/\.pack$/, '.idx'))), SHA1);
      const pack = fs.readFileSync(path.join(packDir, n));
      for (let i = 0; i < idx.count; i++) if (((pack[idx.offsetAt(i)] >> 4) & 7) === 7) refDeltas++;
    }
    expect(refDeltas).toBeGreaterThan(5);
  });
});
