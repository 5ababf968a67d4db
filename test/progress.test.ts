/** Long work reports progress with git's meter titles. */

import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { openOdb, type Progress } from '../src/index.js';
import { copyRepo, expectedObjects, fixtures } from './helpers.js';

function recorder() {
  const meters: Array<{ title: string; total: number; last: number; stopped: boolean }> = [];
  const progress: Progress = {
    start(title, total) {
      const m = { title, total, last: -1, stopped: false };
      meters.push(m);
      return {
        update: (n) => {
          expect(n).toBeGreaterThanOrEqual(m.last);
          m.last = n;
        },
        stop: () => {
          m.stopped = true;
        },
      };
    },
  };
  return { meters, progress };
}

describe('progress', () => {
  it("verifyMidx: git's four meters, with git's totals", async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const { meters, progress } = recorder();
    expect((await odb.verifyMidx({ progress })).ok).toBe(true);
    expect(meters.map((m) => m.title)).toEqual(['Looking for referenced packfiles', 'Verifying OID order in multi-pack-index', 'Sorting objects by packfile', 'Verifying object offsets']);
    expect(meters.every((m) => m.stopped)).toBe(true);
    const stats = await odb.stats();
    expect(meters[0]).toMatchObject({ total: stats.midxPacks.length, last: stats.midxPacks.length });
    // git's totals are the tip layer's: objects - 1 for the OID order, objects for the offsets
    const tip = stats.layers[stats.layers.length - 1].objects;
    expect(meters[1]).toMatchObject({ total: tip - 1, last: tip - 1 });
    expect(meters[2]).toMatchObject({ total: tip, last: tip });
    expect(meters[3]).toMatchObject({ total: tip, last: tip });
    expect(stats.midxObjects).toBeLessThan(expectedObjects(f).length);
  });

  it('writeMidx: packs added, then chunks written', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-single')!;
    const gitdir = copyRepo(f);
    fs.rmSync(`${gitdir}/objects/pack/multi-pack-index`);
    const odb = await openOdb({ fs, gitdir });
    const { meters, progress } = recorder();
    expect(await odb.writeMidx({ progress })).toMatch(/^[0-9a-f]{40}$/);
    expect(meters.map((m) => [m.title, m.last, m.stopped])).toEqual([
      ['Adding packfiles to multi-pack-index', 6, true],
      // opened and never advanced, as git does: nothing is shown
      ['Writing chunks to multi-pack-index', -1, true],
    ]);
  });
});
