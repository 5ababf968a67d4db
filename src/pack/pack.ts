/**
 * One pack: its .idx, read whole on first use of a lookup or of the entries'
 * exact ends (opening checks only its head and tail), and its .pack, read at
 * positions. An entry's bytes run from its offset to the next entry's offset
 * in pack order; until the pack's offsets are sorted, an entry is read to a
 * bound its header gives instead, so one positional read still fetches what an
 * object needs.
 */

import { CorruptError } from '../errors.js';
import type { Fs, RandomAccessFile } from '../io/fs.js';
import { join } from '../io/fs.js';
import type { HashInfo } from '../oid.js';
import { compareOid, toHex } from '../oid.js';
import type { Codec, OutputRegion } from '../zlib/index.js';
import { literalPrefix } from '../zlib/prefix.js';
import type { CachedObject, DeltaBaseCache, PackCache } from './cache.js';
import { applyDeltaInto, checkedResultSize, deltaResultSize } from './delta.js';
import { type EntryHeader, OBJ_OFS_DELTA, OBJ_REF_DELTA, parseEntryHeader } from './entry.js';
import { type PackIndex, type PackIndexHead, readPackIndex, readPackIndexHead } from './idx.js';
import { type FileWindows, WINDOW_SIZE, type WindowBudget } from './window.js';
import { clock, HeaderTable, scanCost, tableWorthIt, WALK_COST_WINDOW } from './header-table.js';
import { isReady } from '../util.js';


/** A resolved object: type 1..4 and content. */
export type RawObject = CachedObject;

export interface PackContext {
  readonly fs: Fs;
  readonly codec: Codec;
  readonly hash: HashInfo;
  /** the byte budget this pack's delta-base cache draws on (shared by the packs of one database) */
  readonly cache: DeltaBaseCache;
  /** the byte budget this pack's windows draw on (shared by the packs of one database) */
  readonly windows: WindowBudget;
  /**
   * A REF_DELTA base that is not in this pack (thin packs; another pack or a
   * loose object). `depth` is how many such bases this one read has resolved,
   * this one included: the caller refuses to go on past its limit.
   */
  resolveExternal(oid: Uint8Array, depth: number): Promise<RawObject | null>;
  resolveExternalHeader(oid: Uint8Array, depth: number): Promise<{ type: number; size: number } | null>;
}

/** Longest delta chain followed before the pack is called corrupt (git's default depth is 50; aggressive repacks use 250). */
const MAX_CHAIN = 10000;
/** An entry header's longest form: a size varint of a 64-bit size and an offset varint (10 bytes each), or a size varint and a base id */
const ENTRY_HEADER_MAX = 20;
/** Bytes read to parse an entry header (and the start of a delta) without reading the entry. */
const HEADER_PROBE = 256;

/** a delta's first bytes, decoded by a header walk (read at once by deltaResultSize, before anything waits) */
const sizeScratch = new Uint8Array(32);

/**
 * The compressed length an entry that inflates to `size` bytes has at most as
 * zlib writes it (stored blocks where deflating would grow the data: 5 bytes a
 * block), with room for encoders that spend 9 bits on a literal. An encoder may
 * legally do worse: such an entry fails to inflate from a read this long and is
 * read again to its exact end.
 */
function compressedBound(size: number): number {
  return size + Math.floor(size / 8) + 64;
}

/**
 * Longest entry read to a bound rather than to its exact end: past this, the
 * bytes read beyond a well-compressed entry would cost more than sorting the
 * pack's offsets once.
 */
const BOUNDED_READ_MAX = 1 << 20;

/**
 * The deltas one read inflates on its way down a chain: one buffer for the
 * process, filled front to back by the read that holds it and free again when
 * that read returns (deltas are applied before it does). A chain of 50 levels
 * then costs no new buffer per delta: the allocations, not the inflation, were
 * what the garbage collector paid for. A read that finds it held (another read
 * waits on I/O with its deltas in it) allocates as before.
 */
const deltaArena = { buffer: new Uint8Array(0), used: 0, held: false };
/** deltas larger than this get a buffer of their own; the arena is kept up to ARENA_KEEP bytes */
const ARENA_ENTRY_MAX = 1 << 20;
const ARENA_KEEP = 4 << 20;

/** the one region handed out (only the arena's holder asks for one, and the codec keeps none) */
const region: OutputRegion = { buffer: deltaArena.buffer, at: 0 };

