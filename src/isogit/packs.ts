/**
 * What the isomorphic-git adapters (createIsogitCache, createIsogitFs) ask of a
 * database, on top of its synchronous read surface (findLoaded, packState,
 * oidsOfPack, loadPackIndexes): a memo of "which pack holds this id", and reads
 * that wait out a full file table instead of failing a checkout.
 */

import type { GitObject, OdbWarning } from '../types.js';
import { errorCode } from '../util.js';

/** What the adapters need of a database (Odb implements it). */
export interface IsogitPackSource {
  readonly gitdir: string;
  warn(w: OdbWarning): void;
  refresh(): Promise<boolean>;
  /** loads every table, so that the synchronous members below see every pack */
  loadPackIndexes(): Promise<void>;
  /** the `.idx` name of the pack an id is read from, from loaded tables only */
  findLoaded(oid: string): string | null;
  /** a new object whenever the listing findLoaded answers from changes */
  readonly packListing: object;
  packState(name: string): 'served' | 'broken' | 'unknown';
  oidsOfPack(name: string): Iterable<string>;
  read(oid: string): Promise<GitObject>;
}

interface Memo {
  listing: object;
  names: Map<string, string>;
}

const memos = new WeakMap<IsogitPackSource, Memo>();

/**
 * The `.idx` name of the pack `odb` reads `oid` from, from loaded tables only (no
 * I/O); null when no loaded pack has it. Answers are kept while the database's
 * listing of packs is unchanged, so concurrent callers see the same answer.
 */
export function packOfLoaded(odb: IsogitPackSource, oid: string): string | null {
  let memo = memos.get(odb);
  const listing = odb.packListing;
  if (!memo || memo.listing !== listing) {
    memo = { listing, names: new Map() };
    memos.set(odb, memo);
  }
  const hit = memo.names.get(oid);
  if (hit !== undefined) return hit;
  const name = odb.findLoaded(oid);
  if (name === null) return null;
  if (memo.names.size >= 4096) memo.names.clear();
  memo.names.set(oid, name);
  return name;
}

/**
 * Reads `oid` (which packOfLoaded placed in some pack; the database reads it from
 * there, with its usual fallbacks). isomorphic-git's checkout writes every file at
 * once: a pack opened lazily in the middle of that can meet a full file table, so
 * this waits for it to drain, as graceful-fs does, instead of failing the file.
 */
export async function readPacked(odb: IsogitPackSource, oid: string): Promise<GitObject> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await odb.read(oid);
    } catch (err) {
      const code = errorCode(err);
      if ((code !== 'EMFILE' && code !== 'ENFILE') || attempt >= 200) throw err;
      await new Promise((resolve) => setTimeout(resolve, Math.min(100, 2 << Math.min(attempt, 6))));
    }
  }
}
