/**
 * Pack index (.idx) versions 1 and 2, parsed in place: the fanout is copied
 * into a Uint32Array, the OID table and offsets stay in the file's bytes and
 * are binary-searched there.
 */

import { CorruptError } from '../errors.js';
import type { Fs, RandomAccessFile } from '../io/fs.js';
import { fanoutLowerBound, fanoutSearch, type HashInfo } from '../oid.js';

const IDX_V2_MAGIC = 0xff744f63;

export class PackIndex {
  readonly version: 1 | 2;
  /** number of objects N */
  readonly count: number;
  readonly fanout: Uint32Array;
  private readonly view: DataView;
  private readonly oidBase: number;
  private readonly oidStride: number;
  private readonly offBase: number;
  private readonly largeBase: number;
  private readonly largeCount: number;
  private sorted: Float64Array | null = null;
  private order: Uint32Array | null = null;

  private constructor(
    readonly file: string,
    readonly data: Uint8Array,
    readonly hash: HashInfo,
  ) {
    const H = hash.rawLength;
    const size = data.length;
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    if (size < 1024 + 2 * H) throw new CorruptError(file, `index file is too small (${size} bytes)`);
    const v2 = this.view.getUint32(0) === IDX_V2_MAGIC;
    let fanoutAt = 0;
    if (v2) {
      const version = this.view.getUint32(4);
      if (version !== 2) throw new CorruptError(file, `index file is version ${version} and is not supported`);
      if (size < 8 + 1024 + 2 * H) throw new CorruptError(file, `index file is too small (${size} bytes)`);
      fanoutAt = 8;
    }
    this.version = v2 ? 2 : 1;
    const fanout = new Uint32Array(256);
    let prev = 0;
    for (let i = 0; i < 256; i++) {
      const f = this.view.getUint32(fanoutAt + 4 * i);
      if (f < prev) throw new CorruptError(file, `non-monotonic index (fanout[${i}] = ${f} < ${prev})`);
      fanout[i] = prev = f;
    }
    this.fanout = fanout;
    const n = (this.count = fanout[255]);
    if (!v2) {
      const want = 1024 + n * (H + 4) + 2 * H;
      if (size !== want) throw new CorruptError(file, `wrong index v1 file size: ${size} bytes for ${n} objects (want ${want})`);
      this.oidBase = 1024 + 4;
      this.oidStride = H + 4;
      this.offBase = 1024;
      this.largeBase = -1;
      this.largeCount = 0;
    } else {
      const min = 8 + 1024 + n * (H + 8) + 2 * H;
      const max = min + (n > 0 ? 8 * (n - 1) : 0);
      if (size < min || size > max || (size - min) % 8 !== 0) {
        throw new CorruptError(file, `wrong index v2 file size: ${size} bytes for ${n} objects`);
      }
      this.oidBase = 8 + 1024;
      this.oidStride = H;
      // the CRC32 table (4N bytes) lies between the ids and the offsets
      this.offBase = this.oidBase + n * H + 4 * n;
      this.largeBase = this.offBase + 4 * n;
      this.largeCount = (size - min) / 8;
    }
  }

  static parse(file: string, data: Uint8Array, hash: HashInfo): PackIndex {
    return new PackIndex(file, data, hash);
  }

  /** the pack's trailing checksum as recorded in the .idx */
  get packChecksum(): Uint8Array {
    const H = this.hash.rawLength;
    return this.data.subarray(this.data.length - 2 * H, this.data.length - H);
  }

  /** the .idx file's own trailing checksum */
  get checksum(): Uint8Array {
    return this.data.subarray(this.data.length - this.hash.rawLength);
  }

  /** byte position in `data` of the i-th OID (sorted order) */
  oidPos(i: number): number {
    return this.oidBase + i * this.oidStride;
  }

  /** Position of the object in OID order, or -1. */
  find(oid: Uint8Array, oidOff = 0): number {
    return fanoutSearch(this.fanout, this.data, this.oidBase, this.oidStride, oid, oidOff, this.hash.rawLength);
  }

  /** First position whose OID is >= the given bytes (compared over `len` bytes), searching the fanout bucket of byte 0. */
  lowerBound(prefix: Uint8Array, len: number): number {
    return fanoutLowerBound(this.fanout, this.data, this.oidBase, this.oidStride, prefix, len);
  }

  /** The pack offset of the object at position i (validated against the large-offset table). */
  offsetAt(i: number): number {
    if (this.version === 1) return this.view.getUint32(this.offBase + i * (this.hash.rawLength + 4));
    const v = this.view.getUint32(this.offBase + 4 * i);
    if (!(v & 0x80000000)) return v;
    const k = v & 0x7fffffff;
    if (k >= this.largeCount) throw new CorruptError(this.file, `large offset index ${k} beyond the table of ${this.largeCount} (truncated index?)`);
    const at = this.largeBase + 8 * k;
    const hi = this.view.getUint32(at);
    const lo = this.view.getUint32(at + 4);
    if (hi >= 0x200000) throw new CorruptError(this.file, `large offset ${hi}:${lo} is beyond 2^53`);
    return hi * 0x100000000 + lo;
  }

