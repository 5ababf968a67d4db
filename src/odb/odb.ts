/**
 * The object database: the pack backend (MIDX chain, then unindexed packs),
 * then loose objects, then the alternates'.
 *
 * How a read goes. `read(oid)` parses the id and asks the pack backend
 * (odb/pack.ts) where it lives. The backend answers from the MIDX chain first,
 * tip layer down to the root: each layer searches its fanout bucket (in place in
 * the file's bytes until lookups keep coming, then in its loaded tables) and
 * gives a pack-int-id and an offset. Packs no layer names come next, the one that
 * answered last first. The pack (pack/pack.ts) then reads exactly the bytes of
 * that entry, walks its delta chain down to a base (its own delta-base cache,
 * per pack, under one byte budget for the database), and applies the deltas on
 * the way up; a REF_DELTA base in another pack is read through this database
 * again, with the depth carried by the read. If the MIDX pointed at a pack that
 * is gone, or at an offset its pack's own index disagrees with, the read falls
 * back to that index and to the unindexed packs, with a warning. Then loose
 * objects, then each alternate in turn. Only when every source missed does the
 * backend look at the disk again (a stat stamp first, the full check when it
 * changed: odb/pack.ts) and the lookup run once more; then NotFoundError, or the
 * CorruptError of a pack index that could not be read.
 *
 * How a write goes. `writeMidx()` (odb/write.ts) checks its options into a job
 * (odb/write-job.ts); loads the current MIDX or chain, trusting it only with a
 * good checksum (odb/write-state.ts); makes a plan (odb/write-plan.ts,
 * the spec's steps 4.3-4.9: packs, "up to date", preferred pack, selection,
 * bytes, and with `bitmap` the .rev and .bitmap); takes the lock, checks the MIDX
 * did not change meanwhile (planning again if it did), writes a temporary file
 * and renames it into place, commits the chain file through its lock, clears
 * what git clears (the files, temporaries and locks: odb/write-files.ts), and refreshes the backend so the new layer serves at once.
 * expire, repack and maintain (odb/expire.ts, repack.ts, maintain.ts) are plans
 * of their own over the same protocol: new files first, then the chain, and
 * only then deletions of what no chain names.
 */

import { configBool, type GitConfig } from '../config.js';
import { AmbiguousError, CorruptError, InvalidArgumentError, NotFoundError } from '../errors.js';
import type { Fs } from '../io/fs.js';
import { join, normalizePath } from '../io/fs.js';
import type { MidxWarning } from '../midx/chain.js';
import { compareOid, fromHex, type HashInfo, isHex, parseOid, toHex } from '../oid.js';
import { toGitObject, TYPE_NAMES } from '../pack/entry.js';
import { DeltaBaseCache } from '../pack/cache.js';
import { WindowBudget } from '../pack/window.js';
import type { Pack, PackContext, RawObject } from '../pack/pack.js';
import type { GitObject, ObjectHeader, ObjectLocation, OdbStats, OdbWarning } from '../types.js';
import type { Codec } from '../zlib/index.js';
import type { DeflatedObject, ParsedObject, RawObject as RawResult, ReadObjectFormat, ReadObjectResult, WrappedObject } from '../object/shapes.js';
import { AbortGate, progressWith } from '../progress.js';
import { readAlternates } from './alternates.js';
import { LooseBackend } from './loose.js';
import { type Located, PackBackend } from './pack.js';
import { errorCode } from '../util.js';
import type { Odb } from './api.js';
import { readObject } from './read-object.js';
import type { WriterContext } from './write-job.js';

export interface OdbInit {
  fs: Fs;
  gitdir: string;
  /** default `<gitdir>/objects` */
  objectsDir?: string;
  hash: HashInfo;
  codec: Codec;
  config: GitConfig;
  onWarning?: (w: OdbWarning) => void;
  deltaBaseCacheBytes?: number;
  packWindowBytes?: number;
  missRecheckMs?: number;
  /** re-hash every object read and refuse one whose bytes do not hash to its id */
  verifyReads?: boolean;
}

/** Nested REF_DELTA resolutions across packs, within one read, before the chain is called cyclic. */
const MAX_EXTERNAL_DEPTH = 1000;

/** What a lookup does with a pack entry, or else with the loose store. */
interface StoreOp<T> {
  /** `depth`: REF_DELTA bases this read already resolved in other packs */
  pack(l: Located, depth: number): Promise<T>;
  loose(loose: LooseBackend, hex: string): Promise<T | null>;
  /** whole objects, re-hashed when the database verifies reads */
  readonly objects: boolean;
}

