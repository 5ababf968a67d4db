/** Loose objects: objects/xx/yyyy…, a zlib stream of "<type> <size>\0<content>". */

import { CorruptError } from '../errors.js';
import type { Fs, RandomAccessFile } from '../io/fs.js';
import { isNotFound, join } from '../io/fs.js';
import type { HashInfo } from '../oid.js';
import { isHex } from '../oid.js';
import type { Codec } from '../zlib/index.js';
import { MAX_ZLIB_RATIO, type RawObject } from '../pack/pack.js';

/** inflated bytes enough for any valid header ("commit 18446744073709551615\0" is 28) */
const HEADER_PROBE = 64;

/** Bytes read from the start of a loose object file to find its header. */
const PROBE = 64 * 1024;

const TYPE_IDS: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

function parseHeader(bytes: Uint8Array, file: string): { type: number; size: number; start: number } | null {
  const nul = bytes.indexOf(0);
  if (nul < 0) {
    if (bytes.length > 64) throw new CorruptError(file, 'loose object header has no NUL');
    return null;
  }
  const head = new TextDecoder().decode(bytes.subarray(0, nul));
  const m = /^(commit|tree|blob|tag) (0|[1-9][0-9]*)$/.exec(head);
  if (!m) throw new CorruptError(file, `bad loose object header "${head.slice(0, 40)}"`);
  const size = Number(m[2]);
  if (!Number.isSafeInteger(size)) throw new CorruptError(file, 'loose object size too large');
  return { type: TYPE_IDS[m[1]], size, start: nul + 1 };
}

export class LooseBackend {
  readonly objectsDir: string;
  /** objectsDir with its trailing slash ('' for '') */
  private readonly prefix: string;
  constructor(
    private readonly fs: Fs,
    objectsDir: string,
    private readonly codec: Codec,
    private readonly hash: HashInfo,
  ) {
    this.objectsDir = objectsDir;
    this.prefix = objectsDir === '' ? '' : objectsDir.endsWith('/') ? objectsDir : objectsDir + '/';
  }

  pathOf(hex: string): string {
    // join()'s result, without its per-part normalising (a miss's hot path)
    return this.prefix + hex.slice(0, 2) + '/' + hex.slice(2);
  }

  /**
   * The compressed bytes of a loose object file, null when there is none. Only
   * a regular file is read, and only once the header at its start declares a
   * size that a zlib stream of the file's size can hold (deflate never makes
   * data much bigger): a huge or hostile file is refused after its first 64 KiB.
   */
  async readCompressed(hex: string): Promise<Uint8Array | null> {
    const file = this.pathOf(hex);
    return this.withFile(file, async (f, probe) => {
      const size = f.size;
      if (size <= PROBE) return probe;
      const h = this.header(probe, file);
      const bound = 2 * (h.start + h.size) + PROBE;
      if (size > bound) throw new CorruptError(file, `loose object file is ${size} bytes, more than a zlib stream of the ${h.size} bytes its header declares can be`);
      const all = f.read(0, size);
      return all instanceof Promise ? await all : all;
    });
  }

