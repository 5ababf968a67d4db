/**
 * One MIDX file or chain layer (spec 2), searched in place. Opening reads the
 * header, table of contents, pack names and fanout (a few KiB). The OID table
 * and offsets are read lazily: the first lookups read just their fanout
 * bucket at a position, and once lookups keep coming the tables are loaded
 * whole and binary-searched as raw bytes.
 */

import { CorruptError } from '../errors.js';
import type { RandomAccessFile } from '../io/fs.js';
import { compareBytewise, fanoutLowerBound, searchOid, type HashInfo, toHex } from '../oid.js';
import { type Codec, fileTrailerMatches } from '../zlib/index.js';
import {
  type ChunkRange,
  CHUNK_LOFF,
  CHUNK_OIDF,
  CHUNK_OIDL,
  CHUNK_OOFF,
  CHUNK_PNAM,
  hex32,
  MIDX_HEADER_SIZE,
  MIDX_SIGNATURE,
  parseToc,
  TOC_ENTRY_SIZE,
} from './chunks.js';
import { isReady } from '../util.js';

/**
 * A MIDX that cannot be used. `fatal` marks the cases where git dies (bad
 * signature, unknown version, a required chunk missing or corrupt, PNAM too
 * short, v1 names out of order); the others make git ignore the file.
 */
export class MidxLoadError extends CorruptError {
  constructor(file: string, reason: string, readonly fatal: boolean) {
    super(file, reason);
  }
}

/** Lookups answered by positional reads before the OID and offset tables are loaded whole. */
const POSITIONAL_LOOKUPS = 16;
/** Files up to this size are read in one go at open. */
const SMALL_FILE = 256 * 1024;

export class MidxFile {
  readonly version: number;
  readonly hashId: number;
  readonly numPacks: number;
  readonly numObjects: number;
  /** pack names in PNAM order (local pack-int-id order) */
  readonly packNames: string[];
  readonly fanout: Uint32Array;
  readonly chunks: Map<number, ChunkRange>;
  /** trailing checksum */
  readonly checksum: Uint8Array;
  /** objects and packs in the layers below (0 for a non-incremental MIDX or a root layer) */
  numObjectsInBase = 0;
  numPacksInBase = 0;
  /** the layer below, for chains */
  base: MidxFile | null = null;
  private oidl: Uint8Array | null = null;
  private ooff: DataView | null = null;
  private loff: DataView | null = null;
  private positionalLookups = 0;
  private loading: Promise<void> | null = null;

  private constructor(
    readonly file: string,
    private readonly raf: RandomAccessFile,
    readonly size: number,
    readonly hash: HashInfo,
    header: DataView,
    chunks: Map<number, ChunkRange>,
    names: string[],
    fanout: Uint32Array,
    checksum: Uint8Array,
    whole: Uint8Array | null,
  ) {
    this.version = header.getUint8(4);
    this.hashId = header.getUint8(5);
    this.numPacks = header.getUint32(8);
    this.chunks = chunks;
    this.packNames = names;
    this.fanout = fanout;
    this.numObjects = fanout[255];
    this.checksum = checksum;
    if (whole) this.adoptWhole(whole);
  }

  get checksumHex(): string {
    return toHex(this.checksum);
  }

