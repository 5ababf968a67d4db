/**
 * Writing a pack from existing pack entries, streamed: the entries are copied
 * as they are (compressed data and deltas reused), through bounded buffers,
 * while the pack's checksum and each entry's CRC32 are computed on the way.
 * Only a few numbers per object are kept (id, offsets, CRC, base), so memory
 * follows the object count, never the pack's size.
 *
 * Every delta whose base is in the new pack is written after its base, as an
 * OFS_DELTA (or a REF_DELTA when asked); a delta whose base stays outside is
 * written whole (resolved, deflated), so the pack is never thin and git's
 * `index-pack` and `fsck` accept it on disk. Objects that come from no pack
 * (loose ones) are deflated whole too.
 *
 * The files are written as tmp_pack_*, tmp_rev_*, tmp_idx_* in the pack
 * directory and renamed to pack-<checksum>.{pack,rev,idx} in git's order: the
 * .idx last, so a reader that sees the .idx sees a complete pack.
 */

import { CorruptError, InvalidArgumentError } from '../errors.js';
import type { Fs, RandomAccessFile, WritableFile } from '../io/fs.js';
import { join } from '../io/fs.js';
import type { HashInfo } from '../oid.js';
import { compareOid, toHex } from '../oid.js';
import type { Progress, WrittenPack } from '../types.js';

export type { WrittenPack } from '../types.js';
import type { Codec, Hasher } from '../zlib/index.js';
import { OBJ_COMMIT, OBJ_OFS_DELTA, OBJ_REF_DELTA, OBJ_TAG, parseEntryHeader, TYPE_NAMES } from './entry.js';
import type { PackIndex } from './idx.js';
import { encodeIdxV2, oidOrder } from './idx-write.js';
import type { Pack, RawObject } from './pack.js';
import { encodeRev } from './rev.js';

/** bytes read from a source pack at once, and buffered before a write */
const WINDOW = 1 << 20;
/** enough for any entry header: type/size varint (<= 10 bytes) and an OFS varint (<= 10) or a base id */
const HEADER_PROBE = 64;

/** The objects to write, column by column: each one's id and where its entry is. */
export class PackSources {
  count = 0;
  oids: Uint8Array;
  /** index into `packs`, or -1: the object is read whole (`readWhole`) and deflated */
  packIds: Int32Array;
  offsets: Float64Array;
  readonly packs: Pack[] = [];
  private readonly packIndex = new Map<Pack, number>();

  constructor(private readonly H: number, capacity = 1024) {
    this.oids = new Uint8Array(capacity * H);
    this.packIds = new Int32Array(capacity);
    this.offsets = new Float64Array(capacity);
  }

  /** Adds an object: copied from `pack` at `offset`, or (pack null) read whole. */
  add(oid: Uint8Array, pack: Pack | null, offset = 0): void {
    const H = this.H;
    if (this.count === this.packIds.length) {
      const cap = this.packIds.length * 2;
      const oids = new Uint8Array(cap * H);
      oids.set(this.oids);
      const ids = new Int32Array(cap);
      ids.set(this.packIds);
      const offs = new Float64Array(cap);
      offs.set(this.offsets);
      this.oids = oids;
      this.packIds = ids;
      this.offsets = offs;
    }
    let id = -1;
    if (pack) {
      id = this.packIndex.get(pack) ?? -1;
      if (id < 0) {
        id = this.packs.length;
        this.packs.push(pack);
        this.packIndex.set(pack, id);
      }
    }
    this.oids.set(oid.subarray(0, H), this.count * H);
    this.packIds[this.count] = id;
    this.offsets[this.count] = offset;
    this.count++;
  }

