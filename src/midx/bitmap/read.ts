/**
 * Reading one MIDX layer's `multi-pack-index-<checksum>.bitmap` (git's
 * pack-bitmap.c, the MIDX case): the header, the extensions found from the
 * end of the file (name-hash cache, lookup table, pseudo-merges), the four
 * type bitmaps and the commit bitmaps with their XOR chains.
 *
 * Bit j stands for pseudo-pack slot j of the whole chain (layer 1's slots,
 * then layer 2's...). A layer's type bitmaps only hold its own objects; its
 * commit bitmaps hold everything reachable from the commit, base layers'
 * objects included. Commits are named by their global MIDX position (the
 * chain's lexicographic numbering), not by bit.
 *
 * Every length and offset is checked: a bad file is a CorruptError, which
 * the odb turns into a warning and a walk.
 */

import { CorruptError } from '../../errors.js';
import { compareOid, type HashInfo } from '../../oid.js';
import { Ewah } from './ewah.js';

export const BITMAP_SIGNATURE = 0x4249544d; // "BITM"
export const BITMAP_OPT_FULL_DAG = 0x1;
export const BITMAP_OPT_HASH_CACHE = 0x4;
export const BITMAP_OPT_LOOKUP_TABLE = 0x10;
export const BITMAP_OPT_PSEUDO_MERGES = 0x20;
/** git's MAX_XOR_OFFSET: how far back an entry may name its XOR base */
export const MAX_XOR_OFFSET = 160;
const LOOKUP_TRIPLET = 16;

export interface BitmapEntry {
  /** global MIDX position of the commit */
  commitPos: number;
  xorOffset: number;
  flags: number;
  /** file offset of the entry (its commit position field) */
  offset: number;
  ewah: Ewah;
}

export interface BitmapHeaderInfo {
  version: number;
  options: number;
  entryCount: number;
}

export class LayerBitmap {
  readonly entries: BitmapEntry[] = [];
  /** global MIDX position of a commit -> index in `entries` */
  readonly byCommit = new Map<number, number>();
  commits!: Ewah;
  trees!: Ewah;
  blobs!: Ewah;
  tags!: Ewah;
  options = 0;
  /** offset of the lookup table, or -1 */
  lookupTableAt = -1;
  /** offset of the name-hash cache, or -1 */
  hashCacheAt = -1;
  private resolved = new Map<number, Uint32Array>();

  constructor(
    readonly file: string,
    readonly bytes: Uint8Array,
    /** objects in the layers below */
    readonly baseObjects: number,
    /** objects in this layer */
    readonly numObjects: number,
  ) {}

  /** bits a bitmap of this layer may span */
  get totalObjects(): number {
    return this.baseObjects + this.numObjects;
  }

  /** The full (XOR-resolved) bitmap of entry i as 32-bit words. */
  commitBitmap(i: number): Uint32Array {
    const done = this.resolved.get(i);
    if (done) return done;
    // resolve the chain from its root, iteratively
    const chain: number[] = [];
    for (let k = i; ; ) {
      chain.push(k);
      const x = this.entries[k].xorOffset;
      if (!x || this.resolved.has(k - x)) break;
      k -= x;
    }
    let words: Uint32Array | null = null;
    for (let c = chain.length - 1; c >= 0; c--) {
      const k = chain[c];
      const own = this.entries[k].ewah.toWords(this.totalObjects, this.file);
      const x = this.entries[k].xorOffset;
      const base = x ? (words ?? this.resolved.get(k - x)!) : null;
      if (base) for (let w = 0; w < own.length; w++) own[w] ^= base[w];
      this.resolved.set(k, own);
      words = own;
    }
    return words!;
  }

  /** The name-hash cache entry of the layer's object at local position `i` (0 without a cache). */
  nameHash(i: number): number {
    if (this.hashCacheAt < 0 || i >= this.numObjects) return 0;
    const b = this.bytes;
    const at = this.hashCacheAt + 4 * i;
    return ((b[at] << 24) | (b[at + 1] << 16) | (b[at + 2] << 8) | b[at + 3]) >>> 0;
  }

  /** The bitmap of the commit at global MIDX position `pos`, or null. */
  forCommit(pos: number): Uint32Array | null {
    const i = this.byCommit.get(pos);
    return i === undefined ? null : this.commitBitmap(i);
  }
}

/**
 * Parses a layer's `.bitmap` as git's load_bitmap_header and
 * load_bitmap_entries_v1 do. `checksum` is the layer's MIDX trailer.
 */
