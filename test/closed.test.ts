/**
 * A closed database: every call rejects with InvalidArgumentError (none reopens
 * a file behind the caller's back), the synchronous lookups answer nothing, and
 * the internals are found by their registered brand (a database from another
 * copy of the package still works with writePack; a foreign object is a
 * TypeError).
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, openOdb, writePack, writePackOfPacks } from '../src/index.js';
import { internalsOf } from '../src/odb/odb.js';
import { copyRepo, expectedObjects, fixtures } from './helpers.js';

describe('a closed database', () => {
  const f = fixtures().find((x) => x.name === 'sha1-chain')!;
  const oids = expectedObjects(f).map((o) => o.oid);
  const oid = oids[0];

  it('rejects every call, reopens no file, and its synchronous lookups answer nothing', async () => {
    const gitdir = copyRepo(f);
    const odb = await openOdb({ fs, gitdir });
    await odb.loadPackIndexes();
    const packed = oids.find((o) => odb.findLoaded(o))!;
    const pack = odb.findLoaded(packed)!;
    expect(pack).toMatch(/^pack-.*\.idx$/);
    await odb.close();
    const calls: Array<[string, () => Promise<unknown>]> = [
      ['read', () => odb.read(oid)],
      ['readHeader', () => odb.readHeader(oid)],
      ['exists', () => odb.exists(oid)],
      ['locate', () => odb.locate(oid)],
      ['expandOid', () => odb.expandOid(oid.slice(0, 8))],
      ['listOids', async () => {
        for await (const _ of odb.listOids()) break;
      }],
      ['stats', () => odb.stats()],
      ['refresh', () => odb.refresh()],
      ['readObject', () => odb.readObject({ oid })],
      ['loadPackIndexes', () => odb.loadPackIndexes()],
      ['verifyMidx', () => odb.verifyMidx()],
      ['writeMidx', () => odb.writeMidx({ incremental: true })],
      ['expireMidx', () => odb.expireMidx()],
      ['maintain', () => odb.maintain()],
      ['reachableObjects', () => odb.reachableObjects({ include: [oid] })],
      ['writePack', () => writePack(odb, [oid], { packDir: path.join(gitdir, 'elsewhere') })],
      ['writePackOfPacks', () => writePackOfPacks(odb, [pack], { packDir: path.join(gitdir, 'elsewhere') })],
    ];
    for (const [name, call] of calls) await expect(call(), name).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(fs.existsSync(path.join(gitdir, 'elsewhere')), 'no pack written').toBe(false);
    expect(odb.findLoaded(packed)).toBeNull();
    expect(odb.packState(pack)).toBe('unknown');
    expect([...odb.oidsOfPack(pack)]).toEqual([]);
  });

  it('internals are found by brand, not by class: a foreign object is a TypeError', async () => {
    const odb = await openOdb({ fs, gitdir: copyRepo(f) });
    expect(internalsOf(odb).hash.rawLength).toBe(20);
    // what another copy of the package would hand over: the same brand on another object
    const copy = Object.create(null);
    Object.defineProperty(copy, Symbol.for('midx-odb.internals'), { value: internalsOf(odb) });
    expect(internalsOf(copy)).toBe(internalsOf(odb));
    expect(() => internalsOf({} as never)).toThrow(TypeError);
    await expect(writePack({} as never, [oid])).rejects.toBeInstanceOf(TypeError);
    await odb.close();
  });
});
