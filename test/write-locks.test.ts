/**
 * Locks, concurrent writers, a reader during writes, and writes interrupted
 * before their rename. The repository is a copy of the sha1-chain fixture: a
 * chain of three layers, one pack outside it, loose objects.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LockError, openOdb } from '../src/index.js';
import type { WriteMidxOptions } from '../src/types.js';
import { copyRepo, fixtures, git, walk } from './helpers.js';

const fixture = fixtures().find((f) => f.name === 'sha1-chain')!;
const OUTSIDE = 'pack-05eb0bb4d76bd9f3fd9f69ac65437cd9ae1a537b.idx';

let gitdir: string;
let packDir: string;
let expected: string[];

/** Every file under objects/pack with its bytes. */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of walk(packDir).sort()) out.set(path.relative(packDir, f), fs.readFileSync(f).toString('base64'));
  return out;
}

function chain(): string[] {
  const p = path.join(packDir, 'multi-pack-index.d', 'multi-pack-index-chain');
  return fs.existsSync(p) ? fs.readFileSync(p, 'utf8').split('\n').filter(Boolean) : [];
}

function locks(): string[] {
  return walk(packDir).filter((f) => f.endsWith('.lock') || path.basename(f).startsWith('tmp_midx_'));
}

/** Reads every object through a fresh odb; returns "oid type size" lines. */
async function readAll(dir = gitdir): Promise<string[]> {
  const odb = await openOdb({ fs, gitdir: dir });
  try {
    const out: string[] = [];
    for (const line of expected) {
      const oid = line.split(' ')[0];
      const h = await odb.readHeader(oid);
      out.push(`${oid} ${h.type} ${h.size}`);
    }
    return out;
  } finally {
    await odb.close();
  }
}

async function write(options: WriteMidxOptions, dir = gitdir) {
  const odb = await openOdb({ fs, gitdir: dir });
  try {
    return await odb.writeMidx(options);
  } finally {
    await odb.close();
  }
}

/** An fs client like node's, whose rename fails for the paths `fail` picks. */
function failingRename(fail: (from: string, to: string) => boolean) {
  const promises = {
    ...fs.promises,
    rename: async (from: string, to: string) => {
      if (fail(from, to)) throw Object.assign(new Error(`EIO: simulated crash, rename '${from}' -> '${to}'`), { code: 'EIO' });
      return fs.promises.rename(from, to);
    },
  };
  return { ...fs, promises };
}

beforeEach(() => {
  gitdir = copyRepo(fixture);
  packDir = path.join(gitdir, 'objects', 'pack');
  expected = git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check']).toString().trim().split('\n');
  expect(chain()).toHaveLength(3);
});

describe('locks', () => {
  it('a held chain lock: LockError naming the lock, and nothing changed', async () => {
    const lock = path.join(packDir, 'multi-pack-index.d', 'multi-pack-index-chain.lock');
    fs.writeFileSync(lock, '');
    const before = snapshot();
    const err = await write({ incremental: true }).catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    expect(err.file).toBe(lock);
    expect(err.message).toBe(`Unable to create '${lock}': File exists.`);
    expect(snapshot()).toEqual(before);
    // released: the same write now succeeds and adds the pack outside the chain
    fs.rmSync(lock);
    const hex = await write({ incremental: true });
    expect(chain()).toHaveLength(4);
    expect(chain()[3]).toBe(hex);
    expect(locks()).toEqual([]);
    expect(await readAll()).toEqual(expected);
  });

  it('a held multi-pack-index.lock: a full write fails with LockError and changes nothing', async () => {
    const lock = path.join(packDir, 'multi-pack-index.lock');
    fs.writeFileSync(lock, 'someone else');
    const before = snapshot();
    const err = await write({}).catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    expect(err.file).toBe(lock);
    expect(snapshot()).toEqual(before);
    fs.rmSync(lock);
    const hex = await write({});
    expect(fs.existsSync(path.join(packDir, 'multi-pack-index'))).toBe(true);
    expect(chain()).toEqual([]);
    expect(hex).toBe(fs.readFileSync(path.join(packDir, 'multi-pack-index')).subarray(-20).toString('hex'));
  });

  it('no-write-chain-file writes take no lock', async () => {
    fs.writeFileSync(path.join(packDir, 'multi-pack-index.d', 'multi-pack-index-chain.lock'), '');
    const hex = await write({ incremental: true, writeChainFile: false });
    expect(fs.existsSync(path.join(packDir, 'multi-pack-index.d', `multi-pack-index-${hex}.midx`))).toBe(true);
    expect(chain()).toHaveLength(3);
  });
});