  /** The same objects with each id kept once: its first occurrence. */
  unique(): PackSources {
    const H = this.H;
    const n = this.count;
    const order = oidOrder(this.oids.subarray(0, n * H), n, H);
    const keep = new Uint8Array(n);
    let dups = 0;
    for (let p = 0; p < n; ) {
      // a run of equal ids: keep the earliest
      let q = p + 1;
      let first = order[p];
      while (q < n && compareOid(this.oids, order[q] * H, this.oids, order[p] * H, H) === 0) {
        if (order[q] < first) first = order[q];
        q++;
      }
      dups += q - p - 1;
      keep[first] = 1;
      p = q;
    }
    if (!dups) return this;
    const out = new PackSources(H, Math.max(1, n - dups));
    for (let i = 0; i < n; i++) if (keep[i]) out.add(this.oids.subarray(i * H, i * H + H), this.packIds[i] < 0 ? null : this.packs[this.packIds[i]], this.offsets[i]);
    return out;
  }
}

export interface PackWriteInit {
  fs: Fs;
  codec: Codec;
  hash: HashInfo;
  packDir: string;
  /** an object whole: for sources outside packs, and for deltas whose base stays out of the new pack */
  readWhole(oid: Uint8Array): Promise<RawObject>;
  /** a meter titled `Writing objects` */
  progress?: Progress;
  /** false: deltas refer to their base by id (REF_DELTA), as `repack.useDeltaBaseOffset=false` does. Default true (OFS_DELTA) */
  deltaBaseOffset?: boolean;
  /** zlib level for objects deflated anew (default -1, zlib's default, as git's core.compression) */
  compressionLevel?: number;
}


/**
 * Reads source packs front to back through one window, so neighbouring small
 * entries cost one read. One buffer for every source pack and the life of the
 * writer: no allocation per read, and no buffer per pack.
 */
class WindowReader {
  private readonly buf = new Uint8Array(WINDOW);
  private file: RandomAccessFile | null = null;
  private start = 0;
  private length = 0;
  /** bytes [pos, pos+len) of `file`, len <= WINDOW; valid until the next call */
  async get(file: RandomAccessFile, pos: number, len: number): Promise<Uint8Array> {
    if (file !== this.file || pos < this.start || pos + len > this.start + this.length) {
      const n = Math.min(WINDOW, file.size - pos);
      if (n < len) throw new CorruptError(file.path, `entry at offset ${pos} runs past the end of the pack`);
      this.file = null;
      await file.readInto(this.buf, pos, n);
      this.file = file;
      this.start = pos;
      this.length = n;
    }
    return this.buf.subarray(pos - this.start, pos - this.start + len);
  }
}

/** The output pack: a buffer flushed to the file, hashed on the way out. */
class PackOutput {
  private readonly buf = new Uint8Array(WINDOW);
  private fill = 0;
  private flushed = 0;
  constructor(
    private readonly file: WritableFile,
    private readonly hasher: Hasher,
  ) {}
  get offset(): number {
    return this.flushed + this.fill;
  }
  async append(bytes: Uint8Array): Promise<void> {
    if (this.fill + bytes.length > this.buf.length) await this.flush();
    if (bytes.length >= this.buf.length) {
      this.hasher.update(bytes);
      await this.file.write(bytes);
      this.flushed += bytes.length;
      return;
    }
    this.buf.set(bytes, this.fill);
    this.fill += bytes.length;
  }
  async flush(): Promise<void> {
    if (!this.fill) return;
    const chunk = this.buf.subarray(0, this.fill);
    this.hasher.update(chunk);
    await this.file.write(chunk);
    this.flushed += this.fill;
    this.fill = 0;
  }
  /** flushes and appends the checksum of everything written */
  async finish(): Promise<Uint8Array> {
    await this.flush();
    const sum = this.hasher.digest();
    await this.file.write(sum);
    this.flushed += sum.length;
    return sum;
  }
}

/** An entry header: type and size (the size varint of §1.1.1). */
export function encodeEntryHeader(type: number, size: number): number[] {
  const out: number[] = [];
  let c = (type << 4) | (size % 16);
  size = Math.floor(size / 16);
  while (size > 0) {
    out.push(c | 0x80);
    c = size % 128;
    size = Math.floor(size / 128);
  }
  out.push(c);
  return out;
}

