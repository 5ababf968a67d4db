/**
 * inflate/deflate and hashing: node's native zlib and crypto where they exist,
 * JavaScript (fflate, src/zlib/js.ts) and WebCrypto elsewhere (browsers). Loaded once by `loadCodec()`; the
 * browser path imports no Node built-in.
 */

import type { HashAlgorithm } from '../oid.js';
import { jsDeflate, jsInflate, jsInflateExact, jsInflatePrefix } from './js.js';
import { type Hasher, jsCrc32, jsHasher } from './stream-hash.js';
import { errorCode } from '../util.js';

export type { Hasher } from './stream-hash.js';

/**
 * Where inflateExact writes instead of a new buffer: `buffer[at, at + size)`,
 * and the caller must leave one byte more after it (a stream longer than `size`
 * fills that byte and is refused; node's zlib binding aborts the process on an
 * output range past the buffer's end). The result is a view of the region.
 */
export interface OutputRegion {
  buffer: Uint8Array;
  at: number;
}

export interface Codec {
  readonly native: boolean;
  /** Inflates a whole zlib stream. Throws (a plain Error) on a bad or truncated stream. */
  inflate(data: Uint8Array): Uint8Array;
  /**
   * Inflates a zlib stream whose output is known to be exactly `size` bytes (a
   * pack entry's header says so). Throws (a plain Error) when the stream is bad,
   * does not end, or ends at another size.
   */
  inflateExact(data: Uint8Array, size: number, into?: OutputRegion): Uint8Array;
  /**
   * Inflates as much of a possibly truncated stream as the input allows, stopping
   * once `want` output bytes exist. Used to read a delta's size header without
   * inflating the delta.
   */
  inflatePrefix(data: Uint8Array, want: number): Uint8Array;
  deflate(data: Uint8Array, level?: number): Uint8Array;
  /** Digest of data; synchronous where node's crypto is present. */
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
  /** An incremental digest (node:crypto, or plain JavaScript where WebCrypto is all there is). */
  hasher(algorithm: HashAlgorithm): Hasher;
  /** zlib's CRC-32 of data, continuing from `crc` (0 to start). */
  crc32(data: Uint8Array, crc?: number): number;
}

let loaded: Promise<Codec> | null = null;

/**
 * Whether a file's trailing checksum (its last `hashLength` bytes: MIDX, .idx,
 * .rev, .bitmap) is the digest of everything before it. Synchronous where the
 * codec's hash is.
 */
export function trailerMatches(codec: Codec, algorithm: HashAlgorithm, bytes: Uint8Array, hashLength: number): boolean | Promise<boolean> {
  const end = bytes.length - hashLength;
  if (end < 0) return false;
  const same = (sum: Uint8Array) => {
    for (let i = 0; i < hashLength; i++) if (sum[i] !== bytes[end + i]) return false;
    return true;
  };
  const r = codec.hash(algorithm, bytes.subarray(0, end));
  return r instanceof Promise ? r.then(same) : same(r);
}

/** What fileTrailerMatches reads: a random-access file (io's RandomAccessFile has this shape). */
export interface PositionalSource {
  readonly size: number;
  read(pos: number, len: number): Uint8Array | Promise<Uint8Array>;
  readInto(target: Uint8Array, pos: number, len: number): void | Promise<void>;
}

/** trailerMatches for a file read 1 MiB at a time: memory stays flat whatever the file's size. */
export async function fileTrailerMatches(codec: Codec, algorithm: HashAlgorithm, file: PositionalSource, hashLength: number): Promise<boolean> {
  const end = file.size - hashLength;
  if (end < 0) return false;
  const hasher = codec.hasher(algorithm);
  const step = 1024 * 1024;
  const buf = new Uint8Array(Math.max(1, Math.min(step, end)));
  for (let pos = 0; pos < end; pos += step) {
    const len = Math.min(step, end - pos);
    const r = file.readInto(buf, pos, len);
    if (r instanceof Promise) await r;
    hasher.update(buf.subarray(0, len));
  }
  const t = file.read(end, hashLength);
  const trailer = t instanceof Promise ? await t : t;
  const sum = hasher.digest();
  for (let i = 0; i < hashLength; i++) if (sum[i] !== trailer[i]) return false;
  return true;
}

function checkSize(out: Uint8Array, size: number): Uint8Array {
  if (out.length !== size) throw new Error(`stream inflates to ${out.length} bytes, expected ${size}`);
  return out;
}

function jsCodec(): Codec {
  return {
    native: false,
    inflate: jsInflate,
    inflateExact: jsInflateExact,
    inflatePrefix: jsInflatePrefix,
    deflate: jsDeflate,
    async hash(algorithm, data) {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) throw new Error('no WebCrypto: cannot hash');
      return new Uint8Array(await subtle.digest(algorithm === 'sha256' ? 'SHA-256' : 'SHA-1', data as Uint8Array<ArrayBuffer>));
    },
    hasher: jsHasher,
    crc32: jsCrc32,
  };
}

