/**
 * The object database as users see it: what openOdb returns. A declared
 * interface, so that what the package promises is written in one place and
 * nothing of the implementation (odb/odb.ts, its fs client, codec, caches and
 * backends, all private) shows through. The package's own modules reach those
 * internals through `internalsOf` (odb/odb.ts), never through this type.
 */

import type { GitConfig } from '../config.js';
import type { HashInfo } from '../oid.js';
import type { DeflatedObject, ParsedObject, RawObject as RawResult, ReadObjectFormat, ReadObjectResult, WrappedObject } from '../object/shapes.js';
import type {
  CompactMidxOptions,
  ExpireMidxOptions,
  ExpireMidxResult,
  GitObject,
  MaintainOptions,
  MaintainResult,
  ObjectHeader,
  ObjectLocation,
  OdbStats,
  OdbWarning,
  RepackMidxOptions,
  RepackMidxResult,
  VerifyOptions,
  VerifyResult,
  WriteMidxOptions,
} from '../types.js';
import type { ObjectCounts, ReachOptions } from './reach.js';

export interface Odb {
  /** the git directory openOdb was given */
  readonly gitdir: string;
  /** its object directory (`<gitdir>/objects` unless openOdb was told otherwise) */
  readonly objectsDir: string;
  /** `<objectsDir>/pack` */
  readonly packDir: string;
  /** the object format (extensions.objectFormat): algorithm and id lengths */
  readonly hash: HashInfo;
  /** the repository's parsed config (lower-cased section.key to its values, in file order) */
  readonly config: GitConfig;
  /** openOdb's verifyReads: every object read is re-hashed */
  readonly verifyReads: boolean;

  // --- reading ---
  /** The object's type and content. NotFoundError when no source has it. */
  read(oid: string): Promise<GitObject>;
  /** Type and size, without inflating the object where the format allows. */
  readHeader(oid: string): Promise<ObjectHeader>;
  /** Whether any source holds the object (a miss on an unchanged repository costs no refresh). */
  exists(oid: string): Promise<boolean>;
  /**
   * Where an object is read from: the MIDX layer and pack entry, an unindexed
   * pack entry, or a loose file; null when it is nowhere.
   */
  locate(oid: string): Promise<ObjectLocation | null>;
  /** Every object id in every source, once each, in ascending order. */
  listOids(): AsyncGenerator<string>;
  /**
   * The full object id for an abbreviation of at least 4 hex digits.
   * AmbiguousError (with every candidate) when several objects match anywhere.
   */
  expandOid(prefix: string): Promise<string>;
  /**
   * What the database holds now: before counting, the same cheap check as a miss
   * (MIDX size and trailer, chain file bytes, pack directory listing) picks up
   * layers, MIDX files and packs that another process (git) wrote or removed.
   */
  stats(): Promise<OdbStats>;
  /** Looks for new packs, layers and MIDX files now. Resolves true when something changed. */
  refresh(): Promise<boolean>;
  /**
   * Closes every open pack and drops the caches. Every later call rejects with
   * InvalidArgumentError (writePack's too); the synchronous lookups answer null,
   * 'unknown' and nothing.
   */
  close(): Promise<void>;
  /**
   * Reports a warning to openOdb's onWarning (a throwing callback is ignored):
   * for adapters built on the database, as the isomorphic-git ones are.
   */
  warn(w: OdbWarning): void;