  /**
   * Opens and validates a MIDX in git's load order: size, signature, version,
   * hash id, table of contents, required chunks and their sizes, fanout order,
   * pack names. Throws MidxLoadError with git's message.
   */
  static async open(raf: RandomAccessFile, hash: HashInfo): Promise<MidxFile> {
    const file = raf.path;
    const size = raf.size;
    const H = hash.rawLength;
    const fail = (reason: string, fatal: boolean) => new MidxLoadError(file, reason, fatal);
    if (size < MIDX_HEADER_SIZE + H) throw fail(`multi-pack-index file ${file} is too small`, false);
    const whole = size <= SMALL_FILE ? await raf.read(0, size) : null;
    const read = async (pos: number, len: number) => (whole ? whole.subarray(pos, pos + len) : await raf.read(pos, len));
    const head = await read(0, MIDX_HEADER_SIZE);
    const dv = new DataView(head.buffer, head.byteOffset, MIDX_HEADER_SIZE);
    const sig = dv.getUint32(0);
    if (sig !== MIDX_SIGNATURE) {
      throw fail(`multi-pack-index signature 0x${sig.toString(16).padStart(8, '0')} does not match signature 0x${MIDX_SIGNATURE.toString(16)}`, true);
    }
    const version = dv.getUint8(4);
    if (version !== 1 && version !== 2) throw fail(`multi-pack-index version ${version} not recognized`, true);
    const hashId = dv.getUint8(5);
    if (hashId !== hash.formatId) throw fail(`multi-pack-index hash version ${hashId} does not match version ${hash.formatId}`, false);
    const numChunks = dv.getUint8(6);
    const tocLen = TOC_ENTRY_SIZE * (numChunks + 1);
    if (MIDX_HEADER_SIZE + tocLen > size - H) throw fail(`table of contents (${numChunks} chunks) does not fit in the file`, false);
    const toc = await read(MIDX_HEADER_SIZE, tocLen);
    const parsed = parseToc(toc, numChunks, size, H);
    if (typeof parsed === 'string') throw fail(parsed, false);
    // the checksum follows the last chunk: bytes in between are not a MIDX's
    // (git does not look; refusing them bounds every later read of the file)
    const end = parsed.length ? parsed[parsed.length - 1].offset + parsed[parsed.length - 1].size : MIDX_HEADER_SIZE + tocLen;
    if (end !== size - H) throw fail(`multi-pack-index chunks end at ${end}, but the file has ${size - H - end} more bytes before its checksum`, false);
    const chunks = new Map<number, ChunkRange>();
    for (const c of parsed) chunks.set(c.id, c);
    const pnam = chunks.get(CHUNK_PNAM);
    if (!pnam) throw fail('multi-pack-index required pack-name chunk missing or corrupted', true);
    const oidf = chunks.get(CHUNK_OIDF);
    if (!oidf || oidf.size !== 1024) {
      throw fail(oidf ? 'multi-pack-index OID fanout is of the wrong size' : 'multi-pack-index required OID fanout chunk missing or corrupted', true);
    }
    const fanoutBytes = await read(oidf.offset, 1024);
    const fdv = new DataView(fanoutBytes.buffer, fanoutBytes.byteOffset, 1024);
    const fanout = new Uint32Array(256);
    for (let i = 0; i < 256; i++) fanout[i] = fdv.getUint32(4 * i);
    for (let i = 0; i < 255; i++) {
      if (fanout[i] > fanout[i + 1]) {
        throw fail(`oid fanout out of order: fanout[${i}] = ${hex32(fanout[i])} > ${hex32(fanout[i + 1])} = fanout[${i + 1}]`, true);
      }
    }
    const n = fanout[255];
    const oidl = chunks.get(CHUNK_OIDL);
    if (!oidl || oidl.size !== n * H) {
      throw fail(oidl ? 'multi-pack-index OID lookup chunk is the wrong size' : 'multi-pack-index required OID lookup chunk missing or corrupted', true);
    }
    const ooff = chunks.get(CHUNK_OOFF);
    if (!ooff || ooff.size !== n * 8) {
      throw fail(ooff ? 'multi-pack-index object offset chunk is the wrong size' : 'multi-pack-index required object offsets chunk missing or corrupted', true);
    }
    const loff = chunks.get(CHUNK_LOFF);
    if (loff && loff.size % 8 !== 0) throw fail('multi-pack-index large offset chunk is not a whole number of entries', false);
    // pack names
    const numPacks = dv.getUint32(8);
    const pnamBytes = await read(pnam.offset, pnam.size);
    const names: string[] = [];
    const dec = new TextDecoder();
    let p = 0;
    for (let i = 0; i < numPacks; i++) {
      const nul = pnamBytes.indexOf(0, p);
      if (nul < 0) throw fail('multi-pack-index pack-name chunk is too short', true);
      const name = dec.decode(pnamBytes.subarray(p, nul));
      if (version === 1 && i > 0 && compareBytewise(names[i - 1], name) >= 0) {
        throw fail(`multi-pack-index pack names out of order: '${names[i - 1]}' before '${name}'`, true);
      }
      names.push(name);
      p = nul + 1;
    }
    const checksum = (await read(size - H, H)).slice();
    return new MidxFile(file, raf, size, hash, dv, chunks, names, fanout, checksum, whole);
  }

  private adoptWhole(whole: Uint8Array): void {
    const oidl = this.chunks.get(CHUNK_OIDL)!;
    const ooff = this.chunks.get(CHUNK_OOFF)!;
    const loff = this.chunks.get(CHUNK_LOFF);
    this.oidl = whole.subarray(oidl.offset, oidl.offset + oidl.size);
    this.ooff = new DataView(whole.buffer, whole.byteOffset + ooff.offset, ooff.size);
    if (loff) this.loff = new DataView(whole.buffer, whole.byteOffset + loff.offset, loff.size);
  }

  /** Loads the OID, offset and large-offset tables whole (one read each). */
  loadTables(): Promise<void> {
    if (this.oidl) return Promise.resolve();
    if (!this.loading) {
      this.loading = (async () => {
        const oidl = this.chunks.get(CHUNK_OIDL)!;
        const ooff = this.chunks.get(CHUNK_OOFF)!;
        const loff = this.chunks.get(CHUNK_LOFF);
        const a = await this.raf.read(oidl.offset, oidl.size);
        const b = await this.raf.read(ooff.offset, ooff.size);
        if (loff) {
          const c = await this.raf.read(loff.offset, loff.size);
          this.loff = new DataView(c.buffer, c.byteOffset, c.byteLength);
        }
        this.ooff = new DataView(b.buffer, b.byteOffset, b.byteLength);
        this.oidl = a;
      })();
    }
    return this.loading;
  }

  get tablesLoaded(): boolean {
    return this.oidl !== null;
  }

