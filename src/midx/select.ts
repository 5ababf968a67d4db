/**
 * Which packs and objects a new MIDX holds (spec 4.4-4.9), as git's
 * midx-write.c decides them: the preferred-pack rules, the deduplication
 * order, and the pack order of a compaction. Pure functions over sorted
 * object tables; the odb layer gathers the inputs and writes the result.
 */

import { compareBytewise } from '../oid.js';

/**
 * git's cmp_idx_or_pack_name: `foo.idx` equals both `foo.idx` and `foo.pack`;
 * otherwise plain strcmp order.
 */
export function compareIdxOrPackName(idxOrPackName: string, idxName: string): number {
  let i = 0;
  while (i < idxName.length && i < idxOrPackName.length && idxName[i] === idxOrPackName[i]) i++;
  if (idxName.slice(i) === 'idx' && idxOrPackName.slice(i) === 'pack') return 0;
  return compareBytewise(idxOrPackName, idxName);
}

/**
 * The default preferred pack when a bitmap is written (spec 4.7 step 1): the
 * first collected pack, replaced by each later pack when the candidate is
 * empty or the later pack's mtime is strictly older. -1 when the final
 * candidate is empty (or there are no packs). `numObjects(i)` is asked only
 * of candidates, as git opens only their indexes.
 */
export async function defaultPreferredPack(
  count: number,
  mtime: (i: number) => number,
  numObjects: (i: number) => number | Promise<number>,
): Promise<number> {
  if (count === 0) return -1;
  let best = 0;
  for (let i = 1; i < count; i++) {
    if (!(await numObjects(best)) || mtime(i) < mtime(best)) best = i;
  }
  return (await numObjects(best)) ? best : -1;
}

/** A table of objects sorted by OID: a pack's .idx, or a MIDX layer's OIDL/OOFF. */
export interface ObjectSource {
  /** the bytes holding the OIDs */
  table: Uint8Array;
  /** byte position of object 0's OID, and the distance between OIDs */
  oidBase: number;
  oidStride: number;
  /** fanout: number of objects whose first byte is <= b */
  fanout: Uint32Array;
  /** provisional pack id of object i (git's pack_int_id before the pack order is fixed) */
  packIdAt(i: number): number;
  offsetAt(i: number): number;
  /** pack mtime in seconds; 0 for objects carried over from a MIDX ("old") */
  mtime: number;
  preferred: boolean;
  /** objects whose provisional pack id equals this are left out (the preferred pack's copies in a reused MIDX) */
  skipPackId?: number;
}

/** The chosen copy of each object, in OID order. */
export interface SelectedObjects {
  count: number;
  /** count*H bytes */
  oids: Uint8Array;
  /** provisional pack ids */
  packIds: Uint32Array;
  offsets: Float64Array;
  /** 1 when taken from the preferred pack */
  preferred: Uint8Array;
}

/**
 * git's compute_sorted_entries without the base filter: one first-byte bucket
 * at a time, every copy of every object sorted by (OID, preferred first,
 * newest mtime first, lowest provisional pack id), the first copy kept.
 */
