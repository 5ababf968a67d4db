/**
 * Building the bytes of one MIDX file or chain layer (spec 2, 4.7 steps 8-9),
 * exactly as git's midx-write.c lays them out: header, table of contents,
 * PNAM (padded to 4), OIDF, OIDL, OOFF, LOFF when some offset needs 64 bits,
 * RIDX and BTMP when asked for, then the trailing hash of everything before.
 * Which packs and objects go in is decided elsewhere (select.ts, odb/write.ts).
 */

import type { HashInfo } from '../oid.js';
import {
  CHUNK_BTMP,
  CHUNK_LOFF,
  CHUNK_OIDF,
  CHUNK_OIDL,
  CHUNK_OOFF,
  CHUNK_PNAM,
  CHUNK_RIDX,
  MIDX_HEADER_SIZE,
  MIDX_SIGNATURE,
  TOC_ENTRY_SIZE,
} from './chunks.js';

const TWO_31 = 0x80000000;
const TWO_32 = 0x100000000;

export interface MidxContent {
  hash: HashInfo;
  version: 1 | 2;
  /** `.idx` basenames in PNAM order: the position is the local pack-int-id */
  packNames: string[];
  /** N object ids of H bytes, strictly ascending */
  oids: Uint8Array;
  /** local pack-int-id of each object (OIDL order) */
  packIds: Uint32Array;
  /** pack offset of each object (OIDL order); exact up to 2^53 */
  offsets: Float64Array;
  /**
   * RIDX and BTMP (git's `--bitmap`): `order[j]` is the OIDL index of the
   * object in pseudo-pack slot j (see pseudoPackOrder); `baseObjects` is the
   * object count of the layers below, added to every RIDX value and BTMP
   * position (spec 3.4). Ignored when there are no objects, as git drops both
   * chunks then.
   */
  reverse?: { order: Uint32Array; baseObjects: number } | null;
}

/**
 * Pseudo-pack order (spec 2.4.6, git's midx_pack_order): objects sorted by
 * (preferred ? 0 : 1, local pack id, offset). `preferred[i]` is 1 for an
 * object taken from the preferred pack; null means no object is (compaction).
 * Returns the OIDL index of the object in each slot.
 */
export function pseudoPackOrder(packIds: Uint32Array, offsets: Float64Array, preferred: Uint8Array | null, numPacks: number): Uint32Array {
  const n = packIds.length;
  // counting sort on the group (class, pack), then offsets within each group
  const groups = 2 * numPacks;
  const start = new Uint32Array(groups + 1);
  const groupOf = (i: number) => (preferred && preferred[i] ? 0 : numPacks) + packIds[i];
  for (let i = 0; i < n; i++) start[groupOf(i) + 1]++;
  for (let g = 0; g < groups; g++) start[g + 1] += start[g];
  const order = new Uint32Array(n);
  const fill = start.slice(0, groups);
  for (let i = 0; i < n; i++) order[fill[groupOf(i)]++] = i;
  const byOffset = (a: number, b: number) => offsets[a] - offsets[b];
  for (let g = 0; g < groups; g++) {
    if (start[g + 1] - start[g] > 1) order.subarray(start[g], start[g + 1]).sort(byOffset);
  }
  return order;
}

/** The bytes of PNAM: names NUL-terminated back to back, padded with NULs to a multiple of 4. */
function packNameBytes(names: string[]): Uint8Array {
  const enc = new TextEncoder();
  const parts = names.map((n) => enc.encode(n));
  const len = parts.reduce((s, p) => s + p.length + 1, 0);
  const out = new Uint8Array(len + ((4 - (len % 4)) % 4));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length + 1;
  }
  return out;
}

interface Chunk {
  id: number;
  size: number;
  write(out: Uint8Array, dv: DataView, at: number): void;
}

/**
 * The whole file, trailer included. `digest` hashes bytes with the
 * repository's algorithm (Codec.hash).
 */
