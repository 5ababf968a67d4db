/**
 * `odb.maintain()` against git 2.55's `git repack -d -l --geometric=2
 * --write-midx=incremental` on fetch-shaped series: every round a pack of
 * the next commits arrives (the same pack bytes in two repositories) and
 * usually gets a layer (our writeMidx, as the hook writes it); then git
 * maintains one repository and we maintain the other. After every round the
 * two must have the same shape: the same layers (object counts, and the
 * packs each names, each pack known by the objects it holds) and the same
 * packs on disk. Pack bytes may differ; which packs merged and into which
 * layers may not. git 2.55 verifies and fscks ours as it goes.
 */

import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { chainLines, emptyRepo, makeSizedSource, fetchPack, installPack, layerInfo, makeSource, packDir, setRef, shape, type Source } from './maintain-helpers.js';

function chainPacks(gitdir: string): string[] {
  const lines = chainLines(gitdir);
  if (!lines.length) return [];
  return layerInfo(path.join(packDir(gitdir), 'multi-pack-index.d', `multi-pack-index-${lines[lines.length - 1]}.midx`)).packs;
}

let SRC: Source;
const cleanup: string[] = [];

beforeAll(() => {
  SRC = makeSource(700);
  cleanup.push(SRC.gitdir);
}, 120_000);

afterAll(() => {
  for (const d of cleanup) fs.rmSync(path.dirname(d), { recursive: true, force: true });
});

function gitMaintain(gitdir: string): void {
  // git 2.55 folds a layer into its new tip only when it can load the layer's
  // reverse index (else: "could not find preferred pack"), so, as its own
  // tests do, it runs with bitmaps and our layers carry a RIDX chunk
  git255(['--git-dir', gitdir, 'repack', '-d', '-l', '-q', '--geometric=2', '--write-midx=incremental', '--write-bitmap-index']);
}

async function layer(gitdir: string): Promise<void> {
  const odb = await openOdb({ fs, gitdir });
  try {
    await odb.writeMidx({ incremental: true, bitmap: true });
  } finally {
    await odb.close();
  }
}

async function ours(gitdir: string) {
  const odb = await openOdb({ fs, gitdir });
  try {
    return await odb.maintain({ bitmap: true });
  } finally {
    await odb.close();
  }
}

interface Round {
  /** commits this fetch brings */
  commits: number;
  /** write a layer for the fetched pack (default true) */
  layer?: boolean;
  /** run maintenance after this round (default true) */
  maintain?: boolean;
  /** mark the fetched pack .keep */
  keep?: boolean;
  /** loose objects written before maintenance */
  loose?: number;
}

/** Runs the series on two fresh repositories; compares after every maintenance. */
interface Seen {
  layers: number;
  packs: number;
  /** runs that rolled packs up */
  rollups: number;
  /** runs that rolled up packs of the tip layer (the tip rebuilt) */
  tipRewrites: number;
  /** new tips that absorbed old layers */
  absorbed: number;
  /** COMPACT steps */
  compacts: number;
  loose: number;
}

async function series(rounds: Round[], config: Record<string, string> = {}, checkEvery = 5, src: Source = SRC): Promise<Seen> {
  const seen: Seen = { layers: 0, packs: 0, rollups: 0, tipRewrites: 0, absorbed: 0, compacts: 0, loose: 0 };
  const A = emptyRepo('git.git');
  const B = emptyRepo('ours.git');
  cleanup.push(A, B);
  for (const [k, v] of Object.entries(config)) for (const r of [A, B]) git255(['--git-dir', r, 'config', k, v]);
  let at = 0;
  let n = 0;
  for (const [i, r] of rounds.entries()) {
    const files = fetchPack(src, at, at + r.commits);
    at += r.commits;
    for (const repo of [A, B]) {
      const idx = installPack(repo, files);
      if (r.keep) fs.writeFileSync(path.join(packDir(repo), idx.replace(/\.idx$/, '.keep')), '');
      setRef(repo, src.commits[at - 1]);
    }
    if (r.loose) {
      for (let k = 0; k < r.loose; k++) {
        const body = `loose object ${i}.${k}\n`;
        for (const repo of [A, B]) git255(['--git-dir', repo, 'hash-object', '-w', '--stdin'], { input: body });
      }
    }
    if (r.layer ?? true) {
      // our layer on both sides, with its .bitmap (a chain of layers without
      // one can crash git 2.55's bitmapped repack: signal 11)
      await layer(A);
      await layer(B);
    }
    if (!(r.maintain ?? true)) continue;
    if (process.env.MAINT_DEBUG) {
      fs.rmSync('/tmp/maint-debug-A', { recursive: true, force: true });
      fs.cpSync(A, '/tmp/maint-debug-A', { recursive: true });
    }
    gitMaintain(A);
    const before = new Set(shape(B).layers.length ? chainPacks(B) : []);
    const res = await ours(B);
    if (res.rolledUp.length) seen.rollups++;
    if (res.rolledUp.some((n) => before.has(n))) seen.tipRewrites++;
    for (const st of res.steps) {
      if (st.type === 'write' && st.absorbs.length) seen.absorbed++;
      if (st.type === 'compact') seen.compacts++;
    }
    seen.loose += res.looseObjects;
    const a = shape(A);
    const b = shape(B);
    expect({ round: i, ...b }).toEqual({ round: i, ...a });
    if (++n % checkEvery === 0 || i === rounds.length - 1) {
      git255(['--git-dir', B, 'multi-pack-index', 'verify']);
      git255(['--git-dir', B, 'fsck', '--no-progress', '--connectivity-only']);
    }
  }
  const final = shape(B);
  seen.layers = final.layers.length;
  seen.packs = final.packs.length;
  return seen;
}