async function nodeCodec(): Promise<Codec | null> {
  try {
    const zlibName = 'node:zlib';
    const cryptoName = 'node:crypto';
    const zlib = await import(/* @vite-ignore */ zlibName);
    const crypto = await import(/* @vite-ignore */ cryptoName);
    const syncFlush = { finishFlush: zlib.constants.Z_SYNC_FLUSH };
    const toU8 = (b: Buffer) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
    const reused = reusableInflater(zlib);
    return {
      native: true,
      inflate(data) {
        return toU8(zlib.inflateSync(data));
      },
      inflateExact(data, size, into) {
        const out = reused?.exact(data, size, into);
        if (out) return out;
        let whole: Buffer;
        try {
          // one byte over `size`: a longer stream stops there instead of inflating whole
          whole = zlib.inflateSync(data, { maxOutputLength: size + 1 });
        } catch (err) {
          if (errorCode(err) === 'ERR_BUFFER_TOO_LARGE') throw new Error(`stream inflates to more than ${size} bytes`);
          throw err;
        }
        const result = checkSize(toU8(whole), size);
        if (!into) return result;
        into.buffer.set(result, into.at);
        return into.buffer.subarray(into.at, into.at + size);
      },
      inflatePrefix(data, want) {
        const out = reused?.prefix(data, want);
        if (out) return out;
        // a truncated stream with sync flush yields what it could inflate (a
        // longer output is cut off: the JS codec's chunked prefix then stops at `want`)
        try {
          return toU8(zlib.inflateSync(data, { ...syncFlush, maxOutputLength: Math.max(want, 1) }));
        } catch {
          return jsInflatePrefix(data, want);
        }
      },
      deflate(data, level = 1) {
        return toU8(zlib.deflateSync(data, { level }));
      },
      hash(algorithm, data) {
        return toU8(crypto.createHash(algorithm).update(data).digest());
      },
      hasher(algorithm) {
        const h = crypto.createHash(algorithm);
        return {
          update(data: Uint8Array) {
            h.update(data);
          },
          digest: () => toU8(h.digest()),
        };
      },
      crc32: typeof zlib.crc32 === 'function' ? (data: Uint8Array, crc = 0) => zlib.crc32(data, crc) >>> 0 : jsCrc32,
    };
  } catch {
    return null;
  }
}

/**
 * zlib.inflateSync builds and tears down a zlib engine per call, which costs
 * more than inflating a small object. One engine, reset between streams and
 * driven through its synchronous handle, inflates straight into an exact-size
 * buffer. Those are node internals: every piece is feature-checked, an engine
 * that saw an error is thrown away (node may have closed it), and when the
 * shape is not there the caller falls back to inflateSync.
 * Returns null to ask for that fallback.
 */
function reusableInflater(zlib: any): {
  exact: (data: Uint8Array, size: number, into?: OutputRegion) => Uint8Array | null;
  prefix: (data: Uint8Array, want: number) => Uint8Array | null;
} | null {
  const Z_FINISH = zlib.constants?.Z_FINISH;
  let engine: any = null;
  let handle: any = null;
  let state: Uint32Array | null = null;
  let error: string | null = null;
  const fresh = (): boolean => {
    try {
      engine = new zlib.Inflate();
      handle = engine._handle;
      state = engine._writeState;
      if (!handle || typeof handle.writeSync !== 'function' || typeof handle.reset !== 'function' || !(state instanceof Uint32Array)) return false;
      handle.onerror = (message: string) => {
        error = message;
      };
      return true;
    } catch {
      return false;
    }
  };
  if (typeof Z_FINISH !== 'number' || !fresh()) return null;
  const ready = () => (engine && handle && engine._handle === handle) || fresh();
  const exact = (data: Uint8Array, size: number, into?: OutputRegion): Uint8Array | null => {
    if (!ready()) return null;
    error = null;
    // one spare byte: a complete stream leaves it unused, a stream cut short
    // (even by its checksum alone) then fails as "unexpected end of file"
    const out = into ? into.buffer : new Uint8Array(size + 1);
    const at = into ? into.at : 0;
    handle.reset();
    handle.writeSync(Z_FINISH, data, 0, data.length, out, at, size + 1);
    if (error !== null) {
      const message = error;
      engine = null;
      throw new Error(message);
    }
    const availOut = state![0];
    if (availOut !== 1) {
      engine = null;
      throw new Error(availOut === 0 ? `stream inflates to more than ${size} bytes` : `stream inflates to ${size + 1 - availOut} bytes, expected ${size}`);
    }
    return out.subarray(at, at + size);
  };
  const Z_SYNC_FLUSH = zlib.constants.Z_SYNC_FLUSH;
  /** the first `want` bytes (fewer when the input ends first), or null to ask for the fallback */
  const prefix = (data: Uint8Array, want: number): Uint8Array | null => {
    if (!ready()) return null;
    error = null;
    const out = new Uint8Array(want);
    handle.reset();
    handle.writeSync(Z_SYNC_FLUSH, data, 0, data.length, out, 0, want);
    if (error !== null) {
      engine = null;
      return null;
    }
    return out.subarray(0, want - state![0]);
  };
  return { exact, prefix };
}

/**
 * The codec for this platform: node's zlib when present, the JavaScript codec
 * (fflate, src/zlib/js.ts) otherwise or when `forceJs` (`forcePako`: its old name).
 */
export function loadCodec(options: { forceJs?: boolean; forcePako?: boolean } = {}): Promise<Codec> {
  if (options.forceJs || options.forcePako) return Promise.resolve(jsCodec());
  if (!loaded) {
    const isNode = typeof globalThis.process === 'object' && !!(globalThis.process as { versions?: { node?: string } }).versions?.node;
    loaded = (isNode ? nodeCodec() : Promise.resolve(null)).then((c) => c ?? jsCodec());
  }
  return loaded;
}