/** An OFS_DELTA distance: big-endian base-128 with the +1 bias per continuation byte. */
export function encodeOfsDistance(v: number): number[] {
  const out = [v % 128];
  v = Math.floor(v / 128);
  while (v > 0) {
    v -= 1;
    out.unshift(0x80 | v % 128);
    v = Math.floor(v / 128);
  }
  return out;
}

const NO_BASE = -2;
const BASE_OUTSIDE = -1;

interface SourcePack {
  pack: Pack;
  idx: PackIndex;
  file: RandomAccessFile;
  /** where the entries end (the trailer) */
  end: number;
}

function tmpName(kind: string): string {
  return `tmp_${kind}_${Math.random().toString(36).slice(2, 10)}`;
}

/** The new pack's ids in OID order (`order`), refused when one is listed twice; `indexOf` finds an id's index. */
class NewPackIds {
  readonly order: Uint32Array;

  constructor(
    readonly oids: Uint8Array,
    readonly n: number,
    private readonly H: number,
  ) {
    this.order = oidOrder(oids, n, H);
    for (let p = 1; p < n; p++) {
      if (compareOid(oids, this.order[p - 1] * H, oids, this.order[p] * H, H) === 0) throw new InvalidArgumentError(`object ${toHex(oids, this.order[p] * H, H)} is listed twice`);
    }
  }

  /** the index of the object whose id is at `bytes[at]` in the new pack, or -1 */
  indexOf(bytes: Uint8Array, at: number): number {
    const { oids, order, H } = this;
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareOid(oids, order[mid] * H, bytes, at, H);
      if (c === 0) return order[mid];
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }
}

/** The byte position in the source's `.idx` of the id of the entry starting at `offset`, or -1 when no entry starts there. */
function oidPosAtOffset(s: SourcePack, offset: number): number {
  const i = s.idx.positionAtOffset(offset);
  return i < 0 ? -1 : s.idx.oidPos(i);
}

/** Source order: pack by pack (in the order they were first named), by offset; whole objects last. */
function sourceOrder(src: PackSources, n: number): Uint32Array {
  const seq = new Uint32Array(n);
  for (let i = 0; i < n; i++) seq[i] = i;
  const { packIds, offsets } = src;
  seq.sort((a, b) => {
    const pa = packIds[a] < 0 ? 0x7fffffff : packIds[a];
    const pb = packIds[b] < 0 ? 0x7fffffff : packIds[b];
    return pa - pb || offsets[a] - offsets[b];
  });
  return seq;
}

/**
 * Each entry's base in the new pack (its index, NO_BASE or BASE_OUTSIDE) and
 * its position in its source's `.idx`, from the source entries' headers.
 */
async function findBases(src: PackSources, ids: NewPackIds, sources: SourcePack[], seq: Uint32Array, reader: WindowReader, H: number): Promise<{ base: Int32Array; srcPos: Uint32Array }> {
  const n = ids.n;
  const oids = ids.oids;
  const base = new Int32Array(n).fill(NO_BASE);
  const srcPos = new Uint32Array(n);
  for (let k = 0; k < n; k++) {
    const i = seq[k];
    if (src.packIds[i] < 0) continue;
    const s = sources[src.packIds[i]];
    const offset = src.offsets[i];
    const pos = s.idx.find(oids, i * H);
    if (pos < 0 || s.idx.offsetAt(pos) !== offset) {
      throw new InvalidArgumentError(`object ${toHex(oids, i * H, H)} is not at offset ${offset} of ${s.pack.packPath}`);
    }
    srcPos[i] = pos;
    if (offset < 12 || offset >= s.end) throw new CorruptError(s.pack.packPath, `offset ${offset} is outside the pack's entries`);
    const probe = await reader.get(s.file, offset, Math.min(HEADER_PROBE, s.end - offset));
    const h = parseEntryHeader(probe, offset, H, s.pack.packPath);
    if (!h) throw new CorruptError(s.pack.packPath, `truncated entry header at offset ${offset}`);
    if (h.type === OBJ_OFS_DELTA) {
      const at = oidPosAtOffset(s, h.baseOffset);
      if (at < 0) throw new CorruptError(s.pack.packPath, `no entry starts at offset ${h.baseOffset}, the base of the entry at ${offset}`);
      const b = ids.indexOf(s.idx.data, at);
      base[i] = b >= 0 ? b : BASE_OUTSIDE;
    } else if (h.type === OBJ_REF_DELTA) {
      const b = ids.indexOf(probe, h.baseOidAt);
      base[i] = b >= 0 ? b : BASE_OUTSIDE;
    }
  }
  return { base, srcPos };
}