const READ: StoreOp<RawObject> = { pack: (l, depth) => l.pack.read(l.offset, depth), loose: (loose, hex) => loose.read(hex), objects: true };
const READ_HEADER: StoreOp<{ type: number; size: number }> = {
  pack: (l, depth) => l.pack.readHeader(l.offset, depth),
  loose: (loose, hex) => loose.readHeader(hex),
  objects: false,
};

/** An object directory: its packs and its loose objects. */
interface ObjectStore {
  readonly objectsDir: string;
  readonly packBackend: PackBackend;
  readonly loose: LooseBackend;
}

/**
 * What the package's own modules use of a database beside its public interface
 * (odb/api.ts): reached through internalsOf, never through the Odb type.
 */
export interface OdbInternals extends WriterContext {
  /** the database these are the internals of */
  readonly odb: Odb;
  /** the delta-base cache shared by every pack of the database */
  readonly cache: DeltaBaseCache;
  /** the pack windows' byte budget, shared by every pack of the database */
  readonly windows: WindowBudget;
  /** the repository's own packs (MIDX chain, then unindexed packs) */
  readonly packBackend: PackBackend;
  /** the repository's own loose objects */
  readonly loose: LooseBackend;
  /** an object id given by a caller, as bytes (InvalidArgumentError when malformed or the database is closed) */
  parseOid(oid: string): Uint8Array;
  /** `obj`, or with verifyReads a CorruptError naming `file` unless it hashes to `oid` */
  verified(obj: RawObject, oid: Uint8Array, file: string): RawObject;
  /** the object from the repository's own packs (MIDX, then unindexed; with read's fallbacks), verified, and the pack it came from */
  readOwnPacked(oid: Uint8Array): Promise<{ obj: RawObject; pack: Pack } | null>;
  /** after a miss: loose listings forgotten, packs re-checked; true when something changed */
  refreshOnMiss(): Promise<boolean>;
  /** the error for an object no source has (NotFoundError, or the CorruptError of an unreadable pack index) */
  missing(hex: string): Error;
  /** InvalidArgumentError once the database is closed */
  checkOpen(): void;
}

/** The internals of a database openOdb opened; TypeError for anything else. */
export function internalsOf(odb: Odb): OdbInternals {
  const inner = (odb as { [INTERNALS]?: OdbInternals } | null | undefined)?.[INTERNALS];
  if (!inner) throw new TypeError('not an object database opened by openOdb');
  return inner;
}

/**
 * Where a database keeps its internals for internalsOf: a registered symbol,
 * so that two copies of the package in one program (the Node bundle and the
 * browser build, say) still recognise each other's databases.
 */
const INTERNALS = Symbol.for('midx-odb.internals');

/** pack windows kept at most by default: 2,048 windows of 4 KiB (measured: 32 MiB reads no faster on any corpus of bench/) */
const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024;

function toHeader(h: { type: number; size: number }): ObjectHeader {
  return { type: TYPE_NAMES[h.type] as ObjectHeader['type'], size: h.size };
}

const readNow = (pack: Pack, offset: number) => pack.readNow(offset);
const readHeaderNow = (pack: Pack, offset: number) => pack.readHeaderNow(offset);

/** The database openOdb returns. Its internals are private fields; the package's modules reach them through internalsOf. */
export class ObjectDatabase implements Odb {
  readonly #fs: Fs;
  readonly gitdir: string;
  readonly objectsDir: string;
  readonly packDir: string;
  readonly hash: HashInfo;
  readonly #codec: Codec;
  readonly config: GitConfig;
  readonly #cache: DeltaBaseCache;
  /** the pack windows' byte budget, shared by every pack of this database */
  readonly #windows: WindowBudget;
  readonly #packBackend: PackBackend;
  readonly #loose: LooseBackend;
  readonly #warnFn: (w: OdbWarning) => void;
  readonly #packContext: PackContext;
  /** the object directories of objects/info/alternates (recursively), read on the first miss */
  #alternates: Promise<ObjectStore[]> | null = null;
  readonly #missRecheckMs: number;
  #closed = false;
  readonly verifyReads: boolean;
  /** this repository's own store: the first that lookups ask (alternates come after) */
  readonly #own: ObjectStore;
  readonly #internals: OdbInternals;

  /** InvalidArgumentError once close() was called: every call but close() itself rejects */
  #checkOpen(): void {
    if (this.#closed) throw new InvalidArgumentError('the object database is closed');
  }

