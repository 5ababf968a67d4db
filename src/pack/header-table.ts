/**
 * A pack's header table: the type and size of every object of one pack, found
 * by one pass over the pack in pack order, so that a header lookup in a pack
 * that answers many of them costs a binary search instead of a walk down a
 * delta chain (a read per link: microseconds each, where git pays a memory
 * access into its mapped pack).
 *
 * The pass reads the pack front to back in large reads (an entry far longer
 * than a read is skipped: only its first bytes are read), parses each entry's
 * header, and:
 * - a whole object's type and size are its header's;
 * - a delta's type is its base's, which comes earlier in the pack (an
 *   OFS_DELTA's base always does; a REF_DELTA's is looked up in the .idx);
 * - a delta's size is its result size, decoded from the first bytes of its
 *   zlib stream when they are literals (zlib/prefix.ts).
 * What the pass cannot tell (a REF_DELTA whose base is later or in another
 * pack, a delta stream that starts otherwise, a size of 4 GiB or more, a
 * header it cannot parse) stays unknown, and lookups of those objects walk
 * their chain as before: the table is a cache, and never the only word on
 * a damaged entry.
 *
 * When to build it is decided per pack (Pack.readHeaderSteps), from what the
 * walks in that pack cost lately (their mean over the last window of
 * WALK_COST_WINDOW walks: the first walks of a process pay for its start, and
 * walks get cheaper as the types of chains are cached) and how many there were: the pass is made once
 * as many walks again as there were so far would cost, at the recent rate and
 * less what a table lookup costs, as much as the pass is estimated to, and
 * the walks so far number an eighth of the pack's entries. A pack
 * that serves a few lookups, or whose walks have become cheap, never pays
 * for a pass; one that serves thousands (every object's header, for a bitmap
 * or a `--batch-all-objects` listing) pays for it early.
 */

import { type PackIndex, rankIn } from './idx.js';
import { OBJ_OFS_DELTA, OBJ_REF_DELTA } from './entry.js';
import { literalPrefix } from '../zlib/prefix.js';

type Steps<T> = Generator<Promise<unknown>, T, unknown>;

/** a size the table does not know (or cannot hold: 4 GiB - 1 or more) */
const UNKNOWN_SIZE = 0xffffffff;

/** bytes per read of the pass */
const SCAN_READ = 1 << 20;
/**
 * An entry whose next entry starts further than this is long: the pass reads
 * only its first SCAN_PROBE bytes, and starts its next read at the next entry.
 */
const LONG_ENTRY = SCAN_READ / 4;
/** the bytes of an entry the pass parses: its header (with a REF_DELTA's base id) and the start of its delta */
const SCAN_PROBE = 96;

/**
 * The pass's estimated cost in milliseconds, as measured in fresh processes on
 * the bench corpora (the pass runs once per pack, mostly before the JIT has
 * compiled it): reads of 1 MiB at about 2 GB/s, and 0.8 us per entry for
 * sorting the index's offsets and parsing the entry (a delta's size decode
 * included).
 */
const SCAN_BYTES_PER_MS = 2e6;
const SCAN_MS_PER_ENTRY = 0.0008;

/** The pass's estimated cost in milliseconds, for a pack of `bytes` bytes and `entries` entries. */
export function scanCost(bytes: number, entries: number): number {
  return bytes / SCAN_BYTES_PER_MS + entries * SCAN_MS_PER_ENTRY;
}

/** what a lookup in a built table costs, in milliseconds (measured: about 1 us, the id's search in the MIDX included) */
const TABLE_LOOKUP_MS = 0.001;
/**
 * Walks, as a share of the pack's entries, before a table is considered: on
 * random lookups a pack's early walks are its dearest (nothing of its chains
 * is cached yet), and measured on the bench corpora they alone would buy
 * passes that the later, cheaper walks never pay back.
 */
const MIN_WALKED = 1 / 8;
/** the walks over which their cost is averaged */
export const WALK_COST_WINDOW = 64;

/**
 * Whether a pack whose header walks were `walks` so far, at `walkMs` each
 * lately, should have its table built, when the pass is estimated at `passMs`:
 * as many walks again would cost more than the pass.
 */
export function tableWorthIt(walks: number, walkMs: number, passMs: number, entries: number): boolean {
  return walks >= entries * MIN_WALKED && walks * (walkMs - TABLE_LOOKUP_MS) >= passMs;
}

/** A clock in milliseconds, for the cost of header walks. */
export const clock: () => number = typeof globalThis.performance?.now === 'function' ? () => globalThis.performance.now() : () => Date.now();

/** A file the pass reads: fills target[0, len) from `pos`, at once or by a promise. */
export interface ScanFile {
  readInto(target: Uint8Array, pos: number, len: number): void | Promise<void>;
}

const sizeHead = new Uint8Array(32);

/**
 * The pass's read buffer, kept for the process (fresh memory costs more to
 * touch than to fill on the machines measured: a pass over 120 small packs
 * spent most of its time in new buffers); a pass that finds it held (another
 * pass waits on I/O) takes one of its own.
 */
const shared = { buffer: null as Uint8Array | null, held: false };

