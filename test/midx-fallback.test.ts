/**
 * Issue 3: a MIDX or chain layer that is bad is dropped (layers below it stay,
 * as in git), its packs are read as unindexed packs, every event reaches
 * onWarning, and every object still reads. Refresh finds packs and layers
 * written while the database is open.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, openOdb } from '../src/index.js';
import { copyRepo, expectedObjects, type Fixture, fixtures, gitHash } from './helpers.js';

const byName = (n: string) => fixtures().find((f) => f.name === n)!;

interface Warning {
  file: string;
  reason: string;
}

async function readAll(f: Fixture, gitdir: string, skip = new Set<string>()) {
  const warnings: Warning[] = [];
  const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w) });
  for (const o of expectedObjects(f)) {
    if (skip.has(o.oid)) continue;
    const obj = await odb.read(o.oid);
    expect(gitHash(f.algorithm, obj.type, obj.data)).toBe(o.oid);
  }
  const stats = await odb.stats();
  await odb.close();
  return { warnings, stats };
}

function corruptAt(file: string, pos: number, bytes: number[]) {
  const b = fs.readFileSync(file);
  bytes.forEach((x, i) => (b[pos + i] = x));
  fs.writeFileSync(file, b);
}

describe('a bad non-incremental MIDX', () => {
  const f = byName('sha1-single');
  const cases: Array<[string, (file: string) => void, RegExp]> = [
    ['bad signature', (m) => corruptAt(m, 0, [0]), /multi-pack-index signature 0x00494458 does not match signature 0x4d494458/],
    ['unknown version', (m) => corruptAt(m, 4, [0]), /multi-pack-index version 0 not recognized/],
    ['wrong hash id', (m) => corruptAt(m, 5, [3]), /multi-pack-index hash version 3 does not match version 1/],
    ['truncated chunk count (bad table of contents)', (m) => corruptAt(m, 6, [1]), /final chunk has non-zero id 4f494446/],
    ['extended chunk count', (m) => corruptAt(m, 6, [7]), /terminating chunk id appears earlier than expected/],
    ['missing required chunk', (m) => corruptAt(m, 12, [1]), /required pack-name chunk missing/],
    ['improper chunk offset', (m) => corruptAt(m, 16, [1]), /improper chunk offset\(s\) 100000000000048 and/],
    ['truncated file (OIDL cut short)', (m) => fs.truncateSync(m, 1400), /improper chunk offset|too small/],
    ['too small', (m) => fs.truncateSync(m, 20), /is too small/],
  ];
  it.each(cases)('%s: warned, dropped, every object reads', async (_label, corrupt, reason) => {
    const gitdir = copyRepo(f);
    corrupt(path.join(gitdir, 'objects', 'pack', 'multi-pack-index'));
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers).toEqual([]);
    expect(stats.midxPacks).toEqual([]);
    expect(stats.packs.length).toBe(6);
    expect(warnings.length).toBe(1);
    expect(warnings[0].file).toMatch(/pack\/multi-pack-index$/);
    expect(warnings[0].reason).toMatch(reason);
  });

  it('a v1 file with pack names out of order', async () => {
    const gitdir = copyRepo(f);
    const m = path.join(gitdir, 'objects', 'pack', 'multi-pack-index');
    corruptAt(m, 72 + 2, ['z'.charCodeAt(0)]);
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers).toEqual([]);
    expect(warnings[0].reason).toMatch(/pack names out of order: 'pazk-/);
  });
});

describe('a bad chain', () => {
  const f = byName('sha1-chain');
  const chainOf = (gitdir: string) => path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain');
  const layers = fs.readFileSync(path.join(f.dir, 'expect', 'layers.txt'), 'utf8').trim().split('\n');

  it('a missing middle layer: the root stays, the rest are read as packs', async () => {
    const gitdir = copyRepo(f);
    fs.rmSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', `multi-pack-index-${layers[1]}.midx`));
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers.map((l) => l.checksum)).toEqual([layers[0]]);
    expect(warnings.map((w) => w.reason)).toEqual(['unable to find all multi-pack index files']);
  });

  it('a missing root layer: no MIDX at all', async () => {
    const gitdir = copyRepo(f);
    fs.rmSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', `multi-pack-index-${layers[0]}.midx`));
    const { stats } = await readAll(f, gitdir);
    expect(stats.layers).toEqual([]);
    expect(stats.packs.length).toBe(6);
  });

  it('a non-hex line', async () => {
    const gitdir = copyRepo(f);
    fs.writeFileSync(chainOf(gitdir), `${layers[0]}\n${'x'.repeat(40)}\n${layers[2]}\n`);
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers.map((l) => l.checksum)).toEqual([layers[0]]);
    expect(warnings[0].reason).toBe(`invalid multi-pack-index chain: line '${'x'.repeat(40)}' not a hash`);
  });

  it('no final newline: the last line is ignored, silently', async () => {
    const gitdir = copyRepo(f);
    fs.writeFileSync(chainOf(gitdir), `${layers[0]}\n${layers[1]}\n${layers[2]}`);
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers.map((l) => l.checksum)).toEqual(layers.slice(0, 2));
    expect(warnings).toEqual([]);
  });

  it('CRLF line endings and uppercase hex load in full', async () => {
    const gitdir = copyRepo(f);
    fs.writeFileSync(chainOf(gitdir), layers.map((l) => `${l.toUpperCase()}\r\n`).join(''));
    const { stats } = await readAll(f, gitdir);
    expect(stats.layers.map((l) => l.checksum)).toEqual(layers);
  });

  it('a chain file shorter than one hash', async () => {
    const gitdir = copyRepo(f);
    fs.writeFileSync(chainOf(gitdir), layers[0].slice(0, 20));
    const { warnings, stats } = await readAll(f, gitdir);
    expect(stats.layers).toEqual([]);
    expect(warnings[0].reason).toBe('multi-pack-index chain file too small');
  });

  it('a layer naming a deleted pack is dropped with the layers above it; the other packs still read', async () => {
    const gitdir = copyRepo(f);
    const packDir = path.join(gitdir, 'objects', 'pack');
    // layer 2 holds pack-4e8b… only; delete it
    const gone = 'pack-4e8b0b9540bec8e6fd8b1755485a387761bc700d';
    for (const ext of ['.idx', '.pack', '.rev']) fs.rmSync(path.join(packDir, gone + ext));
    const dump = fs.readFileSync(path.join(f.dir, 'expect', 'read-midx.2.txt'), 'utf8');
    const lost = new Set([...dump.matchAll(/^([0-9a-f]{40}) \d+\t.*pack-4e8b/gm)].map((m) => m[1]));
    expect(lost.size).toBeGreaterThan(0);
    const { warnings, stats } = await readAll(f, gitdir, lost);
    expect(stats.layers.map((l) => l.checksum)).toEqual([layers[0]]);
    expect(warnings[0].reason).toMatch(/names pack pack-4e8b.*which is not in/);
    const odb = await openOdb({ fs, gitdir });
    for (const oid of lost) await expect(odb.read(oid)).rejects.toBeInstanceOf(NotFoundError);
  });
});

describe('refresh', () => {
  it('finds a pack added and a layer appended while the database is open', async () => {
    const f = byName('sha1-chain');
    const gitdir = copyRepo(f);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const dDir = path.join(packDir, 'multi-pack-index.d');
    const layers = fs.readFileSync(path.join(f.dir, 'expect', 'layers.txt'), 'utf8').trim().split('\n');
    // start from step 1: layer 1 over its two packs, nothing else
    const step1 = fs.readFileSync(path.join(f.dir, 'steps', '1', 'packs'), 'utf8').trim().split('\n');
    const stash = path.join(gitdir, 'stash');
    fs.mkdirSync(stash);
    for (const n of fs.readdirSync(packDir)) {
      if (n.startsWith('pack-') && !step1.includes(n.replace(/\.(pack|rev)$/, '.idx'))) fs.renameSync(path.join(packDir, n), path.join(stash, n));
    }
    for (const n of fs.readdirSync(dDir)) if (!n.includes(layers[0])) fs.rmSync(path.join(dDir, n));
    fs.writeFileSync(path.join(dDir, 'multi-pack-index-chain'), `${layers[0]}\n`);
    for (const d of fs.readdirSync(path.join(gitdir, 'objects'))) if (/^[0-9a-f]{2}$/.test(d)) fs.renameSync(path.join(gitdir, 'objects', d), path.join(stash, d));

    const odb = await openOdb({ fs, gitdir });
    expect((await odb.stats()).layers.length).toBe(1);
    const dump2 = fs.readFileSync(path.join(f.dir, 'expect', 'read-midx.2.txt'), 'utf8');
    const inLayer2 = /^([0-9a-f]{40}) /m.exec(dump2.split('object-dir')[1])![1];
    expect(await odb.exists(inLayer2)).toBe(false);

    // another process adds the pack of step 2: found as an unindexed pack, without reopening
    for (const ext of ['.idx', '.pack', '.rev']) {
      const n = `pack-4e8b0b9540bec8e6fd8b1755485a387761bc700d${ext}`;
      fs.renameSync(path.join(stash, n), path.join(packDir, n));
    }
    expect((await odb.locate(inLayer2))?.source).toBe('pack');
    // ... then appends layer 2 (git's order: layer file first, then the chain)
    fs.copyFileSync(path.join(f.dir, 'steps', '2', 'files', 'multi-pack-index.d', `multi-pack-index-${layers[1]}.midx`), path.join(dDir, `multi-pack-index-${layers[1]}.midx`));
    fs.writeFileSync(path.join(dDir, 'multi-pack-index-chain'), `${layers[0]}\n${layers[1]}\n`);
    expect(await odb.refresh()).toBe(true);
    expect(await odb.refresh()).toBe(false);
    expect((await odb.locate(inLayer2))?.source).toBe('midx');
    expect((await odb.stats()).layers.map((l) => l.checksum)).toEqual(layers.slice(0, 2));
    await odb.close();
  });
});

describe('unknown chunks', () => {
  it('are ignored, wherever they stand', async () => {
    const crypto = await import('node:crypto');
    const f = byName('sha1-single');
    const gitdir = copyRepo(f);
    const file = path.join(gitdir, 'objects', 'pack', 'multi-pack-index');
    const old = fs.readFileSync(file);
    const count = old[6];
    const chunks: Array<{ id: Buffer; data: Buffer }> = [];
    for (let i = 0; i < count; i++) {
      const at = 12 + 12 * i;
      const start = Number(old.readBigUInt64BE(at + 4));
      const end = Number(old.readBigUInt64BE(at + 16));
      chunks.push({ id: old.subarray(at, at + 4), data: old.subarray(start, end) });
    }
    // an unknown chunk between OIDF and OIDL, another at the end
    chunks.splice(2, 0, { id: Buffer.from('ZZZZ'), data: Buffer.alloc(16, 7) });
    chunks.push({ id: Buffer.from('QQQQ'), data: Buffer.alloc(4, 1) });
    const header = Buffer.from(old.subarray(0, 12));
    header[6] = chunks.length;
    const toc = Buffer.alloc(12 * (chunks.length + 1));
    let offset = 12 + toc.length;
    chunks.forEach((c, i) => {
      c.id.copy(toc, 12 * i);
      toc.writeBigUInt64BE(BigInt(offset), 12 * i + 4);
      offset += c.data.length;
    });
    toc.writeBigUInt64BE(BigInt(offset), 12 * chunks.length + 4);
    const body = Buffer.concat([header, toc, ...chunks.map((c) => c.data)]);
    fs.writeFileSync(file, Buffer.concat([body, crypto.createHash('sha1').update(body).digest()]));
    const { warnings, stats } = await readAll(f, gitdir);
    expect(warnings).toEqual([]);
    expect(stats.layers.length).toBe(1);
    expect(stats.layers[0].objects).toBe(Number(fs.readFileSync(path.join(f.dir, 'expect', 'read-midx.1.txt'), 'utf8').match(/num_objects: (\d+)/)![1]));
    const odb = await openOdb({ fs, gitdir });
    for (const o of expectedObjects(f).slice(0, 50)) expect((await odb.locate(o.oid))?.source).not.toBe(undefined);
    expect((await odb.verifyMidx()).ok).toBe(true);
  });
});