export function parseLayerBitmap(file: string, bytes: Uint8Array, hash: HashInfo, checksum: Uint8Array | null, baseObjects: number, numObjects: number): LayerBitmap {
  const H = hash.rawLength;
  const headerSize = 12 + H;
  if (bytes.length < headerSize + H) throw new CorruptError(file, 'corrupted bitmap index (too small)');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (dv.getUint32(0) !== BITMAP_SIGNATURE) throw new CorruptError(file, 'corrupted bitmap index file (wrong header)');
  const version = dv.getUint16(4);
  if (version !== 1) throw new CorruptError(file, `unsupported version '${version}' for bitmap index file`);
  const options = dv.getUint16(6);
  const entryCount = dv.getUint32(8);
  if (!(options & BITMAP_OPT_FULL_DAG)) throw new CorruptError(file, 'unsupported options for bitmap index file (Git requires BITMAP_OPT_FULL_DAG)');
  if (checksum && compareOid(bytes, 12, checksum, 0, H) !== 0) throw new CorruptError(file, "checksum doesn't match in MIDX and bitmap");

  const bm = new LayerBitmap(file, bytes, baseObjects, numObjects);
  bm.options = options;
  let end = bytes.length - H;
  if (options & BITMAP_OPT_HASH_CACHE) {
    const size = 4 * numObjects;
    if (size > end - headerSize) throw new CorruptError(file, 'corrupted bitmap index file (too short to fit hash cache)');
    end -= size;
    bm.hashCacheAt = end;
  }
  if (options & BITMAP_OPT_LOOKUP_TABLE) {
    const size = entryCount * LOOKUP_TRIPLET;
    if (size > end - headerSize) throw new CorruptError(file, 'corrupted bitmap index file (too short to fit lookup table)');
    end -= size;
    bm.lookupTableAt = end;
  }
  if (options & BITMAP_OPT_PSEUDO_MERGES) {
    if (8 > end - headerSize) throw new CorruptError(file, 'corrupted bitmap index file (too short to fit pseudo-merge table header)');
    const size = Number(dv.getBigUint64(end - 8));
    if (size > end - headerSize) throw new CorruptError(file, 'corrupted bitmap index file (too short to fit pseudo-merge table)');
    end -= size;
  }

  let at = headerSize;
  const types: Ewah[] = [];
  for (let t = 0; t < 4; t++) {
    const r = Ewah.read(bytes.subarray(0, end), at, file);
    types.push(r.ewah);
    at = r.end;
  }
  [bm.commits, bm.trees, bm.blobs, bm.tags] = types;
  const total = baseObjects + numObjects;
  for (let i = 0; i < entryCount; i++) {
    if (end - at < 6) throw new CorruptError(file, `corrupt ewah bitmap: truncated header for entry ${i}`);
    const commitPos = dv.getUint32(at);
    const xorOffset = bytes[at + 4];
    const flags = bytes[at + 5];
    if (commitPos >= total) throw new CorruptError(file, `corrupt ewah bitmap: commit index ${commitPos} out of range`);
    if (xorOffset > MAX_XOR_OFFSET || xorOffset > i) throw new CorruptError(file, 'corrupted bitmap pack index');
    const r = Ewah.read(bytes.subarray(0, end), at + 6, file);
    if (bm.byCommit.has(commitPos)) throw new CorruptError(file, `duplicate entry in bitmap index for commit position ${commitPos}`);
    bm.byCommit.set(commitPos, bm.entries.length);
    bm.entries.push({ commitPos, xorOffset, flags, offset: at, ewah: r.ewah });
    at = r.end;
  }
  if (bm.lookupTableAt >= 0) checkLookupTable(bm, dv);
  return bm;
}

/** The lookup table agrees with the entries: sorted by commit position, offsets and XOR rows pointing at them. */
function checkLookupTable(bm: LayerBitmap, dv: DataView): void {
  const byOffset = new Map<number, number>();
  bm.entries.forEach((e, i) => byOffset.set(e.offset, i));
  const rows: number[] = [];
  let prev = -1;
  for (let r = 0; r < bm.entries.length; r++) {
    const at = bm.lookupTableAt + r * LOOKUP_TRIPLET;
    const pos = dv.getUint32(at);
    const off = Number(dv.getBigUint64(at + 4));
    const i = byOffset.get(off);
    if (i === undefined || bm.entries[i].commitPos !== pos || pos <= prev) throw new CorruptError(bm.file, `corrupt bitmap lookup table: row ${r}`);
    prev = pos;
    rows.push(i);
  }
  const rowOf = new Map<number, number>();
  rows.forEach((i, r) => rowOf.set(i, r));
  for (let r = 0; r < rows.length; r++) {
    const xorRow = dv.getUint32(bm.lookupTableAt + r * LOOKUP_TRIPLET + 12);
    const e = bm.entries[rows[r]];
    const want = e.xorOffset ? rowOf.get(rows[r] - e.xorOffset) : 0xffffffff;
    if (xorRow !== want) throw new CorruptError(bm.file, `corrupt bitmap lookup table: xor row ${r}`);
  }
}
