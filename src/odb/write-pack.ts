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
import type { Odb } from './odb.js';
import { AbortGate, progressWith } from '../progress.js';

/**
 * The pack writer's settings for this database (its files, hash and codec);
 * objects written whole are read through the database unless `readWhole`
 * says otherwise.
 */
export function packWriteInit(odb: Odb, o: Partial<Omit<PackWriteInit, 'fs' | 'codec' | 'hash'>> = {}): PackWriteInit {
  return {
    fs: odb.fs,
    codec: odb.codec,
    hash: odb.hash,
    packDir: o.packDir ?? odb.packDir,
    progress: o.progress,
    deltaBaseOffset: o.deltaBaseOffset,
    compressionLevel: o.compressionLevel,
    readWhole:
      o.readWhole ??
      (async (oid) => {
        const obj = await odb.read(toHex(oid));
        return { type: typeNumber(obj.type), data: obj.data };
      }),
  };
}

/** packWriteInit for git's repack and maintenance: deltas refer to their base by offset unless `repack.useDeltaBaseOffset` is false. */
export function repackWriteInit(odb: Odb, progress: Progress | undefined, readWhole?: PackWriteInit['readWhole']): PackWriteInit {
  return packWriteInit(odb, { progress, deltaBaseOffset: configBool(odb.config, 'repack.useDeltaBaseOffset', true), readWhole });
}

function init(odb: Odb, options: WritePackOptions): PackWriteInit {
  return packWriteInit(odb, {
    packDir: options.packDir,
    progress: progressWith(options, new AbortGate(options.signal)),
    deltaBaseOffset: options.deltaBaseOffset,
    compressionLevel: options.compressionLevel,
  });
}

/** Writes a pack of the given objects (each kept once); returns the files written. */
export async function writePackOfObjects(odb: Odb, objects: Iterable<string> | AsyncIterable<string>, options: WritePackOptions = {}): Promise<WrittenPack> {
  const H = odb.hash.rawLength;
  const src = new PackSources(H);
  await odb.packBackend.ready();
  for await (const hex of objects) {
    const oid = parseOid(typeof hex === 'string' ? hex.toLowerCase() : hex, odb.hash);
    const loc = await odb.packBackend.locate(oid);
    if (loc) src.add(oid, loc.pack, loc.offset);
    else {
      if (!(await odb.exists(hex))) throw new NotFoundError(hex.toLowerCase());
      src.add(oid, null);
    }
  }
  return writePackFromSources(init(odb, options), src.unique());
}

/** The pack named by an `.idx`/`.pack` basename or `pack-<hex>`. */
export async function packByName(odb: Odb, name: string): Promise<Pack> {
  await odb.packBackend.ready();
  const idxName = name.replace(/\.(pack|idx)$/, '') + '.idx';
  let pack = odb.packBackend.packNamed(idxName);
  if (!pack) {
    await odb.refresh();
    pack = odb.packBackend.packNamed(idxName);
  }
  if (!pack) throw new NotFoundError(idxName, 'pack');
  return pack;
}

/**
 * Writes one pack holding every object of the named packs. An object in
 * several of them is copied from the first one named.
 */
export async function writePackOfPacks(odb: Odb, packs: string[], options: WritePackOptions = {}): Promise<WrittenPack> {
  const src = new PackSources(odb.hash.rawLength);
  for (const name of packs) {
    const pack = await packByName(odb, name);
    const idx = await pack.loadIndex();
    for (let i = 0; i < idx.count; i++) src.add(idx.oidBytes(i), pack, idx.offsetAt(i));
  }
  return writePackFromSources(init(odb, options), src.unique());
}