/** A region of the arena for a delta of `size` bytes (and its spare byte), or undefined for a buffer of its own. */
function arenaRegion(size: number): OutputRegion | undefined {
  if (size >= ARENA_ENTRY_MAX) return undefined;
  const a = deltaArena;
  if (a.used + size + 1 > a.buffer.length) {
    // the deltas already in the old buffer stay valid: they keep it alive until the read returns
    if (size + 1 > ARENA_KEEP) return undefined;
    a.buffer = new Uint8Array(Math.min(ARENA_KEEP, Math.max(64 * 1024, 2 * a.buffer.length, size + 1)));
    a.used = 0;
  }
  region.buffer = a.buffer;
  region.at = a.used;
  return region;
}

/** Inflated deltas held at once while a chain is walked down; past this, deltas are inflated again when applied. */
const HELD_DELTA_BYTES = 16 * 1024 * 1024;
/** zlib's largest output per input byte (a 258-byte match in two bits) */
export const MAX_ZLIB_RATIO = 1032;

/**
 * Intermediate results of a chain kept as bases: every CACHE_EVERY-th level from
 * the base, and the one under the top. A read that lands in a chain then applies
 * at most CACHE_EVERY - 1 deltas more than with every level kept, and a chain of
 * 50 copies 13 buffers instead of 49: allocation, not delta replay, was the cost.
 */
const CACHE_EVERY = 4;

/** two buffers reused for the intermediate results of delta chains */
const scratch: Uint8Array[] = [new Uint8Array(1 << 16), new Uint8Array(1 << 16)];

/** A scratch buffer of at least `size` bytes that is not `avoid`'s. Big results get a buffer of their own, kept no longer than the read. */
function scratchFor(size: number, avoid: Uint8Array): Uint8Array {
  const k = scratch[0].buffer === avoid.buffer ? 1 : 0;
  if (scratch[k].length >= size) return scratch[k];
  if (size > 1 << 22) return new Uint8Array(size);
  scratch[k] = new Uint8Array(Math.max(size, scratch[k].length * 2));
  return scratch[k];
}

/** the offset of the entry of `oid` in this pack (a REF_DELTA base), or -1 */
function offsetOf(idx: PackIndex, oid: Uint8Array): number {
  const pos = idx.find(oid);
  return pos >= 0 ? idx.offsetAt(pos) : -1;
}

function isScratch(b: Uint8Array): boolean {
  return b.buffer === scratch[0].buffer || b.buffer === scratch[1].buffer;
}

/**
 * A read as steps that wait only where they must: a generator that yields a
 * promise when it needs I/O that did not complete at once (opening the pack,
 * a read on a file without synchronous reads, a REF_DELTA base in another
 * pack) and is handed its value back. On synchronous files with the pack open
 * a read runs through without yielding, and costs no promise at all.
 */
type Steps<T> = Generator<Promise<unknown>, T, unknown>;

/** Runs `g` at once while it does not wait; from its first wait on, as a promise. */
function runSteps<T>(g: Steps<T>): T | Promise<T> {
  const r = g.next();
  return r.done ? r.value : resume(g, r.value);
}

async function resume<T>(g: Steps<T>, wait: Promise<unknown>): Promise<T> {
  for (;;) {
    let value: unknown;
    let failure: { err: unknown } | null = null;
    try {
      value = await wait;
    } catch (err) {
      failure = { err };
    }
    const r = failure ? g.throw(failure.err) : g.next(value);
    if (r.done) return r.value;
    wait = r.value;
  }
}

/** `runSteps` as a promise, errors thrown at once included (making a generator runs none of its body). */
function stepsAsPromise<T>(g: Steps<T>): Promise<T> {
  try {
    const r = runSteps(g);
    return r instanceof Promise ? r : Promise.resolve(r);
  } catch (err) {
    return Promise.reject(err);
  }
}

export class Pack {
  readonly idxPath: string;
  readonly packPath: string;
  private index: PackIndex | null = null;
  private indexLoading: Promise<PackIndex> | null = null;
  /** the object count and pack checksum of the .idx, when the pack was opened before its index was read */
  private indexHead: PackIndexHead | null = null;
  private file: RandomAccessFile | null = null;
  private fileOpening: Promise<RandomAccessFile> | null = null;
  private packEnd = 0;
  private readonly cache: PackCache;
  private readonly windows: FileWindows;
  /** the header table, once header lookups have paid for it (header-table.ts) */
  private headerTable: HeaderTable | null = null;
  /** header walks in this pack; the milliseconds each took, on average over the last full window of them, and in the current one (header-table.ts) */
  private headerWalks = 0;
  private walkCost = 0;
  private windowMs = 0;
  /** whether a header table is being built, or will not be (the budget refused it, or its pass failed) */
  private tableState: 'none' | 'building' | 'refused' = 'none';