/** The result size at the head of a delta, from its first `n` bytes in `head` (its second varint), or -1. */
function resultSize(head: Uint8Array, n: number): number {
  let p = 0;
  while (p < n && head[p] & 0x80) p++;
  p++;
  let size = 0;
  let scale = 1;
  while (p < n) {
    const c = head[p++];
    size += (c & 0x7f) * scale;
    if (!(c & 0x80)) return size;
    scale *= 128;
    if (scale > 2 ** 49) return -1;
  }
  return -1;
}

export class HeaderTable {
  /** @internal made by build() */
  constructor(
    /** the pack's entry offsets in pack order (the index's, shared) */
    private readonly offsets: Float64Array,
    /** per entry in pack order: the object's type (1..4), 0 when unknown */
    private readonly types: Uint8Array,
    /** per entry in pack order: the object's size, UNKNOWN_SIZE when unknown */
    private readonly sizes: Uint32Array,
  ) {}

  /** entries described */
  get count(): number {
    return this.types.length;
  }

  /** bytes the table holds of its own (the offsets are the index's) */
  get bytes(): number {
    return this.types.byteLength + this.sizes.byteLength;
  }

  /** the rank in pack order of the entry at `offset`, or -1 */
  private rank(offset: number): number {
    return rankIn(this.offsets, offset);
  }

  /** The type of the object whose entry starts at `offset`, or 0 when the table does not know it. */
  typeAt(offset: number): number {
    const k = this.rank(offset);
    return k < 0 ? 0 : this.types[k];
  }

  /** Type and size of the object at `offset` into `out`; false when the table does not know both. */
  headerAt(offset: number, out: { type: number; size: number }): boolean {
    const k = this.rank(offset);
    if (k < 0) return false;
    const type = this.types[k];
    const size = this.sizes[k];
    if (type === 0 || size === UNKNOWN_SIZE) return false;
    out.type = type;
    out.size = size;
    return true;
  }

  /**
   * The pass over the pack (entries end at `packEnd`, where its trailer starts).
   * Parsing stops at an entry's bounds: a header that runs past its entry, a
   * base that is no entry's start, leave that entry unknown.
   */
  static *build(file: ScanFile, idx: PackIndex, packEnd: number, hashLength: number): Steps<HeaderTable> {
    const offsets = idx.sortedOffsets();
    const n = offsets.length;
    const types = new Uint8Array(n);
    const sizes = new Uint32Array(n).fill(UNKNOWN_SIZE);
    const own = shared.held;
    const buf = own ? new Uint8Array(SCAN_READ) : (shared.buffer ??= new Uint8Array(SCAN_READ));
    if (!own) shared.held = true;
    try {
      return yield* scan(file, idx, packEnd, hashLength, buf, offsets, types, sizes);
    } finally {
      if (!own) shared.held = false;
    }
  }
}

function* scan(file: ScanFile, idx: PackIndex, packEnd: number, hashLength: number, buf: Uint8Array, offsets: Float64Array, types: Uint8Array, sizes: Uint32Array): Steps<HeaderTable> {
    const n = offsets.length;
    // the bytes [from, to) of the pack are in buf[0, to - from)
    let from = 0;
    let to = 0;
    for (let k = 0; k < n; k++) {
      const at = offsets[k];
      const end = k + 1 < n ? offsets[k + 1] : packEnd;
      if (at < 12 || end > packEnd || end <= at) continue;
      const want = Math.min(end, at + SCAN_PROBE + hashLength);
      if (at < from || want > to) {
        const len = end - at > LONG_ENTRY ? want - at : Math.min(SCAN_READ, packEnd - at);
        const r = file.readInto(buf, at, len);
        if (r instanceof Promise) yield r;
        from = at;
        to = at + len;
      }
      // the entry's header, parsed within the entry's bytes
      let p = at - from;
      const stop = Math.min(end, to) - from;
      let c = buf[p++];
      const kind = (c >> 4) & 7;
      let size = c & 15;
      let shift = 4;
      let ok = true;
      while (c & 0x80) {
        if (p >= stop || shift > 49) {
          ok = false;
          break;
        }
        c = buf[p++];
        size += (c & 0x7f) * 2 ** shift;
        shift += 7;
      }
      if (!ok) continue;
      if (kind >= 1 && kind <= 4) {
        types[k] = kind;
        if (size < UNKNOWN_SIZE) sizes[k] = size;
        continue;
      }
      let base = -1;
      if (kind === OBJ_OFS_DELTA) {
        if (p >= stop) continue;
        c = buf[p++];
        let v = c & 0x7f;
        while (c & 0x80) {
          if (p >= stop || v > 2 ** 45) {
            ok = false;
            break;
          }
          c = buf[p++];
          v = (v + 1) * 128 + (c & 0x7f);
        }
        if (!ok || v <= 0 || v > at) continue;
        base = rankIn(offsets, at - v, k);
      } else if (kind === OBJ_REF_DELTA) {
        if (p + hashLength > stop) continue;
        const pos = idx.find(buf, p);
        p += hashLength;
        if (pos >= 0) base = rankIn(offsets, idx.offsetAt(pos), k);
      } else continue;
      if (base >= 0) types[k] = types[base];
      const got = literalPrefix(buf, sizeHead, 2, p, stop);
      if (got > 0) {
        const result = resultSize(sizeHead, got);
        if (result >= 0 && result < UNKNOWN_SIZE) sizes[k] = result;
      }
    }
    return new HeaderTable(offsets, types, sizes);
}
