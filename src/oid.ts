/** Object ids: hex <-> bytes, comparison, and the hash algorithm's sizes. */

import { InvalidArgumentError } from './errors.js';

export type HashAlgorithm = 'sha1' | 'sha256';

export interface HashInfo {
  readonly algorithm: HashAlgorithm;
  /** raw length H: 20 or 32 */
  readonly rawLength: number;
  /** hex length 2H: 40 or 64 */
  readonly hexLength: number;
  /** git's numeric id: 1 for SHA-1, 2 for SHA-256 (MIDX header byte 5, .rev hash id) */
  readonly formatId: number;
}

export const SHA1: HashInfo = Object.freeze({ algorithm: 'sha1', rawLength: 20, hexLength: 40, formatId: 1 });
export const SHA256: HashInfo = Object.freeze({ algorithm: 'sha256', rawLength: 32, hexLength: 64, formatId: 2 });

export function hashInfo(algorithm: HashAlgorithm): HashInfo {
  return algorithm === 'sha256' ? SHA256 : SHA1;
}

const HEX = '0123456789abcdef';
const HEX_BYTE: string[] = [];
for (let i = 0; i < 256; i++) HEX_BYTE.push(HEX[i >> 4] + HEX[i & 15]);

/** Lowercase hex of bytes[start, start+len). */
export function toHex(bytes: Uint8Array, start = 0, len = bytes.length - start): string {
  let s = '';
  for (let i = start; i < start + len; i++) s += HEX_BYTE[bytes[i]];
  return s;
}

function nibble(c: number): number {
  if (c >= 48 && c <= 57) return c - 48; // 0-9
  if (c >= 97 && c <= 102) return c - 87; // a-f
  if (c >= 65 && c <= 70) return c - 55; // A-F
  return -1;
}

export function isHex(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (nibble(s.charCodeAt(i)) < 0) return false;
  return true;
}

/** Bytes of an even-length hex string; throws InvalidArgumentError on a non-hex character. */
export function fromHex(hex: string, out = new Uint8Array(hex.length >> 1), outOffset = 0): Uint8Array {
  if (hex.length & 1) throw new InvalidArgumentError(`odd-length hex string: ${hex}`);
  for (let i = 0, j = outOffset; i < hex.length; i += 2, j++) {
    const hi = nibble(hex.charCodeAt(i));
    const lo = nibble(hex.charCodeAt(i + 1));
    if (hi < 0 || lo < 0) throw new InvalidArgumentError(`not a hex object id: ${hex}`);
    out[j] = (hi << 4) | lo;
  }
  return out;
}

/** Parses a full object id for this hash; throws InvalidArgumentError when it is not one. */
export function parseOid(oid: string, hash: HashInfo): Uint8Array {
  if (typeof oid !== 'string' || oid.length !== hash.hexLength || !isHex(oid)) {
    throw new InvalidArgumentError(`not a ${hash.algorithm} object id: ${String(oid)}`);
  }
  return fromHex(oid);
}

/**
 * Compares the H-byte id at a[aOff] with b[bOff]; negative, 0 or positive.
 * A plain loop: for 20-32 bytes it beats Buffer.compare on subarrays (no allocation).
 */
export function compareOid(a: Uint8Array, aOff: number, b: Uint8Array, bOff: number, len: number): number {
  for (let i = 0; i < len; i++) {
    const d = a[aOff + i] - b[bOff + i];
    if (d !== 0) return d;
  }
  return 0;
}

/*
 * Sorted OID tables. Every table this package searches (a MIDX layer's OIDL chunk,
 * a .idx's names, a bucket read from either) is entry i at table[first + i * stride],
 * ascending, with a 256-entry fanout giving each first byte's end. One search for all.
 */

/**
 * Position of `key` (H bytes at keyOff) among entries [lo, hi), or -1: git's
 * `bsearch_hash`, with its probes and its stop at the first equal entry, so that a
 * corrupt (unsorted) table gives the answer git gives.
 */
export function searchOid(table: Uint8Array, first: number, stride: number, lo: number, hi: number, key: Uint8Array, keyOff: number, H: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareOid(table, first + mid * stride, key, keyOff, H);
    if (c === 0) return mid;
    if (c < 0) lo = mid + 1;
    else hi = mid;
  }
  return -1;
}

/** searchOid within the fanout bucket of the key's first byte. */
export function fanoutSearch(fanout: Uint32Array, table: Uint8Array, first: number, stride: number, key: Uint8Array, keyOff: number, H: number): number {
  const b = key[keyOff];
  return searchOid(table, first, stride, b === 0 ? 0 : fanout[b - 1], fanout[b], key, keyOff, H);
}

/** First position in the fanout bucket of prefix[0] whose entry is >= `prefix` over `len` bytes. */
export function fanoutLowerBound(fanout: Uint32Array, table: Uint8Array, first: number, stride: number, prefix: Uint8Array, len: number): number {
  const b = prefix[0];
  let lo = b === 0 ? 0 : fanout[b - 1];
  let hi = fanout[b];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareOid(table, first + mid * stride, prefix, 0, len) < 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Bytewise (strcmp) order of two strings' UTF-8 encodings, as git orders pack names. */
export function compareBytewise(a: string, b: string): number {
  const enc = new TextEncoder();
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}
