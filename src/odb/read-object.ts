/**
 * isomorphic-git's `readObject` through the database (Odb.readObject): its
 * formats (object/shapes.ts) and its order of sources, on a small read surface
 * of the database (OdbInternals: its own loose objects and packs,
 * verification, the refresh on a miss). Kept out of the core class; in odb/,
 * not isogit/, because the database's own method calls it and data flows from
 * isogit to odb, never back.
 */

import { InvalidArgumentError } from '../errors.js';
import { EMPTY_TREE_SHA1, type ReadableObject, type ReadObjectFormat, type ReadObjectResult, toReadObjectResult } from '../object/shapes.js';
import type { OdbInternals } from './odb.js';
import { toGitObject } from '../pack/entry.js';

export async function readObject(db: OdbInternals, args: { oid: string; format?: ReadObjectFormat }): Promise<ReadObjectResult> {
  const format = args?.format ?? 'parsed';
  if (format !== 'deflated' && format !== 'wrapped' && format !== 'content' && format !== 'parsed') {
    throw new InvalidArgumentError(`invalid readObject format ${JSON.stringify(format)}`);
  }
  const oid = args?.oid;
  const bytes = db.parseOid(oid);
  const hex = oid.toLowerCase();
  if (db.hash.algorithm === 'sha1' && hex === EMPTY_TREE_SHA1) {
    return toReadObjectResult(hex, { type: 'tree', data: new Uint8Array(0) }, format, db.codec);
  }
  const fromLoose = async (): Promise<ReadObjectResult | null> => {
    const deflated = format === 'deflated' ? await db.loose.readCompressed(hex) : null;
    const read = await db.loose.read(hex);
    if (!read) return null;
    const obj = db.verified(read, bytes, db.loose.pathOf(hex));
    const readable: ReadableObject = toGitObject(obj);
    if (deflated) readable.deflated = deflated;
    return toReadObjectResult(hex, readable, format, db.codec, `objects/${hex.slice(0, 2)}/${hex.slice(2)}`);
  };
  const fromPack = async (): Promise<ReadObjectResult | null> => {
    const found = await db.readOwnPacked(bytes);
    if (!found) return null;
    const source = `objects/pack/${found.pack.name.replace(/\.idx$/, '.pack')}`;
    return toReadObjectResult(hex, toGitObject(found.obj), format, db.codec, source);
  };
  // loose first, as isomorphic-git; the fan-out listing (kept as git keeps its
  // loose cache) spares a failed file read per packed object
  const listed = (await db.loose.matching(hex)).length > 0;
  const result = (listed ? await fromLoose() : null) ?? (await fromPack()) ?? (listed ? null : await fromLoose());
  if (result) return result;
  if (await db.refreshOnMiss()) {
    const again = (await fromLoose()) ?? (await fromPack());
    if (again) return again;
  }
  throw db.missing(hex);
}