export function selectObjects(sources: ObjectSource[], H: number): SelectedObjects {
  let total = 0;
  let widest = 0;
  for (let b = 0; b < 256; b++) {
    let inBucket = 0;
    for (const s of sources) inBucket += s.fanout[b] - (b ? s.fanout[b - 1] : 0);
    total += inBucket;
    widest = Math.max(widest, inBucket);
  }
  const oids = new Uint8Array(total * H);
  const packIds = new Uint32Array(total);
  const offsets = new Float64Array(total);
  const preferred = new Uint8Array(total);
  // candidates of one bucket
  const cSrc = new Uint32Array(widest);
  const cPos = new Uint32Array(widest);
  const cPack = new Uint32Array(widest);
  const cAt = new Float64Array(widest);
  const cKey = new Uint32Array(widest);
  const order = new Uint32Array(widest);
  // sort keys: OID bytes 1-4 (byte 0 is the bucket) above the candidate's index, sorted natively;
  // only runs of equal bytes 1-4 (duplicates, mostly) need the full comparison
  const INDEX_BITS = 2 ** 21;
  const packed = widest < INDEX_BITS ? new Float64Array(widest) : null;
  const tables = sources.map((s) => s.table);
  const mtimes = sources.map((s) => s.mtime);
  const prefs = sources.map((s) => (s.preferred ? 1 : 0));
  const keyLen = Math.min(4, H - 1);
  const compare = (a: number, b: number): number => {
    if (cKey[a] !== cKey[b]) return cKey[a] < cKey[b] ? -1 : 1;
    const ta = tables[cSrc[a]];
    const tb = tables[cSrc[b]];
    const pa = cAt[a];
    const pb = cAt[b];
    for (let k = 1 + keyLen; k < H; k++) {
      const d = ta[pa + k] - tb[pb + k];
      if (d) return d;
    }
    const sa = cSrc[a];
    const sb = cSrc[b];
    if (prefs[sa] !== prefs[sb]) return prefs[sb] - prefs[sa];
    if (mtimes[sa] !== mtimes[sb]) return mtimes[sb] > mtimes[sa] ? 1 : -1;
    return cPack[a] - cPack[b];
  };
  let out = 0;
  for (let b = 0; b < 256; b++) {
    let n = 0;
    for (let si = 0; si < sources.length; si++) {
      const s = sources[si];
      const t = s.table;
      const skip = s.skipPackId ?? -1;
      const base = s.oidBase;
      const stride = s.oidStride;
      for (let i = b ? s.fanout[b - 1] : 0, end = s.fanout[b]; i < end; i++) {
        const pack = s.packIdAt(i);
        if (pack === skip) continue;
        const at = base + i * stride;
        let key = 0;
        for (let k = 1; k <= keyLen; k++) key = key * 256 + t[at + k];
        cSrc[n] = si;
        cPos[n] = i;
        cPack[n] = pack;
        cAt[n] = at;
        cKey[n] = key;
        n++;
      }
    }
    if (packed) {
      for (let j = 0; j < n; j++) packed[j] = cKey[j] * INDEX_BITS + j;
      const keys = packed.subarray(0, n).sort();
      for (let j = 0; j < n; j++) order[j] = keys[j] % INDEX_BITS;
      for (let j = 0; j < n; ) {
        let e = j + 1;
        while (e < n && cKey[order[e]] === cKey[order[j]]) e++;
        if (e - j === 2) {
          // the common case: one object in two packs
          if (compare(order[j], order[j + 1]) > 0) {
            const x = order[j];
            order[j] = order[j + 1];
            order[j + 1] = x;
          }
        } else if (e - j > 2) order.subarray(j, e).sort(compare);
        j = e;
      }
    } else {
      for (let j = 0; j < n; j++) order[j] = j;
      order.subarray(0, n).sort(compare);
    }
    for (let j = 0; j < n; j++) {
      const c = order[j];
      const t = tables[cSrc[c]];
      const at = cAt[c];
      if (j > 0) {
        const p = order[j - 1];
        if (cKey[p] === cKey[c] && sameOid(tables[cSrc[p]], cAt[p], t, at, H)) continue;
      }
      const o = out * H;
      for (let k = 0; k < H; k++) oids[o + k] = t[at + k];
      packIds[out] = cPack[c];
      offsets[out] = sources[cSrc[c]].offsetAt(cPos[c]);
      preferred[out] = prefs[cSrc[c]];
      out++;
    }
  }
  return { count: out, oids: oids.subarray(0, out * H), packIds: packIds.subarray(0, out), offsets: offsets.subarray(0, out), preferred: preferred.subarray(0, out) };
}

function sameOid(a: Uint8Array, pa: number, b: Uint8Array, pb: number, H: number): boolean {
  for (let k = 0; k < H; k++) if (a[pa + k] !== b[pb + k]) return false;
  return true;
}

/** Keeps the selected objects for which keep(i) is true (the incremental base filter). */
export function filterObjects(sel: SelectedObjects, H: number, keep: (i: number) => boolean): SelectedObjects {
  let out = 0;
  for (let i = 0; i < sel.count; i++) {
    if (!keep(i)) continue;
    if (out !== i) {
      sel.oids.copyWithin(out * H, i * H, i * H + H);
      sel.packIds[out] = sel.packIds[i];
      sel.offsets[out] = sel.offsets[i];
      sel.preferred[out] = sel.preferred[i];
    }
    out++;
  }
  return { count: out, oids: sel.oids.subarray(0, out * H), packIds: sel.packIds.subarray(0, out), offsets: sel.offsets.subarray(0, out), preferred: sel.preferred.subarray(0, out) };
}

/** One layer of a compaction range, as far as the pack order needs it. */
export interface CompactionLayer {
  numPacksInBase: number;
  numPacks: number;
  /** global pack-int-id of the layer's preferred pack (its first pseudo-pack slot), when bitmap order is wanted */
  preferredPack?: number;
}

/**
 * Pack order of a compacted layer (spec 4.9 step 3, git's
 * fill_packs_from_midx_range): the layers from `from` up to `to`, each in its
 * PNAM order, except that with bitmap order each layer's preferred pack comes
 * first. Returns global pack-int-ids; the position is the new local id.
 */
export function compactionPackOrder(layers: CompactionLayer[], bitmapOrder: boolean): number[] {
  const order: number[] = [];
  for (const l of layers) {
    if (!l.numPacks) continue;
    const first = bitmapOrder && l.preferredPack !== undefined ? l.preferredPack : l.numPacksInBase;
    order.push(first);
    for (let i = l.numPacksInBase; i < l.numPacksInBase + l.numPacks; i++) if (i !== first) order.push(i);
  }
  return order;
}
