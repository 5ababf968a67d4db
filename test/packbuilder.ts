/** Hand-made packs and .idx v2 files, for corruption tests that git itself would refuse to write. */

import crypto from 'node:crypto';
import zlib from 'node:zlib';

export interface EntrySpec {
  /** 1..4 plain, 6 OFS_DELTA (base = index of an earlier entry), 7 REF_DELTA (baseOid) */
  type: number;
  /** the inflated data (object or delta) */
  data: Buffer;
  base?: number;
  baseOid?: Buffer;
  /** id written to the .idx for this entry (default: the git hash of a plain object, or a random id) */
  oid?: Buffer;
  /** replace the compressed bytes (to truncate a stream, say) */
  compressed?: Buffer;
  /** claim this size in the header instead of data.length */
  claimSize?: number;
}

function header(type: number, size: number): Buffer {
  const out: number[] = [];
  let c = (type << 4) | (size & 15);
  size = Math.floor(size / 16);
  while (size) {
    out.push(c | 0x80);
    c = size & 0x7f;
    size = Math.floor(size / 128);
  }
  out.push(c);
  return Buffer.from(out);
}

function ofs(v: number): Buffer {
  const bytes = [v & 0x7f];
  while ((v >>= 7)) {
    v -= 1;
    bytes.unshift(0x80 | (v & 0x7f));
  }
  return Buffer.from(bytes);
}

const TYPES = ['', 'commit', 'tree', 'blob', 'tag'];

export function buildPack(entries: EntrySpec[]): { pack: Buffer; idx: Buffer; oids: Buffer[]; offsets: number[] } {
  const parts: Buffer[] = [];
  const head = Buffer.alloc(12);
  head.write('PACK', 0);
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(entries.length, 8);
  parts.push(head);
  let pos = 12;
  const offsets: number[] = [];
  const oids: Buffer[] = [];
  const crcs: number[] = [];
  for (const e of entries) {
    offsets.push(pos);
    const chunks = [header(e.type, e.claimSize ?? e.data.length)];
    if (e.type === 6) chunks.push(ofs(pos - offsets[e.base!]));
    if (e.type === 7) chunks.push(e.baseOid!);
    chunks.push(e.compressed ?? zlib.deflateSync(e.data));
    const entry = Buffer.concat(chunks);
    parts.push(entry);
    crcs.push(zlib.crc32 ? zlib.crc32(entry) : 0);
    pos += entry.length;
    const oid =
      e.oid ??
      (e.type <= 4 ? crypto.createHash('sha1').update(`${TYPES[e.type]} ${e.data.length}\0`).update(e.data).digest() : crypto.randomBytes(20));
    oids.push(oid);
  }
  const body = Buffer.concat(parts);
  const pack = Buffer.concat([body, crypto.createHash('sha1').update(body).digest()]);
  // .idx v2
  const order = oids.map((_, i) => i).sort((a, b) => Buffer.compare(oids[a], oids[b]));
  const fan = Buffer.alloc(8 + 1024);
  fan.writeUInt32BE(0xff744f63, 0);
  fan.writeUInt32BE(2, 4);
  for (let b = 0; b < 256; b++) fan.writeUInt32BE(order.filter((i) => oids[i][0] <= b).length, 8 + 4 * b);
  const names = Buffer.concat(order.map((i) => oids[i]));
  const crc = Buffer.alloc(4 * order.length);
  const off = Buffer.alloc(4 * order.length);
  order.forEach((i, k) => {
    crc.writeUInt32BE(crcs[i] >>> 0, 4 * k);
    off.writeUInt32BE(offsets[i], 4 * k);
  });
  const idxBody = Buffer.concat([fan, names, crc, off, pack.subarray(pack.length - 20)]);
  const idx = Buffer.concat([idxBody, crypto.createHash('sha1').update(idxBody).digest()]);
  return { pack, idx, oids, offsets };
}

/** A delta: base size, result size, then instructions. */
export function delta(baseSize: number, resultSize: number, ops: Buffer): Buffer {
  const varint = (v: number) => {
    const out: number[] = [];
    do {
      let c = v & 0x7f;
      v = Math.floor(v / 128);
      if (v) c |= 0x80;
      out.push(c);
    } while (v);
    return Buffer.from(out);
  };
  return Buffer.concat([varint(baseSize), varint(resultSize), ops]);
}