export async function buildMidx(c: MidxContent, digest: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
  const H = c.hash.rawLength;
  const n = c.packIds.length;
  if (c.oids.length !== n * H || c.offsets.length !== n) throw new RangeError('buildMidx: oids, packIds and offsets disagree in length');
  const numPacks = c.packNames.length;

  // LOFF (spec 2.4.5): needed iff some offset does not fit in 32 bits; then
  // every offset >= 2^31 goes there, in OIDL order
  let numLarge = 0;
  let largeNeeded = false;
  for (let i = 0; i < n; i++) {
    const off = c.offsets[i];
    if (off >= TWO_31) numLarge++;
    if (off >= TWO_32) largeNeeded = true;
  }

  const pnam = packNameBytes(c.packNames);
  const chunks: Chunk[] = [
    { id: CHUNK_PNAM, size: pnam.length, write: (out, _dv, at) => out.set(pnam, at) },
    {
      id: CHUNK_OIDF,
      size: 1024,
      write: (_out, dv, at) => {
        let i = 0;
        for (let b = 0; b < 256; b++) {
          while (i < n && c.oids[i * H] === b) i++;
          dv.setUint32(at + 4 * b, i);
        }
      },
    },
    { id: CHUNK_OIDL, size: n * H, write: (out, _dv, at) => out.set(c.oids, at) },
    {
      id: CHUNK_OOFF,
      size: 8 * n,
      write: (_out, dv, at) => {
        let k = 0;
        for (let i = 0; i < n; i++) {
          const off = c.offsets[i];
          dv.setUint32(at + 8 * i, c.packIds[i]);
          dv.setUint32(at + 8 * i + 4, largeNeeded && off >= TWO_31 ? (TWO_31 | k++) >>> 0 : off >>> 0);
        }
      },
    },
  ];
  if (largeNeeded) {
    chunks.push({
      id: CHUNK_LOFF,
      size: 8 * numLarge,
      write: (_out, dv, at) => {
        let k = 0;
        for (let i = 0; i < n; i++) {
          const off = c.offsets[i];
          if (off < TWO_31) continue;
          dv.setUint32(at + 8 * k, Math.floor(off / TWO_32));
          dv.setUint32(at + 8 * k + 4, off % TWO_32);
          k++;
        }
      },
    });
  }
  const rev = n > 0 ? c.reverse : null;
  if (rev) {
    if (rev.order.length !== n) throw new RangeError('buildMidx: the pseudo-pack order does not cover every object');
    const base = rev.baseObjects;
    chunks.push({
      id: CHUNK_RIDX,
      size: 4 * n,
      write: (_out, dv, at) => {
        for (let j = 0; j < n; j++) dv.setUint32(at + 4 * j, rev.order[j] + base);
      },
    });
    chunks.push({
      id: CHUNK_BTMP,
      size: 8 * numPacks,
      write: (_out, dv, at) => {
        // each pack's objects are contiguous in pseudo-pack order
        const pos = new Int32Array(numPacks).fill(-1);
        const nr = new Uint32Array(numPacks);
        for (let j = 0; j < n; j++) {
          const p = c.packIds[rev.order[j]];
          if (pos[p] < 0) pos[p] = j + base;
          nr[p]++;
        }
        for (let p = 0; p < numPacks; p++) {
          dv.setUint32(at + 8 * p, pos[p] < 0 ? 0 : pos[p]);
          dv.setUint32(at + 8 * p + 4, nr[p]);
        }
      },
    });
  }

  const tocSize = TOC_ENTRY_SIZE * (chunks.length + 1);
  let size = MIDX_HEADER_SIZE + tocSize;
  for (const ch of chunks) size += ch.size;
  const out = new Uint8Array(size + H);
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  // header (byte 7, the number of base MIDXs, is always 0: spec 2.2)
  dv.setUint32(0, MIDX_SIGNATURE);
  dv.setUint8(4, c.version);
  dv.setUint8(5, c.hash.formatId);
  dv.setUint8(6, chunks.length);
  dv.setUint8(7, 0);
  dv.setUint32(8, numPacks);
  let at = MIDX_HEADER_SIZE + tocSize;
  chunks.forEach((ch, i) => {
    const e = MIDX_HEADER_SIZE + TOC_ENTRY_SIZE * i;
    dv.setUint32(e, ch.id);
    dv.setUint32(e + 4, Math.floor(at / TWO_32));
    dv.setUint32(e + 8, at % TWO_32);
    ch.write(out, dv, at);
    at += ch.size;
  });
  const end = MIDX_HEADER_SIZE + TOC_ENTRY_SIZE * chunks.length;
  dv.setUint32(end, 0);
  dv.setUint32(end + 4, Math.floor(at / TWO_32));
  dv.setUint32(end + 8, at % TWO_32);
  const sum = await digest(out.subarray(0, size));
  out.set(sum.subarray(0, H), size);
  return out;
}
