/**
 * Issue 9, item 1: packs are collected in the pack directory's own order, as
 * git does. Between two copies of an object in packs whose mtimes fall in the
 * same second, git keeps the copy of the pack it collected first, and it
 * collects in readdir order, not by name. So a real history split into packs
 * with duplicates and equal mtimes gives layers byte-identical to git 2.55's
 * only when the writer lists the directory as git does (node: fs.opendir).
 *
 * Each layer is written by git 2.55 and by us in the SAME directory (git's
 * output saved, its layer and chain taken back, then ours), so both see the
 * same directory order.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { readdirInDirectoryOrder, normalizeFs } from '../src/io/fs.js';
import { fastImportHistory, git255, packRevs } from './git255.js';
import { tmpdir } from './helpers.js';

const LAYERS = 7;
const PER_LAYER = 40;

interface Setup {
  gitdir: string;
  hold: string;
  /** `.idx` names of each layer's packs */
  layers: string[][];
  /** the newest commit the packs hold */
  lastPacked: string;
}

function movePack(from: string, to: string, idx: string): void {
  const stem = idx.slice(0, -4);
  for (const ext of ['.pack', '.idx', '.rev']) {
    if (fs.existsSync(path.join(from, stem + ext))) fs.renameSync(path.join(from, stem + ext), path.join(to, stem + ext));
  }
}

function setup(): Setup {
  const root = tmpdir('midx-order-');
  const gitdir = path.join(root, 'repo.git');
  const commits = fastImportHistory(gitdir, { commits: LAYERS * PER_LAYER + 10 });
  const packDir = path.join(gitdir, 'objects', 'pack');
  const imported = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
  const hold = path.join(root, 'hold');
  fs.mkdirSync(hold);
  const layers: string[][] = [];
  for (let i = 1; i <= LAYERS; i++) {
    const tip = commits[i * PER_LAYER - 1];
    const prev = i > 1 ? commits[(i - 1) * PER_LAYER - 1] : null;
    const names = [
      // the layer's commits
      packRevs(gitdir, prev ? [tip, `^${prev}`] : [tip]),
      // overlapping the previous layer and most of this one: duplicates both in the base and in this layer
      packRevs(gitdir, [commits[i * PER_LAYER - 8], ...(i > 1 ? [`^${commits[(i - 1) * PER_LAYER - 12]}`] : [])]),
      // the middle of this layer, all of it duplicated in the first pack
      packRevs(gitdir, [commits[i * PER_LAYER - 15], `^${commits[i * PER_LAYER - 30]}`]),
    ];
    for (const n of names) movePack(packDir, hold, n);
    layers.push(names);
  }
  for (const n of imported) for (const ext of ['.pack', '.idx', '.rev']) fs.rmSync(path.join(packDir, n.slice(0, -4) + ext), { force: true });
  return { gitdir, hold, layers, lastPacked: commits[LAYERS * PER_LAYER - 1] };
}

/**
 * Appends the layers one by one: git 2.55 first, its layer saved and taken
 * back, then ours in the same directory; git's layer is kept for the next
 * round. Returns, per layer, whether our bytes equal git's.
 */
async function compareLayers(s: Setup): Promise<boolean[]> {
  const packDir = path.join(s.gitdir, 'objects', 'pack');
  const dDir = path.join(packDir, 'multi-pack-index.d');
  const chainFile = path.join(dDir, 'multi-pack-index-chain');
  const same: boolean[] = [];
  for (const names of s.layers) {
    for (const n of names) movePack(s.hold, packDir, n);
    // every pack of the layer in the same second
    for (const n of names) fs.utimesSync(path.join(packDir, n.replace(/\.idx$/, '.pack')), 1700001234, 1700001234);
    const chainBefore = fs.existsSync(chainFile) ? fs.readFileSync(chainFile) : null;
    git255(['--git-dir', s.gitdir, 'multi-pack-index', 'write', '--incremental']);
    const chainGit = fs.readFileSync(chainFile);
    const hex = chainGit.toString().trim().split('\n').pop()!;
    const layerFile = path.join(dDir, `multi-pack-index-${hex}.midx`);
    const gitBytes = fs.readFileSync(layerFile);
    // take git's layer back
    fs.rmSync(layerFile, { force: true });
    if (chainBefore) fs.writeFileSync(chainFile, chainBefore);
    else fs.rmSync(chainFile);
    const odb = await openOdb({ fs, gitdir: s.gitdir });
    let ourHex: string | null;
    try {
      ourHex = await odb.writeMidx({ incremental: true });
    } finally {
      await odb.close();
    }
    const ourFile = path.join(dDir, `multi-pack-index-${ourHex}.midx`);
    const ourBytes = fs.readFileSync(ourFile);
    same.push(ourHex === hex && Buffer.compare(ourBytes, gitBytes) === 0);
    // continue on git's layer
    fs.chmodSync(ourFile, 0o644);
    fs.rmSync(ourFile);
    fs.writeFileSync(layerFile, gitBytes);
    fs.writeFileSync(chainFile, chainGit);
  }
  return same;
}

describe('pack collection order (readdir order, as git)', () => {
  let s: Setup;
  beforeAll(() => {
    s = setup();
  }, 120_000);

  it('the directory order of this test differs from name order (else the test proves nothing)', async () => {
    const packDir = path.join(s.gitdir, 'objects', 'pack');
    for (const names of s.layers) for (const n of names) movePack(s.hold, packDir, n);
    const listed = (await readdirInDirectoryOrder(normalizeFs(fs), packDir))!.filter((n) => n.endsWith('.idx'));
    expect(listed.length).toBe(LAYERS * 3);
    expect(listed).not.toEqual([...listed].sort());
    for (const names of s.layers) for (const n of names) movePack(packDir, s.hold, n);
  });

  it(`every one of ${LAYERS} incremental layers is byte-identical to git 2.55's`, async () => {
    const same = await compareLayers(s);
    expect(same.filter(Boolean).length, `identical layers: ${same.map((x) => (x ? 1 : 0)).join('')}`).toBe(LAYERS);
  }, 120_000);

  it("--bitmap over packs of one mtime: the default preferred pack is the first listed, as git 2.55's", async () => {
    const packDir = path.join(s.gitdir, 'objects', 'pack');
    // every pack is in place (the previous test); a non-incremental MIDX over all of them
    fs.rmSync(path.join(packDir, 'multi-pack-index.d'), { recursive: true, force: true });
    // the bitmap covers what refs reach: the last packed commit
    git255(['--git-dir', s.gitdir, 'update-ref', 'refs/heads/main', s.lastPacked]);
    git255(['--git-dir', s.gitdir, 'multi-pack-index', 'write', '--bitmap']);
    const file = path.join(packDir, 'multi-pack-index');
    const gitBytes = fs.readFileSync(file);
    for (const n of fs.readdirSync(packDir)) if (n.startsWith('multi-pack-index')) fs.rmSync(path.join(packDir, n));
    const odb = await openOdb({ fs, gitdir: s.gitdir });
    try {
      await odb.writeMidx({ bitmap: true });
    } finally {
      await odb.close();
    }
    expect(Buffer.compare(fs.readFileSync(file), gitBytes)).toBe(0);
  });

  it('clients without an ordered listing keep name order (a documented difference from git)', async () => {
    expect(await readdirInDirectoryOrder(normalizeFs({ promises: { readFile: async () => new Uint8Array(), readdir: async () => [] } }), '/x')).toBeUndefined();
    expect(await readdirInDirectoryOrder(normalizeFs(fs), path.join(s.gitdir, 'no-such-dir'))).toBeNull();
  });
});