  /** The CRC32 recorded for the object at position i (v2 only; -1 for v1, which records none). */
  crcAt(i: number): number {
    if (this.version === 1) return -1;
    return this.view.getUint32(this.oidBase + this.count * this.hash.rawLength + 4 * i);
  }

  /** Copies the H-byte OID at position i into out[outOff]. */
  copyOid(i: number, out: Uint8Array, outOff = 0): void {
    const p = this.oidBase + i * this.oidStride;
    out.set(this.data.subarray(p, p + this.hash.rawLength), outOff);
  }

  oidBytes(i: number): Uint8Array {
    const p = this.oidBase + i * this.oidStride;
    return this.data.subarray(p, p + this.hash.rawLength);
  }

  /**
   * Every object offset in ascending pack order. An entry's bytes end where the
   * next entry begins (or at the pack trailer), so this gives exact read lengths.
   */
  sortedOffsets(): Float64Array {
    if (!this.sorted) this.sortByOffset();
    return this.sorted!;
  }

  /** The index positions in pack order (what a .rev file holds): order[k] is the position of the k-th entry of the pack. */
  packOrder(): Uint32Array {
    if (!this.order) this.sortByOffset();
    return this.order!;
  }

  private sortByOffset(): void {
    const n = this.count;
    const offsets = new Float64Array(n);
    const order = new Uint32Array(n);
    let small = true;
    for (let i = 0; i < n; i++) {
      const o = this.offsetAt(i);
      offsets[i] = o;
      order[i] = i;
      if (o >= 0x100000000) small = false;
    }
    // TypedArray sort costs milliseconds per pack of 10k objects; offsets below
    // 4 GiB take two counting passes instead (each pass clears 64k counters:
    // small packs sort faster as they are)
    const sorted = new Float64Array(n);
    if (small && n <= PACKED_MAX) {
      // offset and position packed in one exact double, sorted by the engine's
      // native numeric sort (no comparator called back into JavaScript)
      for (let i = 0; i < n; i++) sorted[i] = offsets[i] * PACKED_MAX + i;
      sorted.sort();
      for (let k = 0; k < n; k++) {
        const key = sorted[k];
        const i = key % PACKED_MAX;
        order[k] = i;
        sorted[k] = (key - i) / PACKED_MAX;
      }
    } else {
      if (small) radixSortBy(offsets, order);
      else order.sort((a, b) => offsets[a] - offsets[b]);
      for (let k = 0; k < n; k++) sorted[k] = offsets[order[k]];
    }
    this.order = order;
    this.sorted = sorted;
  }

  /** whether the offsets are sorted (an entry's end is then a binary search away) */
  get hasSortedOffsets(): boolean {
    return this.sorted !== null;
  }

  /** The rank in pack order of the entry starting at `offset`, or -1 if no entry starts there. */
  private rankOf(offset: number): number {
    return rankIn(this.sortedOffsets(), offset);
  }

  /** Where the entry starting at `offset` ends: the next entry's offset, or `packEnd`; -1 if no entry starts there. */
  entryEnd(offset: number, packEnd: number): number {
    const k = this.rankOf(offset);
    if (k < 0) return -1;
    const s = this.sorted!;
    return k + 1 < s.length ? s[k + 1] : packEnd;
  }

  /** The index position (OID order) of the entry starting at `offset`, or -1 if no entry starts there. */
  positionAtOffset(offset: number): number {
    const k = this.rankOf(offset);
    return k < 0 ? -1 : this.order![k];
  }
}

/** Where `offset` is in sorted[0, end) (ascending offsets), or -1 when it is not there. */
export function rankIn(sorted: Float64Array, offset: number, end = sorted.length): number {
  let lo = 0;
  let hi = end;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo < end && sorted[lo] === offset ? lo : -1;
}

/** What opening a pack needs of its .idx: the object count and the pack checksum it records. */
export interface PackIndexHead {
  readonly count: number;
  readonly packChecksum: Uint8Array;
}

/**
 * Checks an open .idx's header and fanout against its size, as git does
 * before it uses one: the file has exactly the size its object count allows
 * (a damaged or hostile file, a huge sparse file or a device, is refused after
 * 1,032 bytes, never read whole). Returns the object count.
 */
