/**
 * `writePack`: a new pack of objects the database holds, their pack entries
 * copied as they are (see pack/write.ts). Objects are found as reads find
 * them (MIDX layers, then unindexed packs); those in no pack of this
 * repository (loose objects, alternates) are deflated whole.
 */

import { NotFoundError } from '../errors.js';
import { parseOid, toHex } from '../oid.js';
import type { Pack } from '../pack/pack.js';
import { PackSources, type PackWriteInit, typeNumber, type WrittenPack, writePackFromSources } from '../pack/write.js';
import type { Progress, WritePackOptions } from '../types.js';
import { configBool } from '../config.js';
import type { Odb } from './api.js';
import { internalsOf, type OdbInternals } from './odb.js';
import { AbortGate, progressWith } from '../progress.js';

/**
 * The pack writer's settings for this database (its files, hash and codec);
 * objects written whole are read through the database unless `readWhole`
 * says otherwise.
 */
export function packWriteInit(db: OdbInternals, o: Partial<Omit<PackWriteInit, 'fs' | 'codec' | 'hash'>> = {}): PackWriteInit {
  return {
    fs: db.fs,
    codec: db.codec,
    hash: db.hash,
    packDir: o.packDir ?? db.packDir,
    progress: o.progress,
    deltaBaseOffset: o.deltaBaseOffset,
    compressionLevel: o.compressionLevel,
    readWhole:
      o.readWhole ??
      (async (oid) => {
        const obj = await db.read(toHex(oid));
        return { type: typeNumber(obj.type), data: obj.data };
      }),
  };
}

/** packWriteInit for git's repack and maintenance: deltas refer to their base by offset unless `repack.useDeltaBaseOffset` is false. */
export function repackWriteInit(db: OdbInternals, progress: Progress | undefined, readWhole?: PackWriteInit['readWhole']): PackWriteInit {
  return packWriteInit(db, { progress, deltaBaseOffset: configBool(db.config, 'repack.useDeltaBaseOffset', true), readWhole });
}

function init(db: OdbInternals, options: WritePackOptions): PackWriteInit {
  return packWriteInit(db, {
    packDir: options.packDir,
    progress: progressWith(options, new AbortGate(options.signal)),
    deltaBaseOffset: options.deltaBaseOffset,
    compressionLevel: options.compressionLevel,
  });
}

/** Writes a pack of the given objects (each kept once); returns the files written. */
export async function writePackOfObjects(odb: Odb, objects: Iterable<string> | AsyncIterable<string>, options: WritePackOptions = {}): Promise<WrittenPack> {
  const db = internalsOf(odb);
  db.checkOpen();
  const H = db.hash.rawLength;
  const src = new PackSources(H);
  await db.packBackend.ready();
  for await (const hex of objects) {
    const oid = parseOid(typeof hex === 'string' ? hex.toLowerCase() : hex, db.hash);
    const loc = await db.packBackend.locate(oid);
    if (loc) src.add(oid, loc.pack, loc.offset);
    else {
      if (!(await db.odb.exists(hex))) throw new NotFoundError(hex.toLowerCase());
      src.add(oid, null);
    }
  }
  return writePackFromSources(init(db, options), src.unique());
}

/** The pack named by an `.idx`/`.pack` basename or `pack-<hex>`. */
export async function packByName(db: OdbInternals, name: string): Promise<Pack> {
  await db.packBackend.ready();
  const idxName = name.replace(/\.(pack|idx)$/, '') + '.idx';
  let pack = db.packBackend.packNamed(idxName);
  if (!pack) {
    await db.refresh();
    pack = db.packBackend.packNamed(idxName);
  }
  if (!pack) throw new NotFoundError(idxName, 'pack');
  return pack;
}

/**
 * Writes one pack holding every object of the named packs. An object in
 * several of them is copied from the first one named.
 */
export async function writePackOfPacks(odb: Odb, packs: string[], options: WritePackOptions = {}): Promise<WrittenPack> {
  const db = internalsOf(odb);
  db.checkOpen();
  const src = new PackSources(db.hash.rawLength);
  for (const name of packs) {
    const pack = await packByName(db, name);
    const idx = await pack.loadIndex();
    for (let i = 0; i < idx.count; i++) src.add(idx.oidBytes(i), pack, idx.offsetAt(i));
  }
  return writePackFromSources(init(db, options), src.unique());
}