describe('maintain makes git 2.55 decisions (repack -d -l --geometric=2 --write-midx=incremental)', () => {
  it('40 small fetches, a layer each, maintained every round', async () => {
    const rounds: Round[] = Array.from({ length: 40 }, (_, i) => ({ commits: 1 + ((i * 7) % 5) }));
    const r = await series(rounds);
    expect(r.layers).toBeLessThanOrEqual(Math.log2(40) + 8);
    expect(r.compacts + r.absorbed).toBeGreaterThan(0);
  }, 120_000);

  it('a clone, then fetches of growing and shrinking size', async () => {
    const sizes = [200, 1, 2, 1, 3, 1, 1, 40, 2, 1, 1, 1, 5, 1, 1, 1, 1, 2, 60, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1];
    const r = await series(sizes.map((commits) => ({ commits })));
    expect(r.compacts).toBeGreaterThan(0);
  }, 120_000);

  it('fetch, then maintain: the new pack joins the tip as git writes it (the hook with maintain), 60 rounds', async () => {
    const rounds: Round[] = Array.from({ length: 60 }, (_, i) => ({ commits: 1 + ((i * 5) % 7), layer: false }));
    const r = await series(rounds, {}, 10);
    expect(r.rollups).toBeGreaterThan(0);
    expect(r.tipRewrites).toBeGreaterThan(0);
    expect(r.layers).toBeLessThanOrEqual(Math.log2(60) + 8);
    expect(r.packs).toBeLessThanOrEqual(Math.log2(60) + 8);
  }, 120_000);

  it('layers pile up between runs (every 6th round), some fetches without a layer', async () => {
    const rounds: Round[] = Array.from({ length: 42 }, (_, i) => ({ commits: 1 + ((i * 5) % 7), layer: i % 4 === 3, maintain: i % 6 === 5 }));
    const r = await series(rounds);
    expect(r.rollups).toBeGreaterThan(0);
  }, 120_000);

  it('a small new-layer threshold rolls the tip layer packs up (repack.midxNewLayerThreshold=2, midxSplitFactor=3)', async () => {
    const rounds: Round[] = Array.from({ length: 30 }, (_, i) => ({ commits: 1 + ((i * 3) % 4), layer: i % 5 === 0, maintain: i % 3 === 2 }));
    const r = await series(rounds, { 'repack.midxNewLayerThreshold': '2', 'repack.midxSplitFactor': '3' });
    expect(r.tipRewrites).toBeGreaterThan(0);
    expect(r.absorbed).toBeGreaterThan(0);
  }, 120_000);

  it('.keep packs stay and loose objects are packed', async () => {
    const rounds: Round[] = Array.from({ length: 16 }, (_, i) => ({ commits: 2, keep: i === 2, loose: i % 5 === 1 ? 3 : 0, layer: i % 2 === 0 }));
    const r = await series(rounds, { 'repack.midxNewLayerThreshold': '3' });
    expect(r.loose).toBeGreaterThan(0);
    expect(r.rollups).toBeGreaterThan(0);
  }, 120_000);
});