/**
 * Write order: every base before its deltas, else source order; a cycle
 * (duplicates whose deltas point at each other across packs) is broken by
 * writing one object whole (its base becomes BASE_OUTSIDE).
 */
function writeOrderOf(seq: Uint32Array, base: Int32Array): Uint32Array {
  const n = seq.length;
  const writeOrder = new Uint32Array(n);
  const state = new Uint8Array(n); // 0 new, 1 on the walk, 2 placed
  const stack: number[] = [];
  let placed = 0;
  for (let k = 0; k < n; k++) {
    let cur = seq[k];
    while (state[cur] === 0) {
      state[cur] = 1;
      stack.push(cur);
      const b = base[cur];
      if (b < 0) break;
      if (state[b] === 1) {
        base[cur] = BASE_OUTSIDE;
        break;
      }
      cur = b;
    }
    while (stack.length) {
      const i = stack.pop()!;
      state[i] = 2;
      writeOrder[placed++] = i;
    }
  }
  return writeOrder;
}

/**
 * The entries of one pack being written: appended to its output, each with
 * its new offset and its CRC (the .idx needs both), counted by how they were
 * written (reused as they were, rebased onto a new header, deflated whole).
 */
class EntryWriter {
  readonly newOffsets: Float64Array;
  readonly crcs: Uint32Array;
  readonly stats = { reused: 0, rebased: 0, deflated: 0 };
  /** large entries are copied through this, a window at a time */
  private readonly piece = new Uint8Array(WINDOW);
  private readonly H: number;

  constructor(
    private readonly out: PackOutput,
    private readonly init: PackWriteInit,
    private readonly oids: Uint8Array,
    n: number,
    private readonly reader: WindowReader,
  ) {
    this.newOffsets = new Float64Array(n);
    this.crcs = new Uint32Array(n);
    this.H = init.hash.rawLength;
  }

  /** object `i` starts here */
  begin(i: number): void {
    this.newOffsets[i] = this.out.offset;
  }

  /**
   * Object `i` inflated whole (its deltas applied), deflated again. No CRC from
   * a source covers it, so its id is checked instead (an exact-size inflate
   * stops before zlib's own checksum, and damage could pass unseen).
   */
  async writeWhole(i: number, obj: RawObject): Promise<void> {
    const { codec, packDir } = this.init;
    if (obj.type < OBJ_COMMIT || obj.type > OBJ_TAG) throw new CorruptError(packDir, `object ${toHex(this.oids, i * this.H, this.H)} has type ${obj.type}`);
    this.checkId(i, obj);
    const header = Uint8Array.from(encodeEntryHeader(obj.type, obj.data.length));
    const body = codec.deflate(obj.data, this.init.compressionLevel ?? -1);
    this.crcs[i] = codec.crc32(body, codec.crc32(header));
    await this.out.append(header);
    await this.out.append(body);
    this.stats.deflated++;
  }

