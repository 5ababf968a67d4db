/**
 * Issue 3: lookups through the MIDX and incremental chains, against git
 * 2.55's own answers in the fixtures (read-midx dumps, layers, abbreviations).
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { AmbiguousError, openOdb } from '../src/index.js';
import { normalizeFs } from '../src/io/fs.js';
import { MidxFile } from '../src/midx/read.js';
import { fromHex, SHA1 } from '../src/oid.js';
import { expectedObjects, type Fixture, fixtures } from './helpers.js';

interface ReadMidx {
  header: { version: number; hashLength: number; chunks: number; packs: number };
  chunks: string[];
  numObjects: number;
  packs: string[];
  objects: Array<{ oid: string; offset: number; pack: string }>;
}

/** Parses git's `test-tool read-midx --show-objects` output. */
function readMidxDump(file: string): ReadMidx {
  const lines = fs.readFileSync(file, 'utf8').split('\n');
  const [, , version, hashLength, chunks, packs] = lines[0].split(' ');
  const out: ReadMidx = {
    header: { version: +version, hashLength: +hashLength, chunks: +chunks, packs: +packs },
    chunks: lines[1].replace(/^chunks: /, '').split(' '),
    numObjects: Number(lines[2].replace('num_objects: ', '')),
    packs: [],
    objects: [],
  };
  let i = 4;
  for (; i < lines.length && !lines[i].startsWith('object-dir:'); i++) out.packs.push(lines[i]);
  for (i++; i < lines.length; i++) {
    const m = /^([0-9a-f]+) (\d+)\t(.*)$/.exec(lines[i]);
    if (m) out.objects.push({ oid: m[1], offset: Number(m[2]), pack: path.basename(m[3]).replace(/\.pack$/, '.idx') });
  }
  return out;
}

function layerDumps(f: Fixture): ReadMidx[] {
  const dumps: ReadMidx[] = [];
  for (let k = 1; fs.existsSync(path.join(f.dir, 'expect', `read-midx.${k}.txt`)); k++) dumps.push(readMidxDump(path.join(f.dir, 'expect', `read-midx.${k}.txt`)));
  return dumps;
}

const all = fixtures();
const readable = all.filter((f) => f.name !== 'sha1-large-offsets');

describe.each(readable.map((f) => [f.name, f] as const))('%s', (_name, f) => {
  it('loads the layers git loaded, and every layer answers as git dumped it', async () => {
    const warnings: unknown[] = [];
    const odb = await openOdb({ fs, gitdir: f.gitdir, onWarning: (w) => warnings.push(w) });
    const stats = await odb.stats();
    const layers = fs.readFileSync(path.join(f.dir, 'expect', 'layers.txt'), 'utf8').trim().split('\n');
    expect(stats.layers.map((l) => l.checksum)).toEqual(layers);
    const dumps = layerDumps(f);
    expect(dumps.length).toBe(layers.length);
    for (let k = 0; k < dumps.length; k++) {
      const d = dumps[k];
      const layer = stats.layers[k];
      expect(layer.version).toBe(d.header.version);
      expect(layer.packs).toEqual(d.packs);
      expect(layer.objects).toBe(d.numObjects);
      expect(d.objects.length).toBe(d.numObjects);
      for (const o of d.objects) {
        const loc = await odb.locate(o.oid);
        expect(loc, o.oid).toEqual({ source: 'midx', pack: o.pack, offset: o.offset, layer: layer.checksum });
      }
    }
    // midxPacks in global pack-int-id order; unindexed packs are the rest of the directory
    expect(stats.midxPacks).toEqual(dumps.flatMap((d) => d.packs));
    const dirIdx = fs.readdirSync(path.join(f.gitdir, 'objects', 'pack')).filter((n) => n.endsWith('.idx'));
    expect([...stats.midxPacks, ...stats.packs].sort()).toEqual(dirIdx.sort());
    expect(warnings).toEqual([]);
    await odb.close();
  });

  it('expands every abbreviation as git does', async () => {
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const text = fs.readFileSync(path.join(f.dir, 'expect', 'abbrev.txt'), 'utf8').trim().split('\n');
    const cases: Array<{ prefix: string; oids: string[] }> = [];
    for (const line of text) {
      if (line.startsWith('prefix ')) cases.push({ prefix: line.slice(7), oids: [] });
      else cases[cases.length - 1].oids.push(line);
    }
    expect(cases.length).toBeGreaterThan(5);
    for (const c of cases) {
      if (c.oids.length === 1) expect(await odb.expandOid(c.prefix)).toBe(c.oids[0]);
      else {
        const err = await odb.expandOid(c.prefix).then(
          () => null,
          (e) => e,
        );
        expect(err, c.prefix).toBeInstanceOf(AmbiguousError);
        expect((err as AmbiguousError).candidates).toEqual([...c.oids].sort());
      }
    }
    // ambiguity at every length up to the full id, across sources
    const objects = expectedObjects(f);
    for (const o of objects.slice(0, 20)) expect(await odb.expandOid(o.oid.slice(0, 12))).toBe(o.oid);
    await odb.close();
  });

  it('lists every object once, in order', async () => {
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const listed: string[] = [];
    for await (const oid of odb.listOids()) listed.push(oid);
    expect(listed).toEqual(expectedObjects(f).map((o) => o.oid));
    await odb.close();
  });
});

describe('special fixtures', () => {
  it('sha1-large-offsets: the MIDX gives git offsets past 4 GiB (LOFF)', async () => {
    const f = all.find((x) => x.name === 'sha1-large-offsets')!;
    const nfs = normalizeFs(fs);
    const m = await MidxFile.open(await nfs.open(path.join(f.gitdir, 'objects', 'pack', 'multi-pack-index')), SHA1);
    const d = readMidxDump(path.join(f.dir, 'expect', 'read-midx.1.txt'));
    expect(d.chunks).toContain('large-offsets');
    expect(m.numObjects).toBe(d.numObjects);
    expect(m.packNames).toEqual(d.packs);
    expect(d.objects.some((o) => o.offset > 2 ** 32)).toBe(true);
    for (const o of d.objects) {
      const pos = await m.find(fromHex(o.oid));
      expect(pos).toBeGreaterThanOrEqual(0);
      expect(await m.entry(pos)).toEqual({ pack: 0, offset: o.offset });
    }
    // and with the tables loaded whole
    await m.loadTables();
    for (const o of d.objects) expect(m.offsetAt(m.findLoaded(fromHex(o.oid)))).toBe(o.offset);
    // through the odb: the pack is absent, so the layer is dropped with a warning naming it
    const warnings: Array<{ file: string; reason: string }> = [];
    const odb = await openOdb({ fs, gitdir: f.gitdir, onWarning: (w) => warnings.push(w) });
    expect((await odb.stats()).layers).toEqual([]);
    expect(warnings[0].reason).toMatch(/names pack pack-1e2a.*\.idx, which is not in/);
  });

  it('sha1-both: only the non-incremental file is used while a chain exists beside it', async () => {
    const f = all.find((x) => x.name === 'sha1-both')!;
    expect(fs.existsSync(path.join(f.gitdir, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain'))).toBe(true);
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const stats = await odb.stats();
    expect(stats.layers.length).toBe(1);
    expect(stats.layers[0].file).toMatch(/pack\/multi-pack-index$/);
  });
});