/** a seeded generator (mulberry32), so a failure replays */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('maintain at the boundaries of both rules (packs of exact object counts)', () => {
  for (const seed of [1, 2, 3]) {
    it(`seeded series ${seed}: sizes that double, halve and repeat`, async () => {
      const rand = rng(seed);
      // pack sizes (objects): blobs + 2 per commit
      const sizes = [1, 2, 4, 6, 8, 10, 14, 16, 3, 5, 12, 22, 30];
      const blobs = Array.from({ length: 60 }, () => {
        const r = rand();
        return r < 0.5 ? 1 + Math.floor(rand() * 3) : r < 0.9 ? sizes[Math.floor(rand() * sizes.length)] : 40 + Math.floor(rand() * 80);
      });
      const src = makeSizedSource(blobs);
      cleanup.push(src.gitdir);
      const rounds: Round[] = blobs.map((_, i) => ({ commits: 1, layer: rand() < 0.3, maintain: rand() < 0.7 || i === blobs.length - 1 }));
      const config: Record<string, string> = seed === 3 ? { 'repack.midxNewLayerThreshold': '3' } : seed === 2 ? { 'repack.midxNewLayerThreshold': '1' } : {};
      const r = await series(rounds, config, 15, src);
      expect(r.rollups).toBeGreaterThan(0);
      expect(r.compacts + r.absorbed).toBeGreaterThan(0);
    }, 120_000);
  }
});

describe('maintain at exact ties', () => {
  it('packs of 3, 3, 12 objects (the roll-up stops at exactly factor x its total), then 3 and 6 (already a progression)', async () => {
    // objects per single-commit pack: blobs + 2
    const blobs = [1, 1, 10, 1, 4, 4, 4, 8, 1, 1, 1, 1];
    const src = makeSizedSource(blobs);
    cleanup.push(src.gitdir);
    const maintainAfter = new Set([2, 4, 5, 7, 11]);
    const rounds: Round[] = blobs.map((_, i) => ({ commits: 1, layer: false, maintain: maintainAfter.has(i) }));
    const r = await series(rounds, {}, 2, src);
    expect(r.rollups).toBeGreaterThan(0);
  }, 60_000);
});

describe('maintain dryRun', () => {
  it('returns the plan the real run then carries out, and writes nothing', async () => {
    const B = emptyRepo('dry.git');
    cleanup.push(B);
    let at = 0;
    for (let i = 0; i < 12; i++) {
      installPack(B, fetchPack(SRC, at, at + 2));
      at += 2;
      setRef(B, SRC.commits[at - 1]);
      if (i < 9 && i % 3) await layer(B);
    }
    const listing = () =>
      fs
        .readdirSync(packDir(B), { recursive: true })
        .map(String)
        .sort()
        .map((n) => {
          const st = fs.statSync(path.join(packDir(B), n));
          return `${n}:${st.isFile() ? st.size + ':' + st.mtimeMs : 'dir'}`;
        });
    const before = listing();
    const odb = await openOdb({ fs, gitdir: B });
    try {
      const plan = await odb.maintain({ dryRun: true });
      expect(listing()).toEqual(before);
      expect(plan.dryRun).toBe(true);
      expect(plan.changed).toBe(false);
      expect(plan.rolledUp.length).toBeGreaterThan(0);
      const done = await odb.maintain();
      expect(done.rolledUp).toEqual(plan.rolledUp);
      expect(done.packObjects).toBe(plan.packObjects);
      expect(done.deletedPacks.sort()).toEqual(plan.deletedPacks.sort());
      const newName = done.pack ? `${done.pack.name}.idx` : '';
      expect(done.steps.map((s) => ({ ...s, checksum: undefined, packs: 'packs' in s ? s.packs.map((n) => (n === newName ? '(new pack)' : n)) : undefined }))).toEqual(
        plan.steps.map((s) => ({ ...s, checksum: undefined, packs: 'packs' in s ? s.packs : undefined })),
      );
      // and again: a dry run predicts the next run
      const plan2 = await odb.maintain({ dryRun: true });
      const again = await odb.maintain();
      expect(again.rolledUp).toEqual(plan2.rolledUp);
      expect(again.steps.map((s) => s.type)).toEqual(plan2.steps.map((s) => s.type));
    } finally {
      await odb.close();
    }
    git255(['--git-dir', B, 'multi-pack-index', 'verify']);
    git255(['--git-dir', B, 'fsck', '--no-progress']);
  }, 60_000);
});