  /**
   * Object `i` copied from its source entry at `offset`: the compressed data as
   * it is, under its own header (`base` NO_BASE) or under a new delta header
   * naming object `base` of this pack. The source's CRC (at `srcPos` of its
   * .idx) is checked over the bytes copied.
   */
  async copy(i: number, s: SourcePack, offset: number, srcPos: number, base: number): Promise<void> {
    const { codec } = this.init;
    const H = this.H;
    const end = s.idx.entryEnd(offset, s.end);
    if (end < 0) throw new CorruptError(s.pack.packPath, `no entry starts at offset ${offset}`);
    const probe = await this.reader.get(s.file, offset, Math.min(HEADER_PROBE, end - offset));
    const h = parseEntryHeader(probe, offset, H, s.pack.packPath);
    if (!h) throw new CorruptError(s.pack.packPath, `truncated entry header at offset ${offset}`);
    // the source's CRC covers its own header; the new entry's CRC covers the new one
    let srcCrc = codec.crc32(probe.subarray(0, h.headerLength));
    let crc: number;
    if (base === NO_BASE) {
      crc = srcCrc;
      await this.out.append(probe.subarray(0, h.headerLength));
      this.stats.reused++;
    } else {
      const header = this.deltaHeader(i, base, h.size);
      if (header.length === h.headerLength && compareOid(header, 0, probe, 0, header.length) === 0) this.stats.reused++;
      else this.stats.rebased++;
      crc = codec.crc32(header);
      await this.out.append(header);
    }
    // the compressed data, copied through the window (or in window-sized pieces)
    for (let at = offset + h.headerLength; at < end; ) {
      const len = Math.min(WINDOW, end - at);
      let chunk: Uint8Array;
      if (len <= WINDOW / 4) chunk = await this.reader.get(s.file, at, len);
      else {
        chunk = this.piece.subarray(0, len);
        await s.file.readInto(chunk, at, len);
      }
      srcCrc = codec.crc32(chunk, srcCrc);
      crc = base === NO_BASE ? srcCrc : codec.crc32(chunk, crc);
      await this.out.append(chunk);
      at += len;
    }
    const want = s.idx.crcAt(srcPos);
    // a version 1 .idx has no CRCs: the object is read back and its id checked
    // (git checks that the entry inflates; the id check covers that and more)
    if (want < 0) this.checkId(i, await s.pack.read(offset));
    else if (want !== srcCrc) throw new CorruptError(s.pack.packPath, `bad packed object CRC for ${toHex(this.oids, i * H, H)} (entry at offset ${offset})`);
    this.crcs[i] = crc;
  }

  /** the header of object `i` as a delta of `size` bytes against object `base`: by offset unless the writer was told otherwise */
  private deltaHeader(i: number, base: number, size: number): Uint8Array {
    const H = this.H;
    if (this.init.deltaBaseOffset !== false) return Uint8Array.from([...encodeEntryHeader(OBJ_OFS_DELTA, size), ...encodeOfsDistance(this.newOffsets[i] - this.newOffsets[base])]);
    return Uint8Array.from([...encodeEntryHeader(OBJ_REF_DELTA, size), ...this.oids.subarray(base * H, base * H + H)]);
  }

  private checkId(i: number, obj: RawObject): void {
    const { codec, hash, packDir } = this.init;
    const H = this.H;
    const hasher = codec.hasher(hash.algorithm);
    hasher.update(new TextEncoder().encode(`${TYPE_NAMES[obj.type]} ${obj.data.length}\0`));
    hasher.update(obj.data);
    if (compareOid(hasher.digest(), 0, this.oids, i * H, H) !== 0) throw new CorruptError(packDir, `object ${toHex(this.oids, i * H, H)} does not hash to its id (damaged data)`);
  }
}

/** The 12-byte pack header: "PACK", version 2, the object count. */
function packHeader(n: number): Uint8Array {
  const head = new Uint8Array(12);
  const hv = new DataView(head.buffer);
  hv.setUint32(0, 0x5041434b);
  hv.setUint32(4, 2);
  hv.setUint32(8, n);
  return head;
}

/** Every source pack of `src`, opened, with its index loaded. */
async function openSources(src: PackSources, H: number): Promise<SourcePack[]> {
  const sources: SourcePack[] = [];
  for (const pack of src.packs) {
    const file = await pack.open();
    const idx = await pack.loadIndex();
    sources.push({ pack, idx, file, end: file.size - H });
  }
  return sources;
}