  constructor(
    private readonly ctx: PackContext,
    readonly packDir: string,
    /** the .idx basename, as a MIDX names it */
    readonly name: string,
  ) {
    this.idxPath = join(packDir, name);
    this.packPath = join(packDir, name.replace(/\.idx$/, '.pack'));
    this.cache = ctx.cache.forPack();
    this.windows = ctx.windows.forFile();
  }

  /** the index if it is loaded already */
  get loadedIndex(): PackIndex | null {
    return this.index;
  }

  loadIndex(): Promise<PackIndex> {
    if (this.index) return Promise.resolve(this.index);
    if (!this.indexLoading) {
      this.indexLoading = (async () => {
        this.index = await readPackIndex(this.ctx.fs, this.idxPath, this.ctx.hash);
        return this.index;
      })();
      this.indexLoading.catch(() => {
        this.indexLoading = null;
      });
    }
    return this.indexLoading;
  }

  /**
   * Opens the .pack and checks it against the .idx as git does (header, object
   * count, trailer). The index is read whole only if it is loaded already: else
   * its head and tail are enough (readPackIndexHead), and reads through a MIDX
   * may never need the rest.
   */
  open(): Promise<RandomAccessFile> {
    if (this.file) return Promise.resolve(this.file);
    if (!this.fileOpening) {
      this.fileOpening = (async () => {
        const idx = this.index ?? (this.indexHead ??= await readPackIndexHead(this.ctx.fs, this.idxPath, this.ctx.hash));
        const f = await this.ctx.fs.open(this.packPath);
        try {
          const H = this.ctx.hash.rawLength;
          const path = this.packPath;
          if (f.size < 12 + H) throw new CorruptError(path, 'file is far too short to be a packfile');
          const head = await f.read(0, 12);
          const dv = new DataView(head.buffer, head.byteOffset, 12);
          if (dv.getUint32(0) !== 0x5041434b) throw new CorruptError(path, 'file is not a GIT packfile');
          const version = dv.getUint32(4);
          if (version !== 2 && version !== 3) throw new CorruptError(path, `packfile is version ${version} and not supported`);
          const count = dv.getUint32(8);
          if (count !== idx.count) throw new CorruptError(path, `packfile claims to have ${count} objects while index indicates ${idx.count} objects`);
          const trailer = await f.read(f.size - H, H);
          if (compareOid(trailer, 0, idx.packChecksum, 0, H) !== 0) throw new CorruptError(path, 'packfile does not match index');
          this.packEnd = f.size - H;
          this.file = f;
          return f;
        } catch (err) {
          await f.close();
          throw err;
        }
      })();
      this.fileOpening.catch(() => {
        this.fileOpening = null;
      });
    }
    return this.fileOpening;
  }

  /** Where a REF_DELTA's base (its id, copied from the entry) starts in this pack; -1 when it is outside it (a thin pack's). */
  private *refBaseOffset(baseOid: Uint8Array): Steps<number> {
    return offsetOf(yield* this.index_(), baseOid);
  }

  /** The index, read if it is not yet. */
  private *index_(): Steps<PackIndex> {
    return this.index ?? ((yield this.loadIndex()) as PackIndex);
  }

  /**
   * How many bytes to read first of an entry whose end is not looked up: enough
   * for its header and a REF_DELTA's base id, and on to the end of its window
   * block (a read of 4 KiB costs what a short one does).
   */
  private firstReadLength(at: number): number {
    return Math.min(this.packEnd - at, Math.max(HEADER_PROBE + this.ctx.hash.rawLength, WINDOW_SIZE - (at % WINDOW_SIZE)));
  }

  /**
   * The data of an entry inflated from bytes that may run past its end into the
   * next entries, or null when they do not inflate to exactly `size` bytes (the
   * entry is longer than the bytes, or damaged: the caller reads it to its
   * exact end and inflates again, which names the damage). Native zlib stops at
   * the stream's end; the JavaScript codec takes the stream's checksum from the
   * end of its input, so it is given exact entries only.
   */
  private inflateBounded(compressed: Uint8Array, size: number, into?: OutputRegion): Uint8Array | null {
    if (!this.ctx.codec.native) return null;
    try {
      return this.ctx.codec.inflateExact(compressed, size, into);
    } catch {
      return null;
    }
  }