  /**
   * Opens a loose object file (null when there is none: a synchronous stat
   * answers a miss without a trip through the thread pool where the fs has one),
   * reads its first PROBE bytes and hands both to `use`; the file is closed after.
   */
  private async withFile<T>(file: string, use: (f: RandomAccessFile, probe: Uint8Array) => Promise<T>): Promise<T | null> {
    if (this.absentNow(file)) return null;
    let f: RandomAccessFile;
    try {
      f = await this.fs.open(file);
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
    try {
      const r = f.read(0, Math.min(f.size, PROBE));
      return await use(f, r instanceof Promise ? await r : r);
    } finally {
      await f.close();
    }
  }

  async read(hex: string): Promise<RawObject | null> {
    const file = this.pathOf(hex);
    const compressed = await this.readCompressed(hex);
    if (!compressed) return null;
    // the header first, then exactly the bytes it announces: a stream that
    // inflates to more stops one byte past them (a zlib bomb costs its header's size)
    const h = this.header(compressed, file);
    const total = h.start + h.size;
    if (total > compressed.length * MAX_ZLIB_RATIO) {
      throw new CorruptError(file, `loose object header says ${h.size} bytes, more than its ${compressed.length} compressed bytes can inflate to`);
    }
    let bytes: Uint8Array;
    try {
      bytes = this.codec.inflateExact(compressed, total);
    } catch (err) {
      const message = (err as Error).message;
      const m = /inflates to (more than )?(\d+) bytes/.exec(message);
      if (m) throw new CorruptError(file, `loose object is ${m[1] ?? ''}${Number(m[2]) - h.start} bytes, its header says ${h.size}`, { cause: err });
      throw new CorruptError(file, `bad zlib stream: ${message}`, { cause: err });
    }
    return { type: h.type, data: bytes.subarray(h.start) };
  }

  async readHeader(hex: string): Promise<{ type: number; size: number } | null> {
    const file = this.pathOf(hex);
    // the header is in the first bytes: a big file is not read whole for it
    return this.withFile(file, async (_f, probe) => {
      const h = this.header(probe, file);
      return { type: h.type, size: h.size };
    });
  }

  /** The "<type> <size>\0" header, from the first inflated bytes only. */
  private header(compressed: Uint8Array, file: string): { type: number; size: number; start: number } {
    let head: Uint8Array;
    try {
      head = this.codec.inflatePrefix(compressed, HEADER_PROBE);
    } catch (err) {
      throw new CorruptError(file, `bad zlib stream: ${(err as Error).message}`, { cause: err });
    }
    const h = parseHeader(head, file);
    if (!h) throw new CorruptError(file, head.length ? 'truncated loose object header' : 'bad zlib stream: no header inflates');
    return h;
  }

  async exists(hex: string): Promise<boolean> {
    const path = this.pathOf(hex);
    let st;
    try {
      st = this.fs.statSync ? this.fs.statSync(path) : await this.fs.stat(path);
    } catch {
      // a symlink loop, a file where a directory should be: no object there
      return false;
    }
    return !!st && st.isFile;
  }

  /** True when a synchronous stat says there is no loose object `hex` (false when it cannot tell). */
  missingNow(hex: string): boolean {
    return this.absentNow(this.pathOf(hex));
  }

  /**
   * True when a synchronous stat says nothing is at `file` (a miss answered
   * without a trip through the thread pool). Any other answer, an error
   * included (a symlink loop), leaves the decision to the checked open.
   */
  private absentNow(file: string): boolean {
    if (!this.fs.statSync) return false;
    try {
      return !this.fs.statSync(file);
    } catch {
      return false;
    }
  }

  /**
   * Fan-out directory listings kept for prefix lookups, as git keeps its loose
   * object cache: forgotten by `forgetListings()` (on refresh, and before the
   * retry that follows a miss).
   */
  private listings = new Map<string, string[] | null>();

  forgetListings(): void {
    this.listings.clear();
  }

  /** Loose object ids whose hex starts with `prefix` (at least 2 hex digits). */
  async matching(prefix: string): Promise<string[]> {
    const dir = prefix.slice(0, 2);
    let names = this.listings.get(dir);
    if (names === undefined) {
      names = await this.fs.readdir(join(this.objectsDir, dir));
      this.listings.set(dir, names);
    }
    if (!names) return [];
    const rest = prefix.slice(2);
    const out: string[] = [];
    for (const n of names) {
      if (n.length === this.hash.hexLength - 2 && n.startsWith(rest) && isHex(n)) out.push(dir + n.toLowerCase());
    }
    return out;
  }

  /** Every loose object id. */
  async *list(): AsyncGenerator<string> {
    const dirs = await this.fs.readdir(this.objectsDir);
    if (!dirs) return;
    for (const d of dirs.sort()) {
      if (d.length !== 2 || !isHex(d)) continue;
      const names = await this.fs.readdir(join(this.objectsDir, d));
      if (!names) continue;
      for (const n of names.sort()) if (n.length === this.hash.hexLength - 2 && isHex(n)) yield (d + n).toLowerCase();
    }
  }
}
