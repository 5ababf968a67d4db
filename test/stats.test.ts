/**
 * stats() under its plain names (unindexedPacks / unindexedObjects; the old
 * packs / packObjects stay as deprecated copies), and current without a
 * refresh() while git 2.55 rewrites the MIDX under an open database: a layer
 * appended (`multi-pack-index write --incremental`), the chain compacted
 * (`multi-pack-index compact --incremental`), and the chain replaced by a
 * non-incremental MIDX plus a new pack (`maintenance run --task=incremental-repack`,
 * which on git 2.55 fails on a chain that already names every pack, and replaces
 * the chain when there is a pack to add).
 * After each step stats() must say what git's own files and `test-tool read-midx`
 * (which dumps the tip) say.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOdb, type OdbStats } from '../src/index.js';
import { git255, git255Bin, runTestTool } from './git255.js';
import { copyRepo, fixtures, GIT_ENV, git as sysGit } from './helpers.js';

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

/** The tip MIDX as git 2.55 loads it: `test-tool read-midx` */
function readMidx(gitdir: string): { packs: string[]; objects: number } {
  const lines = runTestTool(['read-midx', path.join(gitdir, 'objects')]).split('\n');
  const objects = Number(lines.find((l) => l.startsWith('num_objects: '))!.slice('num_objects: '.length));
  const packs: string[] = [];
  for (let i = lines.indexOf('packs:') + 1; i < lines.length && !lines[i].startsWith('object-dir:'); i++) packs.push(lines[i]);
  return { packs, objects };
}

function idxCount(file: string): number {
  return sysGit(['show-index'], { input: fs.readFileSync(file) }).toString().trim().split('\n').filter(Boolean).length;
}

/** What stats() must report, from the files git left. */
function expectCurrent(gitdir: string, s: OdbStats, what: string) {
  const packDir = path.join(gitdir, 'objects/pack');
  const chainFile = path.join(packDir, 'multi-pack-index.d/multi-pack-index-chain');
  const single = path.join(packDir, 'multi-pack-index');
  if (fs.existsSync(chainFile)) {
    expect(s.layers.map((l) => l.checksum), `${what}: layers`).toEqual(fs.readFileSync(chainFile, 'utf8').trim().split('\n'));
  } else {
    const bytes = fs.readFileSync(single);
    expect(s.layers.map((l) => l.checksum), `${what}: the single MIDX`).toEqual([bytes.subarray(bytes.length - 20).toString('hex')]);
    expect(s.layers[0].file, what).toBe(single);
  }
  const tip = readMidx(gitdir);
  expect(s.layers.at(-1)!.packs, `${what}: tip packs`).toEqual(tip.packs);
  expect(s.layers.at(-1)!.objects, `${what}: tip objects`).toBe(tip.objects);
  expect(s.midxObjects, what).toBe(s.layers.reduce((n, l) => n + l.objects, 0));
  const named = new Set(s.layers.flatMap((l) => l.packs));
  const dir = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
  const unindexed = dir.filter((n) => !named.has(n)).sort();
  expect([...s.unindexedPacks].sort(), `${what}: unindexed packs`).toEqual(unindexed);
  expect(s.unindexedObjects, what).toBe(unindexed.reduce((n, p) => n + idxCount(path.join(packDir, p)), 0));
  // the deprecated names are copies
  expect(s.packs).toEqual(s.unindexedPacks);
  expect(s.packObjects).toBe(s.unindexedObjects);
}

describe('stats()', () => {
  it('is current, with no refresh(), while git 2.55 appends, compacts and replaces the chain', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const gitdir = copyRepo(f);
    scratch.push(path.dirname(gitdir));
    git255(['--git-dir', gitdir, 'config', 'maintenance.auto', 'false']);
    const odb = await openOdb({ fs, gitdir });

    const s0 = await odb.stats();
    expect(s0.layers).toHaveLength(3);
    expect(s0.unindexedPacks).toEqual(['pack-05eb0bb4d76bd9f3fd9f69ac65437cd9ae1a537b.idx']);
    expect(s0.unindexedObjects).toBeGreaterThan(0);
    expectCurrent(gitdir, s0, 'opened');

    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    const s1 = await odb.stats();
    expect(s1.layers).toHaveLength(4);
    expect(s1.unindexedPacks).toEqual([]);
    expect(s1.unindexedObjects).toBe(0);
    expectCurrent(gitdir, s1, 'after write --incremental');

    git255(['--git-dir', gitdir, 'multi-pack-index', 'compact', '--incremental', s1.layers[0].checksum, s1.layers[2].checksum]);
    const s2 = await odb.stats();
    expect(s2.layers).toHaveLength(2);
    expect(s2.layers[1].checksum).toBe(s1.layers[3].checksum);
    expectCurrent(gitdir, s2, 'after compact');

    // git 2.55's incremental-repack task on a chain that covers every pack: its
    // `multi-pack-index write` has nothing to add and leaves the chain, then
    // `multi-pack-index expire` refuses the chain and the task fails
    const failed = spawnSync(git255Bin(), ['--git-dir', gitdir, 'maintenance', 'run', '--task=incremental-repack'], { env: GIT_ENV, encoding: 'utf8' });
    expect(failed.status).toBe(1);
    expect(failed.stderr).toContain('fatal: cannot expire packs from an incremental multi-pack-index');
    expectCurrent(gitdir, await odb.stats(), 'after the failed maintenance');

    // a pack the chain does not name: stats() sees it as unindexed
    const blob = git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: 'a new blob\n' }).toString();
    const packHex = git255(['--git-dir', gitdir, 'pack-objects', '-q', path.join(gitdir, 'objects/pack/pack')], { input: blob }).toString().trim();
    const s25 = await odb.stats();
    expect(s25.unindexedPacks).toEqual([`pack-${packHex}.idx`]);
    expect(s25.unindexedObjects).toBe(1);
    expectCurrent(gitdir, s25, 'after pack-objects');

    // now the task's write has something to add: a non-incremental MIDX replaces
    // the chain (its layer files are deleted) and the task succeeds
    git255(['--git-dir', gitdir, 'maintenance', 'run', '--task=incremental-repack']);
    const s3 = await odb.stats();
    expect(s3.layers).toHaveLength(1);
    expect(fs.existsSync(path.join(gitdir, 'objects/pack/multi-pack-index.d/multi-pack-index-chain'))).toBe(false);
    expectCurrent(gitdir, s3, 'after maintenance incremental-repack');

    // and the objects are all still there, read through what git left
    for (const line of fs.readFileSync(path.join(f.dir, 'expect/objects.txt'), 'utf8').trim().split('\n')) {
      const [oid, type, size] = line.split(' ');
      expect(await odb.readHeader(oid)).toEqual({ type, size: Number(size) });
    }
    await odb.close();
  });
});