  /** Refuses an offset outside the pack's entries (bounds only: whether an entry starts there is entryEnd's check). */
  private checkOffset(offset: number): void {
    if (offset < 12 || offset >= this.packEnd) throw new CorruptError(this.packPath, `offset ${offset} is outside the pack's entries (12..${this.packEnd})`);
  }

  /** The byte range [offset, end) of the entry at `offset`, validated. */
  private entryEnd(idx: PackIndex, offset: number): number {
    this.checkOffset(offset);
    const end = idx.entryEnd(offset, this.packEnd);
    if (end < 0) throw new CorruptError(this.packPath, `no entry starts at offset ${offset}`);
    return end;
  }

  /**
   * zlib cannot inflate more than 1032 bytes per compressed byte: an entry that
   * declares more is corrupt, and is refused before any buffer is allocated.
   */
  private checkDeclaredSize(size: number, compressedLength: number, offset: number): void {
    if (size > compressedLength * MAX_ZLIB_RATIO) {
      throw new CorruptError(this.packPath, `entry at offset ${offset} declares ${size} bytes, more than its ${compressedLength} compressed bytes can inflate to`);
    }
  }

  private inflate(compressed: Uint8Array, size: number, offset: number, into?: OutputRegion): Uint8Array {
    this.checkDeclaredSize(size, compressed.length, offset);
    try {
      return this.ctx.codec.inflateExact(compressed, size, into);
    } catch (err) {
      throw new CorruptError(this.packPath, `bad zlib stream in entry at offset ${offset} (header says ${size} bytes): ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * `len` bytes at `at`: from the pack's windows where they are held (or are
   * read whole, for requests no longer than a window), else straight from the
   * file, into its scratch buffer where it has one. The bytes may be a shared
   * buffer that the next call overwrites: callers use them before asking for
   * more (or copy), and test the result with isReady() rather than await it.
   */
  private bytesAt(f: RandomAccessFile, at: number, len: number): Uint8Array | Promise<Uint8Array> {
    if (f.readScratch) {
      const w = this.windows;
      // windows hold the pack's current file only: a read that resumes after
      // its pack was closed (and perhaps opened again) reads its own file directly
      if (len <= WINDOW_SIZE && w.enabled && f === this.file) {
        const b = w.bytes(f, at, len);
        if (b) return b;
      }
      return f.readScratch(at, len);
    }
    return f.read(at, len);
  }

  /** The inflated delta of the entry at `at` (read again on the way up a chain whose deltas were not all held). */
  private *deltaAt(f: RandomAccessFile, at: number): Steps<Uint8Array> {
    const end = this.entryEnd(yield* this.index_(), at);
    let bytes = this.bytesAt(f, at, end - at);
    if (!isReady(bytes)) bytes = (yield bytes) as Uint8Array;
    const h = parseEntryHeader(bytes, at, this.ctx.hash.rawLength, this.packPath);
    if (!h) throw new CorruptError(this.packPath, `truncated entry header at offset ${at}`);
    return this.inflate(bytes.subarray(h.headerLength), h.size, at);
  }

  /** The pack file, opened if it is not yet. */
  private *file_(): Steps<RandomAccessFile> {
    return this.file ?? ((yield this.open()) as RandomAccessFile);
  }

  /**
   * Reads and resolves the object whose entry starts at `offset`. `depth` counts
   * the REF_DELTA bases already resolved in other packs for this one read.
   */
  read(offset: number, depth = 0): Promise<RawObject> {
    return stepsAsPromise(this.readSteps(offset, depth));
  }

  /** read(), with no promise when it completes at once (synchronous files, pack open, bases in this pack); it may throw. */
  readNow(offset: number, depth = 0): RawObject | Promise<RawObject> {
    return runSteps(this.readSteps(offset, depth));
  }

  private *readSteps(offset: number, depth: number): Steps<RawObject> {
    const f = yield* this.file_();
    const hit = this.cache.get(offset);
    // a cached base handed to a caller is copied: callers own what read() returns
    if (hit) return { type: hit.type, data: hit.data.slice() };
    if (deltaArena.held) return yield* this.resolveSteps(f, offset, depth, false);
    deltaArena.held = true;
    deltaArena.used = 0;
    try {
      return yield* this.resolveSteps(f, offset, depth, true);
    } finally {
      deltaArena.held = false;
    }
  }

  /** read(): the chain walked down and applied up; `arena`: its deltas go to the delta arena, which the caller holds. */
  private *resolveSteps(f: RandomAccessFile, offset: number, depth: number, arena: boolean): Steps<RawObject> {
    const cache = this.cache;
    const H = this.ctx.hash.rawLength;
    // walk down the chain to a base, inflating the deltas on the way while they
    // fit in HELD_DELTA_BYTES; the others are inflated again on the way up
    const deltas: (Uint8Array | null)[] = [];
    const links: number[] = [];
    let held = 0;
    let base: RawObject | null = null;
    let at = offset;
    for (;;) {
      if (links.length > MAX_CHAIN) throw new CorruptError(this.packPath, `delta chain from offset ${offset} is longer than ${MAX_CHAIN} (cyclic?)`);
      if (links.length > 0) {
        const c = cache.get(at);
        if (c) {
          base = c;
          break;
        }
      }
      this.checkOffset(at);
      const whole = held < HELD_DELTA_BYTES;
      // an entry's exact end is a binary search away once the pack's offsets
      // are sorted; before, the entry is read to a bound its header gives (and
      // the index may never be read at all)
      const idx = this.index;
      let end = idx?.hasSortedOffsets ? this.entryEnd(idx, at) : -1;
      let bytes = this.bytesAt(f, at, end < 0 ? this.firstReadLength(at) : whole ? end - at : Math.min(end - at, HEADER_PROBE + H));
      if (!isReady(bytes)) bytes = (yield bytes) as Uint8Array;
      const h = parseEntryHeader(bytes, at, H, this.packPath);
      if (!h) throw new CorruptError(this.packPath, `truncated entry header at offset ${at}`);
      const isDelta = h.type === OBJ_OFS_DELTA || h.type === OBJ_REF_DELTA;
      // a copy: `bytes` may be a shared buffer, and the steps below may wait
      const baseOid = h.type === OBJ_REF_DELTA ? bytes.slice(h.baseOidAt, h.baseOidAt + H) : null;
      // whether this level's data is inflated now (deltas past the held budget are inflated on the way up)
      const inflateNow = !isDelta || (whole && (links.length === 0 || held + h.size <= HELD_DELTA_BYTES));
      let data: Uint8Array | null = null;
      // a delta inflated now goes to the arena (a region of it, claimed once the inflation succeeds)
      const into = arena && isDelta && inflateNow ? arenaRegion(h.size) : undefined;
      if (end < 0 && inflateNow) {
        const bound = h.headerLength + compressedBound(h.size);
        if (bound <= bytes.length) data = this.inflateBounded(bytes.subarray(h.headerLength), h.size, into);
        else if (bound <= BOUNDED_READ_MAX && this.ctx.codec.native) {
          bytes = this.bytesAt(f, at, Math.min(bound, this.packEnd - at));
          if (!isReady(bytes)) bytes = (yield bytes) as Uint8Array;
          data = this.inflateBounded(bytes.subarray(h.headerLength), h.size, into);
        }
      }
      if (inflateNow && !data) {
        if (end < 0 || bytes.length < end - at) {
          if (end < 0) end = this.entryEnd(yield* this.index_(), at);
          bytes = this.bytesAt(f, at, end - at);
          if (!isReady(bytes)) bytes = (yield bytes) as Uint8Array;
        }
        data = this.inflate(bytes.subarray(h.headerLength, end - at), h.size, at, into);
      }
      if (into) deltaArena.used += h.size;
      if (isDelta) {
        if (data) {
          deltas.push(data);
          held += h.size;
        } else {
          if (end < 0) end = this.entryEnd(yield* this.index_(), at);
          this.checkDeclaredSize(h.size, end - at - h.headerLength, at);
          deltas.push(null);
          held = HELD_DELTA_BYTES;
        }
        links.push(at);
        const next = baseOid ? yield* this.refBaseOffset(baseOid) : h.baseOffset;
        if (next >= 0) {
          at = next;
          continue;
        }
        base = (yield this.ctx.resolveExternal(baseOid!, depth + 1)) as RawObject | null;
        if (!base) throw new CorruptError(this.packPath, `REF_DELTA base ${toHex(baseOid!)} of the entry at offset ${at} is missing`);
        break;
      }
      base = { type: h.type, data: data! };
      if (links.length > 0) cache.set(at, base);
      break;
    }
    // apply the deltas from the base up, the intermediate results in two reused
    // buffers; the results kept as bases for later reads are copies, every
    // CACHE_EVERY levels and the level under the top
    const type = base.type;
    cache.setType(links, type);
    let cur = base.data;
    for (let i = deltas.length - 1; i >= 0; i--) {
      let delta = deltas[i];
      if (!delta) {
        // it may wait: another read may use the scratch buffers meanwhile
        if (isScratch(cur)) cur = cur.slice();
        delta = yield* this.deltaAt(f, links[i]);
      }
      deltas[i] = null;
      const size = checkedResultSize(cur, delta, this.packPath);
      if (i === 0) {
        const out = new Uint8Array(size);
        applyDeltaInto(cur, delta, out, this.packPath);
        return { type, data: out };
      }
      const buf = scratchFor(size, cur);
      applyDeltaInto(cur, delta, buf, this.packPath);
      cur = buf.subarray(0, size);
      if ((deltas.length - i) % CACHE_EVERY === 0 || i === 1) cache.set(links[i], { type, data: cur.slice() });
    }
    // no delta: the object was inflated by this read
    return base;
  }

  /** Type and size of the object at `offset`, reading entry headers only (and the first bytes of the top delta). */
  readHeader(offset: number, depth = 0): Promise<{ type: number; size: number }> {
    return stepsAsPromise(this.readHeaderSteps(offset, depth));
  }

  /** readHeader(), with no promise when it completes at once; it may throw. */
  readHeaderNow(offset: number, depth = 0): { type: number; size: number } | Promise<{ type: number; size: number }> {
    // the header table answers without the steps (no generator per lookup)
    const table = this.headerTable;
    if (table && this.file) {
      const known = { type: 0, size: 0 };
      if (table.headerAt(offset, known)) return known;
    }
    return runSteps(this.readHeaderSteps(offset, depth));
  }

  private *readHeaderSteps(offset: number, depth: number): Steps<{ type: number; size: number }> {
    const f = yield* this.file_();
    let table = this.headerTable;
    if (!table && this.tableState === 'none' && tableWorthIt(this.headerWalks, this.walkCost, this.tableCost(), this.entryCount())) table = yield* this.buildTable(f);
    if (table) {
      const known = { type: 0, size: 0 };
      if (table.headerAt(offset, known)) return known;
    }
    const started = table ? -1 : clock();
    const H = this.ctx.hash.rawLength;
    const cache = this.cache;
    let size = -1;
    let at = offset;
    // the delta entries walked through: they all have the type found at the bottom
    let walked: number[] | null = null;
    let type = 0;
    const hdr: EntryHeader = { type: 0, size: 0, headerLength: 0, baseOffset: -1, baseOidAt: -1 };
    for (let step = 0; ; step++) {
      if (step > MAX_CHAIN) throw new CorruptError(this.packPath, `delta chain from offset ${offset} is longer than ${MAX_CHAIN} (cyclic?)`);
      if (size >= 0) {
        const known = table ? table.typeAt(at) || cache.typeOf(at) : cache.typeOf(at);
        if (known !== undefined) {
          type = known;
          break;
        }
      }
      const cached = cache.get(at);
      if (cached) {
        if (size < 0) size = cached.data.length;
        type = cached.type;
        break;
      }
      // bounds only: as git, the walk trusts the offsets it is given (read() checks that each is
      // an entry's start once the pack's offsets are sorted, and whenever a bounded inflate fails)
      this.checkOffset(at);
      // the top entry's header and the start of its delta; below it, headers only
      const len = Math.min(this.packEnd - at, size < 0 ? HEADER_PROBE + H : ENTRY_HEADER_MAX + H);
      let bytes = this.bytesAt(f, at, len);
      if (!isReady(bytes)) bytes = (yield bytes) as Uint8Array;
      const h = parseEntryHeader(bytes, at, H, this.packPath, hdr);
      if (!h) throw new CorruptError(this.packPath, `truncated entry header at offset ${at}`);
      if (h.type !== OBJ_OFS_DELTA && h.type !== OBJ_REF_DELTA) {
        if (size < 0) size = h.size;
        type = h.type;
        break;
      }
      (walked ??= []).push(at);
      // a copy, before anything waits: `bytes` may be a shared buffer that other reads overwrite meanwhile
      const baseOid = h.type === OBJ_REF_DELTA ? bytes.slice(h.baseOidAt, h.baseOidAt + H) : null;
      if (size < 0) {
        // the result size is the delta's second varint: decoded here when the
        // stream starts with literals (zlib/prefix.ts), else inflated from its start
        // (a stream a codec refuses at once gives no prefix: the whole inflate below names the damage)
        const stream = bytes.subarray(h.headerLength);
        const got = literalPrefix(stream, sizeScratch, 2);
        let head: Uint8Array;
        if (got >= 0) head = sizeScratch.subarray(0, got);
        else {
          try {
            head = this.ctx.codec.inflatePrefix(stream, 32);
          } catch {
            head = new Uint8Array(0);
          }
        }
        let result = deltaResultSize(head);
        if (result < 0) {
          const end = this.entryEnd(yield* this.index_(), at);
          let whole = f.read(at, end - at);
          if (!isReady(whole)) whole = (yield whole) as Uint8Array;
          head = this.inflate(whole.subarray(h.headerLength), h.size, at);
          result = deltaResultSize(head);
          if (result < 0) throw new CorruptError(this.packPath, `delta at offset ${at} has no size header`);
        }
        size = result;
      }
      const next = baseOid ? yield* this.refBaseOffset(baseOid) : h.baseOffset;
      if (next >= 0) {
        at = next;
        continue;
      }
      const ext = (yield this.ctx.resolveExternalHeader(baseOid!, depth + 1)) as { type: number; size: number } | null;
      if (!ext) throw new CorruptError(this.packPath, `REF_DELTA base ${toHex(baseOid!)} of the entry at offset ${at} is missing`);
      type = ext.type;
      break;
    }
    if (walked) cache.setType(walked, type);
    if (started >= 0) {
      this.windowMs += clock() - started;
      if (++this.headerWalks % WALK_COST_WINDOW === 0) {
        this.walkCost = this.windowMs / WALK_COST_WINDOW;
        this.windowMs = 0;
      }
    }
    return { type, size };
  }

  /** The header table's pass, estimated in milliseconds (the index's count when only its head is read). */
  private tableCost(): number {
    return scanCost(this.packEnd, this.entryCount());
  }

  /** the pack's object count, from its index or the head of it */
  private entryCount(): number {
    return this.index?.count ?? this.indexHead?.count ?? 0;
  }

  /**
   * Builds the header table, when the budget has room for it. A pass that
   * fails (a read error, the pack closed meanwhile) leaves no table: lookups
   * walk their chains as before, and report what is wrong where it matters.
   */
  private *buildTable(f: RandomAccessFile): Steps<HeaderTable | null> {
    this.tableState = 'building';
    let reserved = 0;
    try {
      const idx = yield* this.index_();
      if (!this.ctx.cache.reserveTable(idx.count)) {
        this.tableState = 'refused';
        return null;
      }
      reserved = idx.count;
      const table = yield* HeaderTable.build(f, idx, this.packEnd, this.ctx.hash.rawLength);
      if (this.file !== f) throw new Error('pack closed during the pass');
      this.headerTable = table;
      this.tableState = 'none';
      return table;
    } catch {
      if (reserved) this.ctx.cache.releaseTable(reserved);
      this.tableState = 'refused';
      return null;
    }
  }

  /**
   * Builds this pack's header table now, for a caller about to ask for most
   * of its headers (every object's type, for a bitmap or a listing): false
   * when there is none (the budget refused it, or its pass failed).
   */
  async prepareHeaders(): Promise<boolean> {
    if (this.headerTable) return true;
    if (this.tableState !== 'none') return false;
    const f = await this.open();
    return (await stepsAsPromise(this.buildTable(f))) !== null;
  }

  /** entries described by this pack's header table (0: none built) */
  get headerTableEntries(): number {
    return this.headerTable?.count ?? 0;
  }

  async close(): Promise<void> {
    const f = this.file;
    this.file = null;
    this.fileOpening = null;
    if (this.headerTable) this.ctx.cache.releaseTable(this.headerTable.count);
    this.headerTable = null;
    this.headerWalks = 0;
    this.walkCost = 0;
    this.windowMs = 0;
    this.tableState = 'none';
    this.cache.clear();
    this.windows.clear();
    if (f) await f.close();
  }
}