  // --- MIDX files ---
  /**
   * git's `multi-pack-index verify` on every MIDX layer (spec 5.1): the MIDX is
   * loaded afresh with git's rules; only MIDX and `.idx` files are read (packs
   * are opened, never read). See VerifyResult for what git itself would say.
   */
  verifyMidx(options?: VerifyOptions): Promise<VerifyResult>;
  /**
   * `git multi-pack-index write` (spec 4): a full MIDX, or with `incremental`
   * a new chain layer holding only what no layer holds yet. Resolves to the
   * new checksum (hex), or null when nothing was written. The backend is
   * refreshed, so the new MIDX serves lookups at once.
   */
  writeMidx(options?: WriteMidxOptions): Promise<string | null>;
  /** `git multi-pack-index compact <from> <to>` (spec 4.9). Resolves to the new checksum. */
  compactMidx(options: CompactMidxOptions): Promise<string | null>;
  /**
   * `git multi-pack-index expire` (spec 4.10): deletes the packs no MIDX object
   * refers to (not `.keep` or cruft packs) after writing the MIDX without them.
   * Refuses a chain of two or more layers, as git does (see odb/expire.ts).
   */
  expireMidx(options?: ExpireMidxOptions): Promise<ExpireMidxResult>;
  /**
   * `git multi-pack-index repack [--batch-size=<n>]` (spec 4.11): one new pack
   * of the objects the MIDX assigns to the packs git would pick, then a new MIDX.
   */
  repackMidx(options?: RepackMidxOptions): Promise<RepackMidxResult>;
  /**
   * git 2.55's `git repack -d -l --geometric=2 --write-midx=incremental`:
   * packs merged geometrically into one new pack, MIDX layers merged by
   * `repack.midxSplitFactor`, then the packs no layer names deleted
   * (maintain.ts). `dryRun` returns the plan without writing.
   */
  maintain(options?: MaintainOptions): Promise<MaintainResult>;

  // --- reachability ---
  /**
   * The ids of the objects reachable from `include` and not from `exclude`
   * (the set `git rev-list --objects --use-bitmap-index` lists), answered from
   * the MIDX chain's `.bitmap` files where they cover a commit and by walking
   * elsewhere. Bitmaps that fail to load are warnings and a walk.
   */
  reachableObjects(options: ReachOptions): Promise<string[]>;
  /** The same objects counted by type (`git rev-list --objects --count`, split by type). */
  countObjects(options: ReachOptions): Promise<ObjectCounts>;

  // --- isomorphic-git ---
  /**
   * What isomorphic-git 1.44's `git.readObject({ fs, gitdir, oid, format })` returns
   * (format 'deflated' | 'wrapped' | 'content' | 'parsed', default 'parsed' as in
   * isomorphic-git), read through this database. Typed by `format`: with 'parsed' (or
   * none) `r.object` narrows by `r.type` (a commit's fields, a tree's entries, a blob's bytes). As isomorphic-git: the SHA-1 empty tree is answered without
   * a lookup, a loose object is looked for before the packs (so it reports
   * `source: 'objects/xx/yyyy…'` and honours every format), and a packed object comes
   * back as format 'content' (or 'parsed') with `source: 'objects/pack/pack-….pack'`.
   * The one difference: for an object stored in several packs, `source` names the pack
   * this database reads it from (the MIDX's choice), where isomorphic-git names the
   * first `.idx` in file-name order that lists it.
   */
  readObject(args: { oid: string; format?: 'parsed' }): Promise<ParsedObject>;
  readObject(args: { oid: string; format: 'content' }): Promise<RawResult>;
  readObject(args: { oid: string; format: 'wrapped' }): Promise<WrappedObject | RawResult>;
  readObject(args: { oid: string; format: 'deflated' }): Promise<DeflatedObject | WrappedObject | RawResult>;
  readObject(args: { oid: string; format?: ReadObjectFormat }): Promise<ReadObjectResult>;

  // --- the loaded tables, synchronously (createIsogitCache's read surface) ---
  /**
   * Loads every MIDX layer's tables and every unindexed pack's `.idx`, so that the
   * synchronous lookups below (which do no I/O) see every pack. For createIsogitCache.
   */
  loadPackIndexes(): Promise<void>;
  /**
   * The `.idx` name of the pack this database reads `oid` from, from loaded data
   * only (synchronous, no I/O; see loadPackIndexes); null when no loaded pack has it.
   */
  findLoaded(oid: string): string | null;
  /** Changes (a new object) whenever the listing of packs findLoaded answers from changes. */
  readonly packListing: object;
  /**
   * Whether the pack `name` (an `.idx` basename) can be answered for synchronously:
   * 'served' (listed, its index or MIDX tables loaded), 'broken' (its `.idx` failed
   * to load) or 'unknown' (not listed, or not loaded yet).
   */
  packState(name: string): 'served' | 'broken' | 'unknown';
  /** The ids (hex, ascending) findLoaded places in the pack `name`. */
  oidsOfPack(name: string): Generator<string>;
}