  /**
   * Local position of `oid` in this layer, or -1: from the tables when they are
   * loaded, else by a positional search in the file. Code that knows the
   * tables are loaded (tablesLoaded) calls findLoaded, which makes no promise.
   */
  async find(oid: Uint8Array, oidOff = 0): Promise<number> {
    if (this.oidl) return this.findLoaded(oid, oidOff);
    const b = oid[oidOff];
    const lo = b === 0 ? 0 : this.fanout[b - 1];
    const hi = this.fanout[b];
    if (lo >= hi) return -1;
    return this.findPositional(oid, oidOff, lo, hi);
  }

  private async findPositional(oid: Uint8Array, oidOff: number, lo: number, hi: number): Promise<number> {
    if (++this.positionalLookups > POSITIONAL_LOOKUPS) {
      await this.loadTables();
      return this.find(oid, oidOff);
    }
    const H = this.hash.rawLength;
    const base = this.chunks.get(CHUNK_OIDL)!.offset;
    const r = this.raf.read(base + lo * H, (hi - lo) * H);
    const bucket = isReady(r) ? r : await r;
    const at = searchOid(bucket, 0, H, 0, hi - lo, oid, oidOff, H);
    return at < 0 ? -1 : lo + at;
  }

  /** The OID at local position i (tables must be loaded: call loadTables first). */
  oidAt(i: number): Uint8Array {
    const H = this.hash.rawLength;
    return this.oidl!.subarray(i * H, i * H + H);
  }

  /** The raw OID table (tables loaded). */
  get oidTable(): Uint8Array {
    return this.oidl!;
  }

  /** First local position whose OID is >= prefix over `len` bytes (tables loaded). */
  lowerBound(prefix: Uint8Array, len: number): number {
    return fanoutLowerBound(this.fanout, this.oidl!, 0, this.hash.rawLength, prefix, len);
  }

  /** find() for a layer whose tables are loaded (loadTables): always a number. */
  findLoaded(oid: Uint8Array, oidOff = 0): number {
    if (!this.oidl) throw new Error(`${this.file}: findLoaded before loadTables`);
    const b = oid[oidOff];
    const H = this.hash.rawLength;
    return searchOid(this.oidl, 0, H, b === 0 ? 0 : this.fanout[b - 1], this.fanout[b], oid, oidOff, H);
  }

  /** entry() for a layer whose tables are loaded: always a value. */
  entryLoaded(i: number): { pack: number; offset: number } {
    if (!this.ooff) throw new Error(`${this.file}: entryLoaded before loadTables`);
    return this.decodeEntry(this.ooff, i * 8);
  }

  /** Local pack-int-id and offset of local position i (entryLoaded, with no promise, once tables are loaded). */
  async entry(i: number): Promise<{ pack: number; offset: number }> {
    if (this.ooff) return this.decodeEntry(this.ooff, i * 8);
    const base = this.chunks.get(CHUNK_OOFF)!.offset;
    const bytes = await this.raf.read(base + i * 8, 8);
    const loff = this.chunks.get(CHUNK_LOFF);
    if (loff && !this.loff) {
      const c = await this.raf.read(loff.offset, loff.size);
      this.loff = new DataView(c.buffer, c.byteOffset, c.byteLength);
    }
    return this.decodeEntry(new DataView(bytes.buffer, bytes.byteOffset, 8), 0);
  }

  packIdAt(i: number): number {
    return this.ooff!.getUint32(i * 8);
  }

  offsetAt(i: number): number {
    return this.decodeEntry(this.ooff!, i * 8).offset;
  }

  private decodeEntry(dv: DataView, at: number): { pack: number; offset: number } {
    const pack = dv.getUint32(at);
    if (pack >= this.numPacks) {
      throw new CorruptError(this.file, `bad pack-int-id: ${pack + this.numPacksInBase} (${this.numPacks + this.numPacksInBase} total packs)`);
    }
    const field = dv.getUint32(at + 4);
    if (this.chunks.has(CHUNK_LOFF) && field & 0x80000000) {
      const k = field & 0x7fffffff;
      const loff = this.loff!;
      if (k >= loff.byteLength / 8) throw new CorruptError(this.file, 'multi-pack-index large offset out of bounds');
      const hi = loff.getUint32(k * 8);
      if (hi >= 0x200000) throw new CorruptError(this.file, 'multi-pack-index large offset beyond 2^53');
      return { pack, offset: hi * 0x100000000 + loff.getUint32(k * 8 + 4) };
    }
    return { pack, offset: field };
  }

  /** Reads a whole chunk (RIDX, BTMP...), or null when absent. */
  async readChunk(id: number): Promise<Uint8Array | null> {
    const c = this.chunks.get(id);
    if (!c) return null;
    return this.raf.read(c.offset, c.size);
  }

  /**
   * Whether the trailing checksum matches the bytes before it, hashed 1 MiB
   * at a time (memory stays flat whatever the file's size).
   */
  checksumMatches(codec: Codec): Promise<boolean> {
    return fileTrailerMatches(codec, this.hash.algorithm, this.raf, this.hash.rawLength);
  }

  /** Every byte of the file (for verification and hashing). */
  readAll(): Promise<Uint8Array> | Uint8Array {
    return this.raf.read(0, this.size);
  }

  close(): void | Promise<void> {
    return this.raf.close();
  }
}