/**
 * Writes a pack of the given objects into `init.packDir`, with its .idx (v2)
 * and .rev, and returns what it wrote. Each object must appear once.
 * The steps: each object's base chosen (findBases) and the write order that
 * puts every base before its deltas; the pack streamed to a temporary file,
 * entry by entry (EntryWriter); the .idx and .rev written beside it; then all
 * three renamed into place in git's order.
 */
export async function writePackFromSources(init: PackWriteInit, src: PackSources): Promise<WrittenPack> {
  const { fs, codec, hash, packDir } = init;
  const H = hash.rawLength;
  const n = src.count;
  if (n >= 2 ** 32) throw new InvalidArgumentError(`too many objects for one pack (${n})`);
  const oids = src.oids.subarray(0, n * H);
  const ids = new NewPackIds(oids, n, H);
  const sources = await openSources(src, H);
  const reader = new WindowReader();
  const seq = sourceOrder(src, n);
  const { base, srcPos } = await findBases(src, ids, sources, seq, reader, H);
  const writeOrder = writeOrderOf(seq, base);

  const tmp = { pack: join(packDir, tmpName('pack')), idx: join(packDir, tmpName('idx')), rev: join(packDir, tmpName('rev')) };
  const meter = init.progress?.start('Writing objects', n);
  let file: WritableFile | null = await fs.openWrite(tmp.pack);
  let written: { checksum: Uint8Array; size: number; stats: EntryWriter['stats'] };
  try {
    const out = new PackOutput(file, codec.hasher(hash.algorithm));
    await out.append(packHeader(n));
    const w = new EntryWriter(out, init, oids, n, reader);
    for (let k = 0; k < n; k++) {
      const i = writeOrder[k];
      w.begin(i);
      // as pack-objects: the count after each object written (k objects are written here)
      if (meter && k) meter.update(k);
      const packId = src.packIds[i];
      if (packId < 0) await w.writeWhole(i, await init.readWhole(oids.subarray(i * H, i * H + H)));
      else if (base[i] === BASE_OUTSIDE) await w.writeWhole(i, await sources[packId].pack.read(src.offsets[i]));
      else await w.copy(i, sources[packId], src.offsets[i], srcPos[i], base[i]);
    }
    const checksum = await out.finish();
    written = { checksum, size: out.offset, stats: w.stats };
    await file.close();
    file = null;
    meter?.update(n);
    meter?.stop();

    const table = { count: n, oids, offsets: w.newOffsets, crcs: w.crcs };
    await fs.writeFile(tmp.idx, encodeIdxV2(table, ids.order, checksum, hash, codec.hasher(hash.algorithm)));
    await fs.writeFile(tmp.rev, encodeRev(w.newOffsets, ids.order, checksum, hash, codec.hasher(hash.algorithm)));
  } catch (err) {
    if (file) await file.close().catch(() => {});
    for (const t of [tmp.pack, tmp.idx, tmp.rev]) await fs.remove(t).catch(() => {});
    throw err;
  }
  const hex = toHex(written.checksum);
  const name = `pack-${hex}`;
  const packPath = join(packDir, `${name}.pack`);
  const idxPath = join(packDir, `${name}.idx`);
  const revPath = join(packDir, `${name}.rev`);
  // git's order: the pack, its reverse index, and the .idx last
  await fs.rename(tmp.pack, packPath);
  await fs.rename(tmp.rev, revPath);
  await fs.rename(tmp.idx, idxPath);
  return { name, checksum: hex, packPath, idxPath, revPath, count: n, size: written.size, ...written.stats };
}

/** Pack entry type of an object type name. */
export function typeNumber(type: string): number {
  const t = ['', 'commit', 'tree', 'blob', 'tag'].indexOf(type);
  return t > 0 ? t : -1;
}