describe('two writers at once', () => {
  it('incremental: exactly one wins, the other gets LockError or null, and the chain is valid', async () => {
    for (let round = 0; round < 6; round++) {
      const dir = copyRepo(fixture);
      const pd = path.join(dir, 'objects', 'pack');
      const a = await openOdb({ fs, gitdir: dir });
      const b = await openOdb({ fs, gitdir: dir });
      // vary who starts first and how far the first gets before the second starts
      const first = round % 2 ? a : b;
      const second = round % 2 ? b : a;
      const p1 = first.writeMidx({ incremental: true });
      for (let i = 0; i < round; i++) await new Promise((r) => setImmediate(r));
      const p2 = second.writeMidx({ incremental: true });
      const results = await Promise.allSettled([p1, p2]);
      const won = results.filter((r) => r.status === 'fulfilled' && typeof r.value === 'string');
      const lost = results.filter((r) => !(r.status === 'fulfilled' && typeof r.value === 'string'));
      expect(won, `round ${round}`).toHaveLength(1);
      for (const r of lost) {
        if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockError);
        else expect(r.value).toBeNull();
      }
      const lines = fs.readFileSync(path.join(pd, 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').split('\n').filter(Boolean);
      expect(lines).toHaveLength(4);
      expect(lines[3]).toBe((won[0] as PromiseFulfilledResult<string>).value);
      for (const h of lines) expect(fs.existsSync(path.join(pd, 'multi-pack-index.d', `multi-pack-index-${h}.midx`))).toBe(true);
      expect(walk(pd).filter((f) => f.endsWith('.lock') || f.includes('tmp_midx_'))).toEqual([]);
      // both odbs (refreshed by the write, or on their next miss) see the new layer
      for (const odb of [a, b]) {
        await odb.refresh();
        expect((await odb.stats()).layers.map((l) => l.checksum)).toEqual(lines);
      }
      await a.close();
      await b.close();
      expect(await readAll(dir)).toEqual(expected);
    }
  });

  it('a writer that planned before the other committed plans again under the lock (and finds nothing to do)', async () => {
    // B plans its layer, then waits at its lock until A has written a different layer for the same pack
    let reached!: () => void;
    const atLock = new Promise<void>((r) => (reached = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const slow = {
      ...fs,
      promises: {
        ...fs.promises,
        open: async (p: string, ...rest: unknown[]) => {
          if (String(p).endsWith('multi-pack-index-chain.lock')) {
            reached();
            await gate;
          }
          return (fs.promises.open as (...a: unknown[]) => Promise<unknown>)(p, ...rest);
        },
      },
    };
    const b = await openOdb({ fs: slow, gitdir });
    const pb = b.writeMidx({ incremental: true });
    await atLock;
    const a = (await write({ incremental: true, version: 2 }))!;
    const after = chain();
    expect(after[3]).toBe(a);
    release();
    // had B kept its plan, it would have replaced A's layer with its own (same pack, version 1)
    expect(await pb).toBeNull();
    await b.close();
    expect(chain()).toEqual(after);
    expect(fs.existsSync(path.join(packDir, 'multi-pack-index.d', `multi-pack-index-${a}.midx`))).toBe(true);
    expect(locks()).toEqual([]);
  });

  it('full writes: one wins, the other gets LockError or null', async () => {
    const a = await openOdb({ fs, gitdir });
    const b = await openOdb({ fs, gitdir });
    const results = await Promise.allSettled([a.writeMidx(), b.writeMidx()]);
    const won = results.filter((r) => r.status === 'fulfilled' && typeof r.value === 'string');
    expect(won).toHaveLength(1);
    for (const r of results) if (r.status === 'rejected') expect(r.reason).toBeInstanceOf(LockError);
    expect(locks()).toEqual([]);
    await a.close();
    await b.close();
    expect(await readAll()).toEqual(expected);
  });
});

describe('a reader during writes', () => {
  it('sees every object on every pass while layers are appended, compacted and converted', async () => {
    // start from packs only, so that every write below has something to do
    fs.rmSync(path.join(packDir, 'multi-pack-index.d'), { recursive: true });
    // no refs: a layer of one pack cannot hold the closure of a commit, so git (and we) would
    // refuse its .bitmap; without refs no commit is chosen and every layer gets one
    fs.rmSync(path.join(gitdir, 'refs', 'heads'), { recursive: true, force: true });
    fs.mkdirSync(path.join(gitdir, 'refs', 'heads'));
    const packs = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx')).sort();
    const reader = await openOdb({ fs, gitdir });
    const writer = await openOdb({ fs, gitdir });
    let done = false;
    let passes = 0;
    const failures: string[] = [];
    const readLoop = (async () => {
      while (!done || passes < 3) {
        await reader.refresh();
        for (const line of expected) {
          const oid = line.split(' ')[0];
          try {
            const h = await reader.readHeader(oid);
            if (`${oid} ${h.type} ${h.size}` !== line) failures.push(`pass ${passes}: ${oid} read as ${h.type} ${h.size}`);
          } catch (err) {
            failures.push(`pass ${passes}: ${oid}: ${(err as Error).message}`);
          }
          // let the writer run between reads
          if (Math.random() < 0.2) await new Promise((r) => setImmediate(r));
        }
        passes++;
      }
    })();
    const layers: string[] = [];
    for (const name of packs) {
      layers.push((await writer.writeMidx({ incremental: true, bitmap: true, stdinPacks: [name] }))!);
      expect(chain()).toEqual(layers);
    }
    const compacted = await writer.compactMidx({ from: layers[1], to: layers[3], incremental: true, bitmap: true });
    expect(chain()).toEqual([layers[0], compacted, ...layers.slice(4)]);
    await writer.writeMidx({ stdinPacks: packs.slice(0, 3) });
    expect(chain()).toEqual([]);
    await writer.writeMidx({ incremental: true });
    expect(chain()).toHaveLength(2);
    await writer.writeMidx();
    done = true;
    await readLoop;
    await reader.close();
    await writer.close();
    expect(failures).toEqual([]);
    expect(passes).toBeGreaterThanOrEqual(3);
  });
});

describe('a write interrupted before its rename', () => {
  const gitSees = () => git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check']).toString().trim().split('\n');

  it('incremental, the layer rename fails: no lock or temporary file left, chain unchanged, readable by us and by git', async () => {
    const before = snapshot();
    const odb = await openOdb({ fs: failingRename((from) => path.basename(from).startsWith('tmp_midx_')), gitdir });
    await expect(odb.writeMidx({ incremental: true })).rejects.toThrow('simulated crash');
    await odb.close();
    expect(locks()).toEqual([]);
    expect(snapshot()).toEqual(before);
    expect(await readAll()).toEqual(expected);
    expect(gitSees()).toEqual(expected);
  });

  it('incremental, the chain commit fails: the lock is removed, the old chain stays in force', async () => {
    const before = chain();
    const odb = await openOdb({ fs: failingRename((from) => from.endsWith('multi-pack-index-chain.lock')), gitdir });
    await expect(odb.writeMidx({ incremental: true })).rejects.toThrow('simulated crash');
    await odb.close();
    expect(locks()).toEqual([]);
    expect(chain()).toEqual(before);
    expect(await readAll()).toEqual(expected);
    expect(gitSees()).toEqual(expected);
    // the next write completes, and clears the layer the failed one left behind
    const hex = await write({ incremental: true });
    expect(chain()).toEqual([...before, hex]);
    expect(fs.readdirSync(path.join(packDir, 'multi-pack-index.d')).filter((n) => n.endsWith('.midx'))).toHaveLength(4);
  });

  it('non-incremental, the lock rename fails: the lock is removed and the old MIDX stays', async () => {
    // a non-incremental MIDX first (written by us), then a failing rewrite with one more pack
    const shelf = fs.mkdtempSync(path.join(path.dirname(gitdir), 'shelf-'));
    const stem = OUTSIDE.replace(/\.idx$/, '');
    for (const n of fs.readdirSync(packDir)) if (n.startsWith(stem)) fs.renameSync(path.join(packDir, n), path.join(shelf, n));
    await write({});
    for (const n of fs.readdirSync(shelf)) fs.renameSync(path.join(shelf, n), path.join(packDir, n));
    const before = snapshot();
    const odb = await openOdb({ fs: failingRename((from) => from.endsWith('multi-pack-index.lock')), gitdir });
    await expect(odb.writeMidx({})).rejects.toThrow('simulated crash');
    await odb.close();
    expect(locks()).toEqual([]);
    expect(snapshot()).toEqual(before);
    expect(await readAll()).toEqual(expected);
    // git 2.39 reads this v1 MIDX, and the pack outside it
    expect(gitSees()).toEqual(expected);
    expect(git(['--git-dir', gitdir, 'multi-pack-index', 'verify']).toString()).toBe('');
  });
});
