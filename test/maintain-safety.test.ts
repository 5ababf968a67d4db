/**
 * `odb.maintain()` is as safe as git's repack: a database opened before a
 * run keeps reading every object after packs and layers are deleted under
 * it; a process killed at any moment loses nothing (git 2.55 fsck and verify
 * pass and every object reads); a concurrent writer gets LockError; .keep
 * packs stay; memfs and a LightningFS-like client (no open()) work as the
 * disk does.
 */

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LockError, openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { memfsCopy, readFileOnlyFs, walk } from './helpers.js';
import { emptyRepo, fetchPack, idxOids, installPack, makeSource, packDir, setRef, shape, type Source } from './maintain-helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
let SRC: Source;
const cleanup: string[] = [];

beforeAll(() => {
  SRC = makeSource(400);
  cleanup.push(SRC.gitdir);
}, 120_000);

afterAll(() => {
  for (const d of cleanup) fs.rmSync(path.dirname(d), { recursive: true, force: true });
});

/** A repository after `n` fetches of `size` commits; `layerEvery`: a layer after every k-th fetch (0: none). Returns it and every object id. */
async function fetched(n: number, size: number, layerEvery = 1, start = 0): Promise<{ gitdir: string; oids: string[]; at: number }> {
  const gitdir = emptyRepo('repo.git');
  cleanup.push(gitdir);
  const oids: string[] = [];
  let at = start;
  for (let i = 0; i < n; i++) {
    const files = fetchPack(SRC, at, at + size);
    at += size;
    const idx = installPack(gitdir, files);
    oids.push(...idxOids(path.join(packDir(gitdir), idx)));
    setRef(gitdir, SRC.commits[at - 1]);
    if (layerEvery && i % layerEvery === layerEvery - 1) {
      const odb = await openOdb({ fs, gitdir });
      await odb.writeMidx({ incremental: true });
      await odb.close();
    }
  }
  return { gitdir, oids, at };
}

function gitChecks(gitdir: string): void {
  if (fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain')) || fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index'))) {
    git255(['--git-dir', gitdir, 'multi-pack-index', 'verify', '--no-progress']);
  }
  git255(['--git-dir', gitdir, 'fsck', '--no-progress', '--connectivity-only']);
}

async function everyObjectReads(client: unknown, gitdir: string, oids: string[]): Promise<void> {
  const odb = await openOdb({ fs: client as typeof fs, gitdir });
  try {
    for (const oid of oids) expect((await odb.readHeader(oid)).type).toMatch(/^(commit|tree|blob|tag)$/);
  } finally {
    await odb.close();
  }
}

describe('maintain: readers', () => {
  it('a database opened before maintenance reads every object after packs and layers are deleted', async () => {
    const { gitdir, oids } = await fetched(24, 3, 1);
    const reader = await openOdb({ fs, gitdir });
    try {
      // some packs opened, most not
      for (const oid of oids.slice(0, 20)) await reader.read(oid);
      const m = await openOdb({ fs, gitdir });
      const r1 = await m.maintain({ midxNewLayerThreshold: 1 });
      const r2 = await m.maintain({ midxNewLayerThreshold: 1 });
      await m.close();
      expect(r1.deletedPacks.length + r2.deletedPacks.length).toBeGreaterThan(0);
      for (const oid of oids) expect((await reader.read(oid)).data.length).toBeGreaterThanOrEqual(0);
    } finally {
      await reader.close();
    }
    gitChecks(gitdir);
  }, 60_000);
});