async function checkIndexHead(f: RandomAccessFile, path: string, H: number): Promise<number> {
  const size = f.size;
  if (size < 1024 + 2 * H) throw new CorruptError(path, `index file is too small (${size} bytes)`);
  const r = f.read(0, Math.min(size, 8 + 1024));
  const head = r instanceof Promise ? await r : r;
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const v2 = dv.getUint32(0) === IDX_V2_MAGIC;
  if (v2 && dv.getUint32(4) !== 2) throw new CorruptError(path, `index file is version ${dv.getUint32(4)} and is not supported`);
  if (head.length >= (v2 ? 8 : 0) + 1024) {
    for (let i = 0, prev = 0, at = v2 ? 8 : 0; i < 256; i++, at += 4) {
      const v = dv.getUint32(at);
      if (v < prev) throw new CorruptError(path, `non-monotonic index (fanout[${i}] = ${v} < ${prev})`);
      prev = v;
    }
  }
  if (v2 && head.length >= 8 + 1024) {
    const n = dv.getUint32(8 + 1020);
    const min = 8 + 1024 + n * (H + 8) + 2 * H;
    const max = min + (n > 0 ? 8 * (n - 1) : 0);
    if (size < min || size > max) throw new CorruptError(path, `wrong index v2 file size: ${size} bytes for ${n} objects`);
    return n;
  }
  if (v2) throw new CorruptError(path, `index file is too small (${size} bytes)`);
  const n = dv.getUint32(1020);
  const want = 1024 + n * (H + 4) + 2 * H;
  if (size !== want) throw new CorruptError(path, `wrong index v1 file size: ${size} bytes for ${n} objects (want ${want})`);
  return n;
}

/**
 * Reads a .idx file whole, once its header and fanout say the file has the
 * size its object count allows (checkIndexHead).
 */
export async function readPackIndex(fs: Fs, path: string, hash: HashInfo): Promise<PackIndex> {
  const f = await fs.open(path);
  try {
    await checkIndexHead(f, path, hash.rawLength);
    const all = f.read(0, f.size);
    return PackIndex.parse(path, all instanceof Promise ? await all : all, hash);
  } finally {
    await f.close();
  }
}

/**
 * A .idx's object count and recorded pack checksum, from its first 1,032 bytes
 * and its tail: what opening a pack checks (git's open_packed_git). A pack
 * read through a MIDX needs no more of its index until a REF_DELTA base or an
 * entry's exact end is looked up. The fanout's order is checked (checkIndexHead),
 * as readPackIndex does.
 */
export async function readPackIndexHead(fs: Fs, path: string, hash: HashInfo): Promise<PackIndexHead> {
  const f = await fs.open(path);
  try {
    const H = hash.rawLength;
    const count = await checkIndexHead(f, path, H);
    const r = f.read(f.size - 2 * H, H);
    const packChecksum = r instanceof Promise ? await r : r;
    return { count, packChecksum };
  } finally {
    await f.close();
  }
}

/**
 * Packs of at most this many entries, all below 4 GiB, are sorted by a native
 * sort of (offset * PACKED_MAX + position), exact below 2^53. Measured in a fresh process
 * (the sort runs once per pack, mostly before the JIT has compiled anything):
 * 0.6 ms for 9,000 entries and 6 ms for 64,000, against 6-7 and 8-15 ms for the
 * two-pass radix sort that bigger packs keep.
 */
const PACKED_MAX = 1 << 21;

/**
 * The radix sort's counters and spare array, kept for the process: fresh
 * memory costs ~11 us a page to touch on the machines measured, and new
 * counters (64 pages) for each of 60 packs cost more than sorting them.
 */
let radixCount: Uint32Array | null = null;
let radixTmp: Uint32Array | null = null;
const RADIX_KEEP = 1 << 20;

/** Sorts `order` by keys[order[i]] (each in [0, 2^32)), stably: two counting passes over 16-bit digits. */
function radixSortBy(keys: Float64Array, order: Uint32Array): void {
  const n = order.length;
  // the spare array is kept up to RADIX_KEEP entries (4 MiB); a bigger pack's is its own
  let tmp: Uint32Array;
  if (n > RADIX_KEEP) tmp = new Uint32Array(n);
  else {
    if (!radixTmp || radixTmp.length < n) radixTmp = new Uint32Array(Math.min(RADIX_KEEP, Math.max(n, radixTmp ? radixTmp.length * 2 : 0)));
    tmp = radixTmp;
  }
  const count = (radixCount ??= new Uint32Array(65536));
  for (let pass = 0; pass < 2; pass++) {
    const src = pass === 0 ? order : tmp;
    const dst = pass === 0 ? tmp : order;
    const shift = pass === 0 ? 1 : 65536;
    count.fill(0);
    for (let i = 0; i < n; i++) count[Math.floor(keys[src[i]] / shift) & 0xffff]++;
    let sum = 0;
    for (let d = 0; d < 65536; d++) {
      const c = count[d];
      count[d] = sum;
      sum += c;
    }
    for (let i = 0; i < n; i++) {
      const v = src[i];
      dst[count[Math.floor(keys[v] / shift) & 0xffff]++] = v;
    }
  }
}
