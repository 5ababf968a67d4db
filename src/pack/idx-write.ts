/**
 * Writing a pack index (.idx version 2): fanout, sorted object ids, CRC32s,
 * 31-bit offsets and the table of 64-bit offsets for entries at or past 2^31,
 * then the pack's checksum and the index's own. Byte for byte what git's
 * `index-pack` writes for the same pack.
 */

import type { HashInfo } from '../oid.js';
import { compareOid } from '../oid.js';
import type { Hasher } from '../zlib/index.js';

const IDX_V2_MAGIC = 0xff744f63;
/** git's default `off32_limit`: offsets above it go to the large-offset table */
const OFF32_LIMIT = 0x7fffffff;

/** The pack's objects: ids back to back (N x H bytes), with each one's entry offset and CRC32. */
export interface PackObjectTable {
  readonly count: number;
  readonly oids: Uint8Array;
  readonly offsets: Float64Array;
  readonly crcs: Uint32Array;
}

/** Indices 0..N-1 ordered by object id. */
export function oidOrder(oids: Uint8Array, count: number, H: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  order.sort((a, b) => compareOid(oids, a * H, oids, b * H, H));
  return order;
}

/** The .idx v2 bytes; `order` is `oidOrder` of the table. */
export function encodeIdxV2(table: PackObjectTable, order: Uint32Array, packChecksum: Uint8Array, hash: HashInfo, hasher: Hasher): Uint8Array {
  const H = hash.rawLength;
  const n = table.count;
  let large = 0;
  for (let i = 0; i < n; i++) if (table.offsets[i] > OFF32_LIMIT) large++;
  const oidAt = 8 + 1024;
  const crcAt = oidAt + n * H;
  const offAt = crcAt + 4 * n;
  const largeAt = offAt + 4 * n;
  const size = largeAt + 8 * large + 2 * H;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, IDX_V2_MAGIC);
  dv.setUint32(4, 2);
  const fanout = new Uint32Array(256);
  let k = 0;
  for (let pos = 0; pos < n; pos++) {
    const i = order[pos];
    fanout[table.oids[i * H]]++;
    out.set(table.oids.subarray(i * H, i * H + H), oidAt + pos * H);
    dv.setUint32(crcAt + 4 * pos, table.crcs[i]);
    const off = table.offsets[i];
    if (off > OFF32_LIMIT) {
      dv.setUint32(offAt + 4 * pos, (0x80000000 | k) >>> 0);
      dv.setUint32(largeAt + 8 * k, Math.floor(off / 0x100000000));
      dv.setUint32(largeAt + 8 * k + 4, off >>> 0);
      k++;
    } else dv.setUint32(offAt + 4 * pos, off);
  }
  let sum = 0;
  for (let b = 0; b < 256; b++) {
    sum += fanout[b];
    dv.setUint32(8 + 4 * b, sum);
  }
  out.set(packChecksum, size - 2 * H);
  hasher.update(out.subarray(0, size - H));
  out.set(hasher.digest(), size - H);
  return out;
}
