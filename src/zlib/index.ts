/**
 * inflate/deflate and hashing: node's native zlib and crypto where they exist,
 * pako and WebCrypto elsewhere (browsers). Loaded once by `loadCodec()`; the
 * browser path imports no Node built-in.
 */

import * as pako from 'pako';
import type { HashAlgorithm } from '../oid.js';

export interface Codec {
  readonly native: boolean;
  /** Inflates a whole zlib stream. Throws (a plain Error) on a bad or truncated stream. */
  inflate(data: Uint8Array): Uint8Array;
  /**
   * Inflates as much of a possibly truncated stream as the input allows, stopping
   * once `want` output bytes exist. Used to read a delta's size header without
   * inflating the delta.
   */
  inflatePrefix(data: Uint8Array, want: number): Uint8Array;
  deflate(data: Uint8Array, level?: number): Uint8Array;
  /** Digest of data; synchronous where node's crypto is present. */
  hash(algorithm: HashAlgorithm, data: Uint8Array): Uint8Array | Promise<Uint8Array>;
}

let loaded: Promise<Codec> | null = null;

function pakoCodec(): Codec {
  return {
    native: false,
    inflate(data) {
      try {
        return pako.inflate(data);
      } catch (err) {
        throw new Error(typeof err === 'string' ? err : (err as Error).message || 'inflate failed');
      }
    },
    inflatePrefix(data, want) {
      const inf = new pako.Inflate();
      const chunk = 64;
      let out = new Uint8Array(0);
      inf.onData = (c: Uint8Array) => {
        const n = new Uint8Array(out.length + c.length);
        n.set(out);
        n.set(c, out.length);
        out = n;
      };
      for (let i = 0; i < data.length && out.length < want && !(inf as unknown as { ended: boolean }).ended; i += chunk) {
        inf.push(data.subarray(i, Math.min(i + chunk, data.length)), false);
        if (inf.err) break;
      }
      return out;
    },
    deflate(data, level = 1) {
      return pako.deflate(data, { level: level as pako.DeflateFunctionOptions['level'] });
    },
    async hash(algorithm, data) {
      const subtle = globalThis.crypto?.subtle;
      if (!subtle) throw new Error('no WebCrypto: cannot hash');
      return new Uint8Array(await subtle.digest(algorithm === 'sha256' ? 'SHA-256' : 'SHA-1', data as Uint8Array<ArrayBuffer>));
    },
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
    return {
      native: true,
      inflate(data) {
        return toU8(zlib.inflateSync(data));
      },
      inflatePrefix(data, want) {
        // a truncated stream with sync flush yields what it could inflate
        try {
          return toU8(zlib.inflateSync(data, syncFlush));
        } catch {
          const out = pakoCodec().inflatePrefix(data, want);
          return out;
        }
      },
      deflate(data, level = 1) {
        return toU8(zlib.deflateSync(data, { level }));
      },
      hash(algorithm, data) {
        return toU8(crypto.createHash(algorithm).update(data).digest());
      },
    };
  } catch {
    return null;
  }
}

/** The codec for this platform (node's zlib when present, pako otherwise). */
export function loadCodec(options: { forcePako?: boolean } = {}): Promise<Codec> {
  if (options.forcePako) return Promise.resolve(pakoCodec());
  if (!loaded) {
    const isNode = typeof globalThis.process === 'object' && !!(globalThis.process as { versions?: { node?: string } }).versions?.node;
    loaded = (isNode ? nodeCodec() : Promise.resolve(null)).then((c) => c ?? pakoCodec());
  }
  return loaded;
}
