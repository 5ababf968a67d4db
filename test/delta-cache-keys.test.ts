/**
 * The delta-base cache's keys stay exact however many packs a process has
 * seen. Keys were `pack id * 2^40 + offset` with a process-wide pack counter:
 * past 2^13 packs the sum is no longer exact, entries of one pack a few bytes
 * apart shared a key, and a delta was replayed on the wrong base ("base size
 * 792 does not match the base's 779 bytes", met after some 750 fetch rounds of
 * bench/maintain.mjs). Now each cache numbers the packs it serves.
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { DeltaBaseCache, MAX_SLOTS } from '../src/odb/cache.js';
import { Pack } from '../src/pack/pack.js';
import { fastImportHistory, git255 } from './git255.js';
import { parseBatch, tmpdir } from './helpers.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
});

describe('delta-base cache keys', () => {
  it('every object reads right after 300 000 packs were made in the process', async () => {
    const root = tmpdir();
    dirs.push(root);
    const gitdir = path.join(root, 'repo.git');
    fastImportHistory(gitdir, { commits: 120, files: 30, perCommit: 4 });
    git255(['--git-dir', gitdir, 'repack', '-adf', '-q', '--depth=50', '--window=50']);
    // a process that has made many packs (databases opened and closed over a long run)
    const ctx = { cache: new DeltaBaseCache(1) } as unknown as ConstructorParameters<typeof Pack>[0];
    for (let i = 0; i < 300_000; i++) new Pack(ctx, root, `pack-${i}.idx`);
    const want = parseBatch(git255(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']));
    const odb = await openOdb({ fs, gitdir });
    try {
      for (let pass = 0; pass < 2; pass++) {
        for (const [oid, w] of want) {
          const got = await odb.read(oid);
          expect(got.type).toBe(w.type);
          expect(Buffer.compare(got.data, w.data), oid).toBe(0);
        }
      }
    } finally {
      await odb.close();
    }
  }, 60_000);

  it('slots are small, stable and distinct; past MAX_SLOTS a pack is not cached', () => {
    const cache = new DeltaBaseCache(1 << 20);
    const a = {};
    const b = {};
    expect(cache.slotOf(a)).toBe(0);
    expect(cache.slotOf(b)).toBe(1);
    expect(cache.slotOf(a)).toBe(0);
    for (let i = 2; i < MAX_SLOTS; i++) cache.slotOf({});
    const late = {};
    expect(cache.slotOf(late)).toBe(-1);
    expect(DeltaBaseCache.key(-1, 12)).toBe(-1);
    const top = DeltaBaseCache.key(MAX_SLOTS - 1, 2 ** 40 - 1);
    expect(Number.isSafeInteger(top)).toBe(true);
    expect(top - 1).not.toBe(top);
  });
});
