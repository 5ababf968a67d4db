/**
 * The bytes of a layer's `.bitmap`, laid out as git's bitmap_writer_finish
 * writes them, and git's choice of which commits get a bitmap
 * (bitmap_writer_select_commits) and of XOR bases (compute_xor_offsets).
 * Which commits are candidates and what each bitmap holds is computed by the
 * odb (odb/bitmap-write.ts); this module only arranges and encodes.
 */

import type { HashInfo } from '../../oid.js';
import { Ewah } from './ewah.js';
import { BITMAP_OPT_FULL_DAG, BITMAP_OPT_HASH_CACHE, BITMAP_OPT_LOOKUP_TABLE, BITMAP_SIGNATURE } from './read.js';

export interface Candidate {
  /** committer timestamp (git's commit->date) */
  date: number;
  /** more than one parent */
  merge: boolean;
  /** named by a preferred ref (pack.preferBitmapTips, `+` in a refs snapshot) */
  preferred: boolean;
}

/** git's next_commit_index: how many commits to skip after position `idx`. */
function nextCommitIndex(idx: number): number {
  const MIN_COMMITS = 100;
  const MAX_COMMITS = 5000;
  const MUST_REGION = 100;
  const MIN_REGION = 20000;
  if (idx <= MUST_REGION) return 0;
  if (idx <= MIN_REGION) {
    const offset = idx - MUST_REGION;
    return offset < MIN_COMMITS ? offset : MIN_COMMITS;
  }
  const offset = idx - MIN_REGION;
  const next = offset < MAX_COMMITS ? offset : MAX_COMMITS;
  return next > MIN_COMMITS ? next : MIN_COMMITS;
}

/**
 * git's bitmap_writer_select_commits followed by the date sort of
 * compute_xor_offsets: indexes into `candidates` (given in traversal order)
 * of the commits that get a bitmap, in the order they are written (oldest
 * first; equal dates keep traversal order, as git's stable sorts do).
 */
export function selectCommits(candidates: Candidate[]): number[] {
  const byDate = candidates.map((_, i) => i).sort((a, b) => candidates[b].date - candidates[a].date);
  let chosen: number[] = [];
  if (byDate.length < 100) chosen = byDate;
  else {
    for (let i = 0; ; ) {
      const next = nextCommitIndex(i);
      if (i + next >= byDate.length) break;
      let pick: number;
      if (next === 0) pick = byDate[i];
      else {
        pick = byDate[i + next];
        for (let j = 0; j <= next; j++) {
          const c = byDate[i + j];
          if (candidates[c].preferred) {
            pick = c;
            break;
          }
          if (candidates[c].merge) pick = c;
        }
      }
      chosen.push(pick);
      i += next + 1;
    }
  }
  return chosen.length > 1 ? [...chosen].sort((a, b) => candidates[a].date - candidates[b].date) : chosen;
}

export interface BitmapCommit {
  /** global MIDX position (lexicographic) of the commit */
  commitPos: number;
  /** everything reachable from it, by global pseudo-pack slot */
  bitmap: Ewah;
}

export interface BitmapFileContent {
  hash: HashInfo;
  /** the layer's MIDX checksum */
  checksum: Uint8Array;
  /** objects in the layers below */
  baseObjects: number;
  /** git's type (1 commit, 2 tree, 3 blob, 4 tag) of the object in each of the layer's slots */
  slotTypes: Uint8Array;
  /** the selected commits, in writing order (selectCommits) */
  commits: BitmapCommit[];
  hashCache: boolean;
  /** the name hash of each object, in OIDL (lexicographic) order, as the cache stores them; all 0 when absent */
  nameHashes?: Uint32Array;
  lookupTable: boolean;
}

const MAX_XOR_SEARCH = 10;

/** git's compute_xor_offsets: for each bitmap, the earlier one (up to 10 back) whose XOR is smallest, if smaller than itself. */
export function xorOffsets(bitmaps: Ewah[]): Array<{ offset: number; writeAs: Ewah }> {
  return bitmaps.map((own, k) => {
    let best = own;
    let offset = 0;
    for (let i = 1; i <= MAX_XOR_SEARCH && k - i >= 0; i++) {
      const x = Ewah.xor(bitmaps[k - i], own);
      if (x.size < best.size) {
        best = x;
        offset = i;
      }
    }
    return { offset, writeAs: best };
  });
}

export async function buildBitmapFile(c: BitmapFileContent, digest: (bytes: Uint8Array) => Uint8Array | Promise<Uint8Array>): Promise<Uint8Array> {
  const H = c.hash.rawLength;
  const n = c.slotTypes.length;
  const types = [new Ewah(), new Ewah(), new Ewah(), new Ewah()];
  for (let j = 0; j < n; j++) {
    const t = c.slotTypes[j];
    if (t < 1 || t > 4) throw new RangeError(`buildBitmapFile: no type for slot ${j}`);
    types[t - 1].set(j + c.baseObjects);
  }
  const xors = xorOffsets(c.commits.map((b) => b.bitmap));
  let size = 12 + H;
  for (const t of types) size += t.byteLength;
  for (const x of xors) size += 6 + x.writeAs.byteLength;
  if (c.lookupTable) size += 16 * c.commits.length;
  if (c.hashCache) size += 4 * n;
  const out = new Uint8Array(size + H);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, BITMAP_SIGNATURE);
  dv.setUint16(4, 1);
  dv.setUint16(6, BITMAP_OPT_FULL_DAG | (c.hashCache ? BITMAP_OPT_HASH_CACHE : 0) | (c.lookupTable ? BITMAP_OPT_LOOKUP_TABLE : 0));
  dv.setUint32(8, c.commits.length);
  out.set(c.checksum.subarray(0, H), 12);
  let at = 12 + H;
  for (const t of types) at = t.writeTo(out, at);
  const offsets: number[] = [];
  c.commits.forEach((b, i) => {
    offsets.push(at);
    dv.setUint32(at, b.commitPos);
    out[at + 4] = xors[i].offset;
    out[at + 5] = 0;
    at = xors[i].writeAs.writeTo(out, at + 6);
  });
  if (c.lookupTable) {
    // rows sorted by commit position; each names its XOR base by row
    const rows = c.commits.map((_, i) => i).sort((a, b) => c.commits[a].commitPos - c.commits[b].commitPos);
    const rowOf = new Uint32Array(rows.length);
    rows.forEach((i, r) => (rowOf[i] = r));
    for (const i of rows) {
      dv.setUint32(at, c.commits[i].commitPos);
      dv.setUint32(at + 4, Math.floor(offsets[i] / 0x100000000));
      dv.setUint32(at + 8, offsets[i] >>> 0);
      dv.setUint32(at + 12, xors[i].offset ? rowOf[i - xors[i].offset] : 0xffffffff);
      at += 16;
    }
  }
  // the name-hash cache, in OIDL order: git knows a MIDX object's name hash only from an earlier bitmap
  if (c.hashCache) {
    if (c.nameHashes) for (let i = 0; i < n; i++) dv.setUint32(at + 4 * i, c.nameHashes[i]);
    at += 4 * n;
  }
  const sum = await digest(out.subarray(0, at));
  out.set(sum.subarray(0, H), at);
  return out;
}