describe('maintain: killed at random moments', () => {
  it('loses nothing (25 kills; git 2.55 fsck + verify, every object reads), and a later run converges', async () => {
    const repo = await fetched(10, 4, 1);
    const { gitdir } = repo;
    const oids = [...repo.oids];
    let at = repo.at;
    const script = `
      import fs from 'node:fs';
      const { openOdb } = await import(${JSON.stringify(path.join(ROOT, 'dist', 'index.js'))});
      const odb = await openOdb({ fs, gitdir: process.argv[1] });
      process.stdout.write('start\\n');
      const t0 = performance.now();
      await odb.maintain({ midxNewLayerThreshold: 2 });
      process.stdout.write('done ' + (performance.now() - t0) + '\\n');
      await odb.close();
    `;
    const run = (killAfterMs: number | null) =>
      new Promise<{ finished: boolean; ms: number }>((resolve, reject) => {
        const child = spawn(process.execPath, ['--input-type=module', '-e', script, gitdir], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        let err = '';
        child.stdout.on('data', (d) => {
          out += d;
          if (killAfterMs !== null && out.startsWith('start\n') && !child.killed) setTimeout(() => child.kill('SIGKILL'), killAfterMs);
        });
        child.stderr.on('data', (d) => (err += d));
        child.on('error', reject);
        child.on('exit', (code, signal) => {
          const ms = Number(/done ([0-9.]+)/.exec(out)?.[1] ?? NaN);
          if (signal === 'SIGKILL') resolve({ finished: out.includes('done'), ms });
          else if (code === 0) resolve({ finished: true, ms });
          else reject(new Error(`child exited ${code}: ${err}`));
        });
      });
    // how long a run takes here, to spread the kills over it
    const span = Math.max(10, (await run(null)).ms);
    let seed = 7;
    const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    let killedMidway = 0;
    for (let k = 0; k < 25; k++) {
      // a new fetch (a layer every other one), then a run killed somewhere in it
      const files = fetchPack(SRC, at, at + 3);
      at += 3;
      const idx = installPack(gitdir, files);
      oids.push(...idxOids(path.join(packDir(gitdir), idx)));
      setRef(gitdir, SRC.commits[at - 1]);
      if (k % 2) {
        const odb = await openOdb({ fs, gitdir });
        await odb.writeMidx({ incremental: true });
        await odb.close();
      }
      const r = await run(rand() * span);
      if (!r.finished) killedMidway++;
      // a kill leaves the lock behind, as git's does; the user (here: we) removes it
      fs.rmSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain.lock'), { force: true });
      gitChecks(gitdir);
      await everyObjectReads(fs, gitdir, oids);
    }
    expect(killedMidway).toBeGreaterThan(5);
    // and an undisturbed run afterwards tidies up: no leftover layer files, bounded packs
    await run(null);
    await run(null);
    gitChecks(gitdir);
    await everyObjectReads(fs, gitdir, oids);
    const d = path.join(packDir(gitdir), 'multi-pack-index.d');
    const chain = fs.readFileSync(path.join(d, 'multi-pack-index-chain'), 'utf8').split('\n').filter(Boolean);
    expect(fs.readdirSync(d).filter((n) => n.endsWith('.midx')).sort()).toEqual(chain.map((h) => `multi-pack-index-${h}.midx`).sort());
  }, 120_000);
});

describe('maintain: concurrency and .keep', () => {
  it('a held chain lock: maintain throws LockError and changes nothing', async () => {
    const { gitdir } = await fetched(6, 2, 1);
    const lock = path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain.lock');
    fs.writeFileSync(lock, '');
    const before = shape(gitdir);
    const odb = await openOdb({ fs, gitdir });
    try {
      await expect(odb.maintain()).rejects.toBeInstanceOf(LockError);
      expect(shape(gitdir)).toEqual(before);
      expect(fs.existsSync(lock)).toBe(true);
    } finally {
      await odb.close();
    }
  });

  it('while maintenance runs, another writer (writeMidx, maintain) gets LockError; the run completes', async () => {
    const { gitdir, oids } = await fetched(12, 2, 0);
    const other = await openOdb({ fs, gitdir });
    const m = await openOdb({ fs, gitdir });
    const concurrent: Array<Promise<unknown>> = [];
    try {
      const res = await m.maintain({
        progress: {
          start() {
            // the pack is being written: the lock is held
            concurrent.push(other.writeMidx({ incremental: true }).then(() => 'wrote', (e) => e));
            concurrent.push(other.maintain().then(() => 'maintained', (e) => e));
            return { update() {}, stop() {} };
          },
        },
      });
      expect(res.pack).not.toBeNull();
      const outcomes = await Promise.all(concurrent);
      expect(outcomes.length).toBeGreaterThan(0);
      for (const o of outcomes) expect(o).toBeInstanceOf(LockError);
    } finally {
      await other.close();
      await m.close();
    }
    gitChecks(gitdir);
    await everyObjectReads(fs, gitdir, oids);
  });

  it('.keep packs are never rolled up or deleted', async () => {
    const { gitdir, oids } = await fetched(10, 2, 0);
    const kept = fs.readdirSync(packDir(gitdir)).filter((n) => n.endsWith('.idx')).slice(0, 3);
    for (const n of kept) fs.writeFileSync(path.join(packDir(gitdir), n.replace(/\.idx$/, '.keep')), '');
    const odb = await openOdb({ fs, gitdir });
    try {
      const r = await odb.maintain({ midxNewLayerThreshold: 1 });
      expect(r.rolledUp.length).toBeGreaterThan(0);
      for (const n of kept) {
        expect(r.rolledUp).not.toContain(n);
        expect(fs.existsSync(path.join(packDir(gitdir), n))).toBe(true);
      }
      // again, with the tip's packs as candidates
      await odb.maintain({ midxNewLayerThreshold: 1 });
      for (const n of kept) expect(fs.existsSync(path.join(packDir(gitdir), n))).toBe(true);
    } finally {
      await odb.close();
    }
    gitChecks(gitdir);
    await everyObjectReads(fs, gitdir, oids);
  });
});

describe('maintain over other fs clients', () => {
  for (const [label, make] of [
    ['memfs volume', async (dir: string) => ({ client: await memfsCopy(dir), read: null as null | ((p: string) => Buffer) })],
    ['LightningFS-like client (no open())', async () => ({ client: readFileOnlyFs(), read: null })],
  ] as const) {
    it(`${label}: the same result as on disk, and git 2.55 accepts it`, async () => {
      const { gitdir, oids } = await fetched(14, 2, 2);
      const disk = path.join(path.dirname(gitdir), 'disk.git');
      fs.cpSync(gitdir, disk, { recursive: true });
      const { client } = await make(gitdir);
      const odb = await openOdb({ fs: client as typeof fs, gitdir });
      const r = await odb.maintain({ midxNewLayerThreshold: 2 });
      await odb.close();
      const d = await openOdb({ fs, gitdir: disk });
      const rd = await d.maintain({ midxNewLayerThreshold: 2 });
      await d.close();
      expect(r.rolledUp).toEqual(rd.rolledUp);
      expect(r.steps.map((s) => s.type)).toEqual(rd.steps.map((s) => s.type));
      expect(r.deletedPacks.sort()).toEqual(rd.deletedPacks.sort());
      await everyObjectReads(client, gitdir, oids);
      if (label.startsWith('memfs')) {
        // the volume back on disk, for git
        const vol = client as Awaited<ReturnType<typeof memfsCopy>>;
        fs.rmSync(gitdir, { recursive: true });
        const files = Object.entries(vol.toJSON(gitdir)) as Array<[string, string | null]>;
        for (const [f] of files) {
          fs.mkdirSync(path.dirname(f), { recursive: true });
          if (vol.statSync(f).isFile()) fs.writeFileSync(f, vol.readFileSync(f) as Buffer);
        }
        for (const sub of ['refs/heads', 'refs/tags']) fs.mkdirSync(path.join(gitdir, sub), { recursive: true });
      }
      expect(shape(gitdir)).toEqual(shape(disk));
      gitChecks(gitdir);
      expect(walk(gitdir).length).toBeGreaterThan(0);
    }, 60_000);
  }
});

describe('maintain: states git 2.55 mishandles or this library refuses', () => {
  it('a non-incremental multi-pack-index becomes the root layer of a chain (git 2.55 writes a chain naming a missing layer)', async () => {
    const { gitdir, oids } = await fetched(8, 5, 0);
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--no-progress']);
    const single = fs.readFileSync(path.join(packDir(gitdir), 'multi-pack-index'));
    const hex = single.subarray(single.length - 20).toString('hex');
    // two more fetches, unindexed
    let at = 40;
    for (let i = 0; i < 2; i++) {
      const idx = installPack(gitdir, fetchPack(SRC, at, at + 1));
      oids.push(...idxOids(path.join(packDir(gitdir), idx)));
      at += 1;
      setRef(gitdir, SRC.commits[at - 1]);
    }
    const odb = await openOdb({ fs, gitdir });
    try {
      const r = await odb.maintain({ midxNewLayerThreshold: 9 });
      expect(r.converted).toBe(true);
      expect(r.chain[0]).toBe(hex);
      expect(fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index'))).toBe(false);
      expect(fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index.d', `multi-pack-index-${hex}.midx`))).toBe(true);
      const stats = await odb.stats();
      expect(stats.packs).toEqual([]);
    } finally {
      await odb.close();
    }
    gitChecks(gitdir);
    await everyObjectReads(fs, gitdir, oids);
  });

  it('a damaged tip layer: CorruptError, nothing changed', async () => {
    const { gitdir } = await fetched(4, 2, 1);
    const lines = fs.readFileSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n');
    const tip = path.join(packDir(gitdir), 'multi-pack-index.d', `multi-pack-index-${lines[lines.length - 1]}.midx`);
    const b = fs.readFileSync(tip);
    b[b.length - 30] ^= 0xff;
    fs.chmodSync(tip, 0o644);
    fs.writeFileSync(tip, b);
    const before = shape(gitdir);
    const odb = await openOdb({ fs, gitdir });
    try {
      await expect(odb.maintain()).rejects.toMatchObject({ code: 'ECORRUPT' });
    } finally {
      await odb.close();
    }
    expect(shape(gitdir)).toEqual(before);
    expect(fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain.lock'))).toBe(false);
  });
});

describe('maintain: onProgress and signal', () => {
  it('an aborted signal rejects before anything is written; onProgress sees the phases', async () => {
    const { gitdir, oids } = await fetched(10, 2, 0);
    const before = shape(gitdir);
    const odb = await openOdb({ fs, gitdir });
    try {
      const ac = new AbortController();
      ac.abort();
      await expect(odb.maintain({ signal: ac.signal })).rejects.toMatchObject({ name: 'AbortError' });
      expect(shape(gitdir)).toEqual(before);
      expect(fs.existsSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain.lock'))).toBe(false);
      const phases = new Set<string>();
      const r = await odb.maintain({ onProgress: (e) => phases.add(e.phase) });
      expect(r.pack).not.toBeNull();
      expect(phases.has('Writing objects')).toBe(true);
    } finally {
      await odb.close();
    }
    gitChecks(gitdir);
    await everyObjectReads(fs, gitdir, oids);
  });
});
