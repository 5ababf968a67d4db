/**
 * Writing a pack's reverse index (.rev): for each entry in pack order (by
 * offset), its position in the .idx (object-id order). As git's `index-pack
 * --rev-index` and `pack-objects` write it.
 */

import type { HashInfo } from '../oid.js';
import type { Hasher } from '../zlib/index.js';

/** The magic of a .rev file (a pack's, or a MIDX's before git 2.41 moved it into the RIDX chunk). */
export const RIDX_MAGIC = 0x52494458; // "RIDX"

/** The .rev bytes; `order` lists the objects in .idx order, `offsets[i]` is object i's offset. */
export function encodeRev(offsets: Float64Array, order: Uint32Array, packChecksum: Uint8Array, hash: HashInfo, hasher: Hasher): Uint8Array {
  const H = hash.rawLength;
  const n = order.length;
  // idx positions sorted by the offsets of their objects
  const byOffset = new Uint32Array(n);
  for (let pos = 0; pos < n; pos++) byOffset[pos] = pos;
  byOffset.sort((a, b) => offsets[order[a]] - offsets[order[b]]);
  const size = 12 + 4 * n + 2 * H;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, RIDX_MAGIC);
  dv.setUint32(4, 1);
  dv.setUint32(8, hash.formatId);
  for (let i = 0; i < n; i++) dv.setUint32(12 + 4 * i, byOffset[i]);
  out.set(packChecksum, 12 + 4 * n);
  hasher.update(out.subarray(0, size - H));
  out.set(hasher.digest(), size - H);
  return out;
}