  constructor(init: OdbInit) {
    this.#fs = init.fs;
    this.gitdir = init.gitdir;
    this.objectsDir = init.objectsDir ? normalizePath(init.objectsDir) || '.' : join(init.gitdir, 'objects');
    this.packDir = join(this.objectsDir, 'pack');
    this.hash = init.hash;
    this.#oidScratch = new Uint8Array(init.hash.rawLength);
    this.#codec = init.codec;
    this.config = init.config;
    this.#cache = new DeltaBaseCache(init.deltaBaseCacheBytes ?? 96 * 1024 * 1024);
    this.#windows = new WindowBudget(init.packWindowBytes ?? DEFAULT_WINDOW_BYTES);
    this.#warnFn = init.onWarning ?? (() => {});
    this.verifyReads = init.verifyReads ?? false;
    const ctx: PackContext = {
      fs: this.#fs,
      codec: this.#codec,
      hash: this.hash,
      cache: this.#cache,
      windows: this.#windows,
      resolveExternal: (oid, depth) => this.resolveExternal(oid, false, depth) as Promise<RawObject | null>,
      resolveExternalHeader: (oid, depth) => this.resolveExternal(oid, true, depth) as Promise<{ type: number; size: number } | null>,
    };
    this.#packContext = ctx;
    this.#packBackend = new PackBackend(this.#fs, this.packDir, ctx, this.hash, (w) => this.#warn(w), configBool(this.config, 'core.multiPackIndex', true));
    this.#missRecheckMs = init.missRecheckMs ?? 1;
    this.#packBackend.missRecheckMs = this.#missRecheckMs;
    this.#loose = new LooseBackend(this.#fs, this.objectsDir, this.#codec, this.hash);
    this.#own = { objectsDir: this.objectsDir, packBackend: this.#packBackend, loose: this.#loose };
    this.#internals = {
      odb: this,
      fs: this.#fs,
      gitdir: this.gitdir,
      packDir: this.packDir,
      hash: this.hash,
      codec: this.#codec,
      config: this.config,
      cache: this.#cache,
      windows: this.#windows,
      packBackend: this.#packBackend,
      loose: this.#loose,
      warn: (w) => this.#warn(w),
      // borrowed by the writer rather than opened again
      openLayers: () => this.#packBackend.layers,
      read: (oid) => this.read(oid),
      readHeader: (oid) => this.readHeader(oid),
      refresh: () => this.refresh(),
      parseOid: (oid) => this.oidBytes(oid),
      verified: (obj, oid, file) => this.verified(obj, oid, file),
      readOwnPacked: (oid) => this.readOwnPacked(oid),
      refreshOnMiss: () => this.refreshOnMiss(),
      missing: (hex) => this.missing(hex),
      checkOpen: () => this.#checkOpen(),
    };
    Object.defineProperty(this, INTERNALS, { value: this.#internals });
  }

  /** The alternate object stores (alternates.ts says how they are read), opened on the first miss. */
  private alternateStores(): Promise<ObjectStore[]> {
    if (!this.#alternates) {
      this.#alternates = (async () => {
        const dirs = await readAlternates(this.#fs, this.objectsDir, (w) => this.#warn(w));
        const stores = dirs.map((dir) => {
          const packBackend = new PackBackend(this.#fs, join(dir, 'pack'), this.#packContext, this.hash, (w) => this.#warn(w), configBool(this.config, 'core.multiPackIndex', true));
          packBackend.missRecheckMs = this.#missRecheckMs;
          return { objectsDir: dir, packBackend, loose: new LooseBackend(this.#fs, dir, this.#codec, this.hash) };
        });
        this.#loadedAlternates = stores;
        this.#alternatesRead = true;
        return stores;
      })();
    }
    return this.#alternates;
  }

  /** the alternates already read (none before the first miss) */
  #loadedAlternates: ObjectStore[] = [];
  /** the hot path's parsed object id (see locateNow) */
  readonly #oidScratch: Uint8Array<ArrayBuffer>;
  /** whether loadedAlternates holds them all (objects/info/alternates was read) */
  #alternatesRead = false;

  /** This repository's own store, then its alternates (read on demand). */
  private async *stores(): AsyncGenerator<ObjectStore> {
    yield this.#own;
    for (const alt of await this.alternateStores()) yield alt;
  }

  warn(w: OdbWarning): void {
    this.#warn(w);
  }

  #warn(w: MidxWarning | OdbWarning): void {
    try {
      this.#warnFn({ file: w.file, reason: w.reason });
    } catch {
      // a throwing callback must not break reads
    }
  }

  /** A REF_DELTA base outside the pack that needs it; `depth` counts such bases within the one read that asks. */
  private resolveExternal(oid: Uint8Array, headerOnly: boolean, depth: number): Promise<RawObject | { type: number; size: number } | null> {
    if (depth > MAX_EXTERNAL_DEPTH) {
      return Promise.reject(new CorruptError(this.packDir, `REF_DELTA bases nest deeper than ${MAX_EXTERNAL_DEPTH} packs (cyclic?)`));
    }
    return headerOnly ? this.readRawHeader(oid, toHex(oid), depth) : this.readRaw(oid, toHex(oid), depth);
  }

  /** With verifyReads: CorruptError (naming `file`) unless the object hashes to `oid`. */
  private verified(obj: RawObject, oid: Uint8Array, file: string): RawObject {
    if (!this.verifyReads) return obj;
    const h = this.#codec.hasher(this.hash.algorithm);
    h.update(new TextEncoder().encode(`${TYPE_NAMES[obj.type]} ${obj.data.length}\0`));
    h.update(obj.data);
    const digest = h.digest();
    if (compareOid(digest, 0, oid, 0, this.hash.rawLength) !== 0) {
      throw new CorruptError(file, `object ${toHex(oid)} hashes to ${toHex(digest)} (${TYPE_NAMES[obj.type]}, ${obj.data.length} bytes read)`);
    }
    return obj;
  }

  private oidBytes(oid: string): Uint8Array {
    this.#checkOpen();
    return parseOid(typeof oid === 'string' ? oid.toLowerCase() : oid, this.hash);
  }

  /**
   * Reads through a located pack entry; when the MIDX pointed at a pack that
   * cannot be opened or an offset that holds no entry, falls back to the
   * pack's own index and to the unindexed packs, with a warning.
   */
  private async viaPack<T>(oid: Uint8Array, loc: Located, op: (l: Located) => Promise<T>, backend: PackBackend = this.#packBackend): Promise<T | null> {
    try {
      return await op(loc);
    } catch (err) {
      const code = errorCode(err);
      const packGone = code === 'ENOENT';
      if (!packGone && !(err instanceof CorruptError)) throw err;
      // is the MIDX offset wrong (a corrupt MIDX) while the pack itself is fine?
      if (!packGone) {
        const idx = await loc.pack.loadIndex().catch(() => null);
        const pos = idx ? idx.find(oid) : -1;
        if (pos < 0 || idx!.offsetAt(pos) === loc.offset) throw err;
        this.#warn({ file: loc.pack.idxPath, reason: `multi-pack-index offset ${loc.offset} for ${toHex(oid)} disagrees with the pack index (${idx!.offsetAt(pos)})` });
        return op({ pack: loc.pack, offset: idx!.offsetAt(pos) });
      }
      this.#warn({ file: loc.pack.packPath, reason: `failed to open pack: ${(err as Error).message}` });
      const other = await backend.locateOutsideMidx(oid);
      return other ? op(other) : null;
    }
  }

  /** packs, then loose objects, of this repository, then of each alternate (a plain call on the hot path) */
  private async lookup<T>(oid: Uint8Array, hex: string, op: StoreOp<T>, depth: number): Promise<T | null> {
    const own = await this.lookupIn(this.#own, oid, hex, op, depth);
    if (own) return own;
    for (const alt of await this.alternateStores()) {
      const found = await this.lookupIn(alt, oid, hex, op, depth);
      if (found) return found;
    }
    return null;
  }

  private async lookupIn<T>(store: ObjectStore, oid: Uint8Array, hex: string, op: StoreOp<T>, depth: number): Promise<T | null> {
    const check = this.verifyReads && op.objects;
    const loc = await store.packBackend.locate(oid);
    if (loc) {
      let file = loc.pack.packPath;
      const found = await this.viaPack(
        oid,
        loc,
        (l) => {
          file = l.pack.packPath;
          return op.pack(l, depth);
        },
        store.packBackend,
      );
      if (found) return check ? (this.verified(found as unknown as RawObject, oid, file) as unknown as T) : found;
    }
    const found = await op.loose(store.loose, hex);
    return found && check ? (this.verified(found as unknown as RawObject, oid, store.loose.pathOf(hex)) as unknown as T) : found;
  }

  private readRaw(oid: Uint8Array, hex: string, depth = 0): Promise<RawObject | null> {
    return this.lookup(oid, hex, READ, depth);
  }

  private readRawHeader(oid: Uint8Array, hex: string, depth = 0): Promise<{ type: number; size: number } | null> {
    return this.lookup(oid, hex, READ_HEADER, depth);
  }

  /**
   * The error for an object no source has: NotFoundError, unless a pack index
   * could not be read, in which case the object may well be in that pack and
   * the honest answer is the CorruptError naming it.
   */
  private missing(hex: string): Error {
    const broken = this.#packBackend.broken.values().next();
    if (!broken.done) return broken.value;
    for (const alt of this.#loadedAlternates) {
      const b = alt.packBackend.broken.values().next();
      if (!b.done) return b.value;
    }
    return new NotFoundError(hex);
  }

  /**
   * The hot path of read, readHeader and exists: the pack entry of `oid` when
   * loaded tables answer at once (no promise, no I/O), else undefined and the
   * full path (loose objects, alternates, fallbacks, refresh on a miss) runs.
   * Reads that verify take the full path.
   */
  private locateNow(oid: string): Located | null | undefined {
    if (this.#closed || typeof oid !== 'string' || oid.length !== this.hash.hexLength) return undefined;
    // parsed into a buffer of this database's: locateNow keeps no reference to it
    const bytes = this.#oidScratch;
    try {
      fromHex(oid, bytes);
    } catch {
      return undefined;
    }
    return this.#packBackend.locateNow(bytes);
  }

  /**
   * The hot path of read and readHeader: `step` at the entry locateNow finds,
   * shaped; with no entry, or on any failure of the step, `full` (the path
   * with fallbacks, warnings and the refresh on a miss).
   */
  private viaHotPath<R, T>(oid: string, loc: Located | null | undefined, step: (pack: Pack, offset: number) => R | Promise<R>, shape: (r: R) => T, full: (oid: string) => Promise<T>): Promise<T> {
    if (loc) {
      try {
        const r = step(loc.pack, loc.offset);
        if (!(r instanceof Promise)) return Promise.resolve(shape(r));
        return r.then(shape, () => full.call(this, oid));
      } catch {
        // as a rejected step: the full path
      }
    }
    return full.call(this, oid);
  }

  read(oid: string): Promise<GitObject> {
    return this.viaHotPath(oid, this.verifyReads ? undefined : this.locateNow(oid), readNow, toGitObject, this.readFull);
  }

  private async readFull(oid: string): Promise<GitObject> {
    const bytes = this.oidBytes(oid);
    const hex = oid.toLowerCase();
    let obj = await this.readRaw(bytes, hex);
    if (!obj && (await this.refreshPacks())) obj = await this.readRaw(bytes, hex);
    if (!obj) throw this.missing(hex);
    return toGitObject(obj);
  }

  readHeader(oid: string): Promise<ObjectHeader> {
    return this.viaHotPath(oid, this.locateNow(oid), readHeaderNow, toHeader, this.readHeaderFull);
  }

  private async readHeaderFull(oid: string): Promise<ObjectHeader> {
    const bytes = this.oidBytes(oid);
    const hex = oid.toLowerCase();
    let h = await this.readRawHeader(bytes, hex);
    if (!h && (await this.refreshPacks())) h = await this.readRawHeader(bytes, hex);
    if (!h) throw this.missing(hex);
    return toHeader(h);
  }

  exists(oid: string): Promise<boolean> {
    const loc = this.locateNow(oid);
    if (loc) return Promise.resolve(true);
    if (loc === null && this.absentNow(oid)) return Promise.resolve(false);
    return this.existsFull(oid);
  }

  /**
   * A miss that exists() answers with no promise: no table lists the object
   * (the caller's locateNow), no loose file (a synchronous stat), no
   * alternates, and the pack directory's stamp unchanged or checked this turn
   * (the coalescing of refreshOnMiss). Anything else takes the full path.
   */
  private absentNow(oid: string): boolean {
    return this.#alternatesRead && this.#loadedAlternates.length === 0 && this.#loose.missingNow(oid.toLowerCase()) && this.#packBackend.refreshOnMissNow() === false;
  }

  private async existsFull(oid: string): Promise<boolean> {
    const bytes = this.oidBytes(oid);
    const hex = oid.toLowerCase();
    if (await this.#packBackend.locate(bytes)) return true;
    if (await this.#loose.exists(hex)) return true;
    for (const alt of await this.alternateStores()) {
      if (await alt.packBackend.locate(bytes)) return true;
      if (await alt.loose.exists(hex)) return true;
    }
    if (await this.refreshPacks()) return !!(await this.findPacked(bytes));
    return false;
  }

  async locate(oid: string): Promise<ObjectLocation | null> {
    const bytes = this.oidBytes(oid);
    const hex = oid.toLowerCase();
    const find = async (): Promise<ObjectLocation | null> => {
      for await (const store of this.stores()) {
        const alternate = store === this.#own ? {} : { alternate: store.objectsDir };
        const loc = await store.packBackend.locate(bytes);
        if (loc) {
          const layer = store.packBackend.layerOf(loc.pack);
          return { source: layer ? 'midx' : 'pack', pack: loc.pack.name, offset: loc.offset, layer: layer?.checksumHex, ...alternate };
        }
        if (await store.loose.exists(hex)) return { source: 'loose', file: store.loose.pathOf(hex), ...alternate };
      }
      return null;
    };
    const first = await find();
    if (first) return first;
    return (await this.refreshPacks()) ? find() : null;
  }

  /**
   * Every sorted OID table of every store: the MIDX layers' and the unindexed
   * packs' (PackBackend.loadAll loads them; an index that fails is warned of
   * once and skipped). Entry i's id is at table[first + i * stride].
   */
  private async *oidTables(): AsyncGenerator<{ table: Uint8Array; first: number; stride: number; count: number; lowerBound(prefix: Uint8Array, len: number): number }> {
    const H = this.hash.rawLength;
    for await (const store of this.stores()) {
      await store.packBackend.loadAll();
      for (const layer of store.packBackend.layers) {
        if (layer.numObjects) yield { table: layer.oidTable, first: 0, stride: H, count: layer.numObjects, lowerBound: (p, len) => layer.lowerBound(p, len) };
      }
      for (const pack of store.packBackend.packs) {
        const idx = pack.loadedIndex;
        if (idx && idx.count) yield { table: idx.data, first: idx.oidPos(0), stride: idx.oidPos(1) - idx.oidPos(0), count: idx.count, lowerBound: (p, len) => idx.lowerBound(p, len) };
      }
    }
  }

  async *listOids(): AsyncGenerator<string> {
    this.#checkOpen();
    await this.#packBackend.ready();
    const H = this.hash.rawLength;
    // k-way merge over sorted sources: layers' OID tables, unindexed packs' indexes, loose ids
    interface Source {
      table: Uint8Array;
      pos: number;
      stride: number;
      at: number;
      count: number;
      i: number;
    }
    const sources: Source[] = [];
    for await (const t of this.oidTables()) sources.push({ table: t.table, pos: t.first, stride: t.stride, at: t.first, count: t.count, i: 0 });
    const looseIds: string[] = [];
    for await (const store of this.stores()) for await (const id of store.loose.list()) looseIds.push(id);
    if (looseIds.length) {
      const t = new Uint8Array(looseIds.length * H);
      looseIds.sort().forEach((id, i) => fromHex(id, t, i * H));
      sources.push({ table: t, pos: 0, stride: H, at: 0, count: looseIds.length, i: 0 });
    }
    const heap: Source[] = sources.slice();
    const less = (a: Source, b: Source) => compareOid(a.table, a.at, b.table, b.at, H) < 0;
    const down = (i: number) => {
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && less(heap[l], heap[m])) m = l;
        if (r < heap.length && less(heap[r], heap[m])) m = r;
        if (m === i) return;
        [heap[i], heap[m]] = [heap[m], heap[i]];
        i = m;
      }
    };
    for (let i = (heap.length >> 1) - 1; i >= 0; i--) down(i);
    const last = new Uint8Array(H);
    let any = false;
    while (heap.length) {
      const s = heap[0];
      if (!any || compareOid(s.table, s.at, last, 0, H) !== 0) {
        last.set(s.table.subarray(s.at, s.at + H));
        any = true;
        yield toHex(last);
      }
      if (++s.i < s.count) s.at = s.pos + s.i * s.stride;
      else {
        heap[0] = heap[heap.length - 1];
        heap.pop();
      }
      if (heap.length) down(0);
    }
  }

  async expandOid(prefix: string): Promise<string> {
    this.#checkOpen();
    if (typeof prefix !== 'string' || prefix.length < 4 || prefix.length > this.hash.hexLength || !isHex(prefix)) {
      throw new InvalidArgumentError(`not an object id prefix (4 to ${this.hash.hexLength} hex digits): ${String(prefix)}`);
    }
    const p = prefix.toLowerCase();
    let found = await this.matches(p);
    if (found.size === 0) {
      await this.refreshOnMiss();
      found = await this.matches(p);
    }
    if (found.size === 0) throw new NotFoundError(p, 'short object id');
    if (found.size > 1) throw new AmbiguousError(p, [...found].sort());
    return [...found][0];
  }

  private async matches(p: string): Promise<Set<string>> {
    await this.#packBackend.ready();
    const H = this.hash.rawLength;
    const whole = p.length >> 1;
    const bytes = fromHex(p.slice(0, whole * 2));
    const odd = p.length & 1 ? parseInt(p[p.length - 1], 16) : -1;
    const found = new Set<string>();
    const scan = (table: Uint8Array, first: number, count: number, posOf: (i: number) => number) => {
      for (let i = first; i < count; i++) {
        const at = posOf(i);
        if (compareOid(table, at, bytes, 0, whole) !== 0) break;
        if (odd >= 0 && table[at + whole] >> 4 !== odd) {
          if (table[at + whole] >> 4 > odd) break;
          continue;
        }
        found.add(toHex(table, at, H));
      }
    };
    for await (const t of this.oidTables()) scan(t.table, t.lowerBound(bytes, whole), t.count, (i) => t.first + i * t.stride);
    for await (const store of this.stores()) for (const id of await store.loose.matching(p)) found.add(id);
    return found;
  }

  async stats(): Promise<OdbStats> {
    this.#checkOpen();
    await this.#packBackend.refresh();
    const b = this.#packBackend;
    let packObjects = 0;
    for (const pack of b.packs) {
      try {
        packObjects += (await pack.loadIndex()).count;
      } catch {
        // counted as empty; the warning comes when it is read
      }
    }
    let looseObjects = 0;
    for await (const _ of this.#loose.list()) looseObjects++;
    return {
      objectFormat: this.hash.algorithm,
      zlib: this.#codec.native ? 'node' : 'javascript',
      layers: b.layers.map((l) => ({ checksum: l.checksumHex, version: l.version, packs: [...l.packNames], objects: l.numObjects, file: l.file })),
      midxPacks: b.midxPacks.map((p) => p.name),
      unindexedPacks: b.packs.map((p) => p.name),
      midxObjects: b.layers.reduce((n, l) => n + l.numObjects, 0),
      unindexedObjects: packObjects,
      packs: b.packs.map((p) => p.name),
      packObjects,
      looseObjects,
      alternates: (await this.alternateStores()).map((a) => a.objectsDir),
    };
  }

  async refresh(): Promise<boolean> {
    this.#checkOpen();
    this.#loose.forgetListings();
    for (const alt of this.#loadedAlternates) alt.loose.forgetListings();
    let changed = await this.#packBackend.refresh();
    for (const alt of this.#loadedAlternates) if (await alt.packBackend.refresh()) changed = true;
    return changed;
  }

  /**
   * After a miss: refreshes this repository's packs and those of the alternates
   * read so far, each skipped when its stat stamp shows nothing changed
   * (PackBackend.refreshOnMiss).
   */
  private async refreshPacks(): Promise<boolean> {
    let changed = await this.#packBackend.refreshOnMiss();
    for (const alt of this.#loadedAlternates) if (await alt.packBackend.refreshOnMiss()) changed = true;
    return changed;
  }

  /** refresh() for a miss: loose listings forgotten, packs re-checked through their stamps. */
  private refreshOnMiss(): Promise<boolean> {
    this.#loose.forgetListings();
    for (const alt of this.#loadedAlternates) alt.loose.forgetListings();
    return this.refreshPacks();
  }

  private async readOwnPacked(oid: Uint8Array): Promise<{ obj: RawObject; pack: Pack } | null> {
    const loc = await this.#packBackend.locate(oid);
    if (!loc) return null;
    let used = loc.pack;
    const read = await this.viaPack(oid, loc, (l) => {
      used = l.pack;
      return l.pack.read(l.offset);
    });
    return read ? { obj: this.verified(read, oid, used.packPath), pack: used } : null;
  }

  /** The pack entry of an object in this repository or an alternate. */
  private async findPacked(oid: Uint8Array): Promise<Located | null> {
    for await (const store of this.stores()) {
      const loc = await store.packBackend.locate(oid);
      if (loc) return loc;
    }
    return null;
  }

  async close(): Promise<void> {
    this.#closed = true;
    await this.#packBackend.close();
    for (const alt of this.#loadedAlternates) await alt.packBackend.close();
    this.#cache.clear();
  }

  // --- verify (src/midx/verify.ts) ---
  async verifyMidx(options?: import('../types.js').VerifyOptions): Promise<import('../types.js').VerifyResult> {
    this.#checkOpen();
    const { verifyMidx } = await import('../midx/verify.js');
    // the database's pack context, but verify reads no object
    const packContext: PackContext = { ...this.#packContext, resolveExternal: async () => null, resolveExternalHeader: async () => null };
    const gate = new AbortGate(options?.signal);
    gate.check();
    return verifyMidx({ fs: this.#fs, packDir: this.packDir, hash: this.hash, codec: this.#codec, packContext }, { ...options, progress: progressWith(options ?? {}, gate) });
  }
  // --- end verify ---

  // --- writing (src/odb/write.ts) ---
  async writeMidx(options?: import('../types.js').WriteMidxOptions): Promise<string | null> {
    this.#checkOpen();
    const { writeMidx } = await import('./write.js');
    return writeMidx(this.#internals, options);
  }

  async compactMidx(options: import('../types.js').CompactMidxOptions): Promise<string | null> {
    this.#checkOpen();
    const { compactMidx } = await import('./write.js');
    return compactMidx(this.#internals, options);
  }
  async expireMidx(options?: import('../types.js').ExpireMidxOptions): Promise<import('../types.js').ExpireMidxResult> {
    this.#checkOpen();
    const { expireMidx } = await import('./expire.js');
    return expireMidx(this.#internals, options);
  }
  async repackMidx(options?: import('../types.js').RepackMidxOptions): Promise<import('../types.js').RepackMidxResult> {
    this.#checkOpen();
    const { repackMidx } = await import('./repack.js');
    return repackMidx(this.#internals, options);
  }
  async maintain(options?: import('../types.js').MaintainOptions): Promise<import('../types.js').MaintainResult> {
    this.#checkOpen();
    const { maintain } = await import('./maintain.js');
    return maintain(this.#internals, options);
  }
  // --- end writing ---

  // --- reachability (src/odb/reach.ts) ---
  #reachability: import('./reach.js').Reachability | null = null;

  private async reach(): Promise<import('./reach.js').Reachability> {
    this.#checkOpen();
    if (!this.#reachability) {
      const { Reachability } = await import('./reach.js');
      this.#reachability = new Reachability(this.#internals);
    }
    return this.#reachability;
  }

  async reachableObjects(options: import('./reach.js').ReachOptions): Promise<string[]> {
    return (await this.reach()).reachableObjects(options);
  }

  async countObjects(options: import('./reach.js').ReachOptions): Promise<import('./reach.js').ObjectCounts> {
    return (await this.reach()).countObjects(options);
  }
  // --- end reachability ---

  // --- isomorphic-git's readObject (shapes in src/object/ts) ---

  readObject(args: { oid: string; format?: 'parsed' }): Promise<ParsedObject>;
  readObject(args: { oid: string; format: 'content' }): Promise<RawResult>;
  readObject(args: { oid: string; format: 'wrapped' }): Promise<WrappedObject | RawResult>;
  readObject(args: { oid: string; format: 'deflated' }): Promise<DeflatedObject | WrappedObject | RawResult>;
  readObject(args: { oid: string; format?: ReadObjectFormat }): Promise<ReadObjectResult>;
  async readObject(args: { oid: string; format?: ReadObjectFormat }): Promise<ReadObjectResult> {
    return readObject(this.#internals, args);
  }

  // --- end readObject ---

  // --- the loaded tables, synchronously (createIsogitCache's read surface) ---
  async loadPackIndexes(): Promise<void> {
    this.#checkOpen();
    await this.#packBackend.loadAll();
  }

  findLoaded(oid: string): string | null {
    if (this.#closed) return null;
    let bytes: Uint8Array;
    try {
      bytes = parseOid(oid.toLowerCase(), this.hash);
    } catch {
      return null;
    }
    return this.#packBackend.locateLoaded(bytes)?.pack.name ?? null;
  }

  get packListing(): object {
    return this.#packBackend.packs;
  }

  packState(name: string): 'served' | 'broken' | 'unknown' {
    if (this.#closed) return 'unknown';
    const b = this.#packBackend;
    const pack = b.packNamed(name);
    if (!pack) return 'unknown';
    if (b.broken.has(pack)) return 'broken';
    return b.isLoaded(pack) ? 'served' : 'unknown';
  }

  *oidsOfPack(name: string): Generator<string> {
    if (this.#closed) return;
    for (const oid of this.#packBackend.oidsOfPack(name)) yield toHex(oid);
  }
  // --- end loaded tables ---
}
