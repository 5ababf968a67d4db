/**
 * A new MIDX layer's `.bitmap` as git 2.55 writes it (midx-write.c's
 * find_commits_for_midx_bitmap and write_midx_bitmap, pack-bitmap-write.c):
 *
 * - candidates: the commits reachable from every ref under refs/ (peeled;
 *   refs to other objects skipped), or from the lines of a refs snapshot
 *   (`+` marks a preferred tip), walked in git's default revision order
 *   (newest committer date first, ties in the order they were queued), kept
 *   when the new layer itself holds them;
 * - refs matching pack.preferBitmapTips are preferred tips;
 * - git's selection among them, then for each selected commit the set of
 *   every object reachable from it (base layers' objects at their global
 *   slots), EWAH-compressed as git compresses it, XOR-ed against one of the
 *   ten previous bitmaps when that is smaller;
 * - type bitmaps of the layer's own objects, the lookup table when
 *   pack.writeBitmapLookupTable is set, the name-hash cache unless
 *   pack.writeBitmapHashCache is false.
 *
 * A reachable object that neither the layer nor its bases hold means no
 * bitmap can be written: git warns and fails, and so do we (BitmapClosureError).
 */

import { configBool } from '../config.js';
import { CorruptError, MidxOdbError } from '../errors.js';
import { join } from '../io/fs.js';
import { Ewah } from '../midx/bitmap/ewah.js';
import { buildBitmapFile, type Candidate, selectCommits } from '../midx/bitmap/write.js';
import { MIDX_DIR } from '../midx/chain.js';
import type { MidxFile } from '../midx/read.js';
import { type LayerBitmap, parseLayerBitmap } from '../midx/bitmap/read.js';
import { compareOid, fromHex, isHex, toHex } from '../oid.js';
import { readPackIndex } from '../pack/idx.js';
import { reverseIndex } from './reach.js';
import { listRefs } from './refs.js';
import type { WriterContext } from './write-job.js';

export class BitmapClosureError extends MidxOdbError {
  override readonly code = 'EBITMAPCLOSURE';
  constructor(readonly oid: string) {
    super(`Failed to write bitmap index. Packfile doesn't have full closure (object ${oid} is missing)`);
  }
}

export interface LayerBitmapInput {
  /** the new layer's OIDs, sorted (count*H bytes) */
  oids: Uint8Array;
  /** pseudo-pack order: the OIDL index of the object in each of the layer's slots */
  order: Uint32Array;
  /** the layer below (incremental), or null */
  base: MidxFile | null;
  /** whether `base` was loaded through a chain (where its `.rev` would live) */
  baseInChain: boolean;
  /** the new layer's MIDX checksum */
  checksum: Uint8Array;
  /** a refs snapshot file (`[+]<oid>` lines) instead of the refs */
  refsSnapshot?: string;
  /** compaction: git's `compact` turns the name-hash cache on only when pack.writeBitmapHashCache says so */
  compact?: boolean;
  /** the MIDX the repository had when the write began (root first), and whether it was a chain */
  oldLayers: MidxFile[];
  oldInChain: boolean;
}

/**
 * The name hashes git carries into the new bitmap's cache (create_bitmap_mapping):
 * from the bitmap git opens first, the current MIDX's (every layer's must load)
 * or else one pack's (the newest pack with a loadable `.bitmap`); 0 for objects
 * it does not hold, and for all when there is none.
 */
async function oldNameHashes(cx: WriterContext, input: LayerBitmapInput): Promise<((oid: Uint8Array) => number) | null> {
  const H = cx.hash.rawLength;
  if (input.oldLayers.length) {
    const dir = input.oldInChain ? join(cx.packDir, MIDX_DIR) : cx.packDir;
    const loaded: Array<{ layer: MidxFile; bitmap: LayerBitmap }> = [];
    for (const layer of input.oldLayers) {
      const bytes = await cx.fs.tryReadFile(join(dir, `multi-pack-index-${layer.checksumHex}.bitmap`));
      if (!bytes) break;
      try {
        const bitmap = parseLayerBitmap(dir, bytes, cx.hash, layer.checksum, layer.numObjectsInBase, layer.numObjects);
        if (!(await reverseIndex(cx, layer, dir, H))) break;
        await layer.loadTables();
        loaded.push({ layer, bitmap });
      } catch (err) {
        if (!(err instanceof CorruptError)) throw err;
        break;
      }
    }
    if (loaded.length === input.oldLayers.length) {
      return (oid) => {
        for (const { layer, bitmap } of loaded) {
          const p = layer.findLoaded(oid);
          if (p >= 0) return bitmap.nameHash(p);
        }
        return 0;
      };
    }
  }
  // a pack bitmap: packs newest first (git's sort_pack), the first whose .bitmap loads
  const names = (await cx.fs.readdir(cx.packDir)) ?? [];
  const packs: Array<{ stem: string; mtime: number }> = [];
  for (const n of names) {
    if (!n.endsWith('.bitmap') || n.startsWith('multi-pack-index')) continue;
    const stem = n.slice(0, -'.bitmap'.length);
    const st = await cx.fs.stat(join(cx.packDir, `${stem}.pack`));
    if (st && st.isFile) packs.push({ stem, mtime: Math.floor(st.mtimeMs / 1000) });
  }
  packs.sort((a, b) => b.mtime - a.mtime);
  for (const { stem } of packs) {
    try {
      const idxPath = join(cx.packDir, `${stem}.idx`);
      const idx = await readPackIndex(cx.fs, idxPath, cx.hash);
      const bytes = await cx.fs.readFile(join(cx.packDir, `${stem}.bitmap`));
      const bitmap = parseLayerBitmap(stem, bytes, cx.hash, null, 0, idx.count);
      return (oid) => {
        const p = idx.find(oid);
        return p >= 0 ? bitmap.nameHash(p) : 0;
      };
    } catch {
      // git tries the next pack
    }
  }
  return null;
}

interface CommitInfo {
  tree: string;
  parents: string[];
  date: number;
}

const DEC = new TextDecoder();
const TYPES: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

function parseCommit(hex: string, data: Uint8Array, hexLen: number): CommitInfo {
  let tree = '';
  const parents: string[] = [];
  let date = 0;
  let at = 0;
  while (at < data.length && data[at] !== 0x0a) {
    let nl = data.indexOf(0x0a, at);
    if (nl < 0) nl = data.length;
    const line = DEC.decode(data.subarray(at, nl));
    if (line.startsWith('tree ')) tree = line.slice(5);
    else if (line.startsWith('parent ')) parents.push(line.slice(7));
    else if (line.startsWith('committer ')) {
      // git's parse_commit_date: the number after the last '>'
      const m = />\s*(\d+)/.exec(line.slice(line.lastIndexOf('>')));
      date = m ? Number(m[1]) : 0;
    }
    at = nl + 1;
  }
  if (tree.length !== hexLen || !isHex(tree) || parents.some((p) => p.length !== hexLen || !isHex(p))) throw new CorruptError(hex, `bad commit ${hex}`);
  return { tree, parents, date };
}

/** A binary heap ordered by (date descending, insertion order): git's commit queue for a plain walk. */
class CommitQueue {
  private items: Array<{ hex: string; date: number; ctr: number }> = [];
  private ctr = 0;
  get size(): number {
    return this.items.length;
  }
  private less(a: { date: number; ctr: number }, b: { date: number; ctr: number }): boolean {
    return a.date !== b.date ? a.date > b.date : a.ctr < b.ctr;
  }
  put(hex: string, date: number): void {
    const a = this.items;
    a.push({ hex, date, ctr: this.ctr++ });
    for (let i = a.length - 1; i > 0; ) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  get(): string {
    const a = this.items;
    const top = a[0];
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        if (l >= a.length) break;
        const c = l + 1 < a.length && this.less(a[l + 1], a[l]) ? l + 1 : l;
        if (!this.less(a[c], a[i])) break;
        [a[i], a[c]] = [a[c], a[i]];
        i = c;
      }
    }
    return top.hex;
  }
}

/** Slots of the base layers' objects: chain lookup, then each layer's RIDX inverted. */
async function baseSlots(cx: WriterContext, base: MidxFile | null, inChain: boolean): Promise<(oid: Uint8Array) => number> {
  const layers: Array<{ layer: MidxFile; slotOf: Uint32Array }> = [];
  const dir = inChain ? join(cx.packDir, MIDX_DIR) : cx.packDir;
  for (let l = base; l; l = l.base) {
    await l.loadTables();
    const ridx = await reverseIndex(cx, l, dir, cx.hash.rawLength);
    if (!ridx) throw new CorruptError(l.file, `could not load reverse index for MIDX ${l.checksumHex}`);
    const slotOf = new Uint32Array(l.numObjects);
    ridx.forEach((pos, j) => (slotOf[pos - l.numObjectsInBase] = l.numObjectsInBase + j));
    layers.push({ layer: l, slotOf });
  }
  return (oid) => {
    for (const { layer, slotOf } of layers) {
      const p = layer.findLoaded(oid);
      if (p >= 0) return slotOf[p];
    }
    return -1;
  };
}

/**
 * Where objects sit in the pseudo-pack order: the new layer's slots follow
 * its base chain's (`inBase` answers for the objects the chain holds).
 */
class LayerSlots {
  private readonly slotOfLex: Uint32Array;
  private readonly scratch: Uint8Array<ArrayBuffer>;
  readonly baseObjects: number;

  constructor(
    private readonly cx: WriterContext,
    private readonly input: LayerBitmapInput,
    private readonly inBase: (oid: Uint8Array) => number,
  ) {
    this.baseObjects = input.base ? input.base.numObjectsInBase + input.base.numObjects : 0;
    this.slotOfLex = new Uint32Array(input.order.length);
    input.order.forEach((lex, j) => (this.slotOfLex[lex] = this.baseObjects + j));
    this.scratch = new Uint8Array(cx.hash.rawLength);
  }

  get total(): number {
    return this.baseObjects + this.input.order.length;
  }

  /** the object's position in the new layer's OIDL, or -1 */
  lexOf(oid: Uint8Array): number {
    const H = this.cx.hash.rawLength;
    const oids = this.input.oids;
    let lo = 0;
    let hi = this.input.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const c = compareOid(oids, mid * H, oid, 0, H);
      if (c === 0) return mid;
      if (c < 0) lo = mid + 1;
      else hi = mid;
    }
    return -1;
  }

  /** whether the new layer itself holds the object */
  inLayer(hex: string): boolean {
    fromHex(hex, this.scratch);
    return this.lexOf(this.scratch) >= 0;
  }

  /** the bitmap position of a commit of the new layer */
  positionOf(hex: string): number {
    fromHex(hex, this.scratch);
    return this.baseObjects + this.lexOf(this.scratch);
  }

  /** the object's slot in the layer or its base chain; BitmapClosureError (with git's warning) when neither holds it */
  require(hex: string): number {
    fromHex(hex, this.scratch);
    const i = this.lexOf(this.scratch);
    const s = i >= 0 ? this.slotOfLex[i] : this.inBase(this.scratch);
    if (s < 0) {
      this.cx.warn({ file: this.cx.packDir, reason: `Failed to write bitmap index. Packfile doesn't have full closure (object ${hex} is missing)` });
      throw new BitmapClosureError(hex);
    }
    return s;
  }
}

/** Commits read once and parsed (tree, parents, date), and tags peeled to them. */
class Commits {
  private readonly map = new Map<string, CommitInfo>();

  constructor(private readonly cx: WriterContext) {}

  known(hex: string): CommitInfo {
    return this.map.get(hex)!;
  }

  async get(hex: string): Promise<CommitInfo> {
    let c = this.map.get(hex);
    if (!c) {
      const obj = await this.cx.read(hex);
      if (obj.type !== 'commit') throw new CorruptError(hex, `object ${hex} is a ${obj.type}, not a commit`);
      c = parseCommit(hex, obj.data, this.cx.hash.hexLength);
      this.map.set(hex, c);
    }
    return c;
  }

  /** peels tags; null for anything that is not (or does not lead to) a commit */
  async peel(hex: string): Promise<string | null> {
    for (let depth = 0; depth < 100; depth++) {
      const obj = await this.cx.read(hex);
      if (obj.type === 'commit') {
        if (!this.map.has(hex)) this.map.set(hex, parseCommit(hex, obj.data, this.cx.hash.hexLength));
        return hex;
      }
      if (obj.type !== 'tag') return null;
      const m = /^object ([0-9a-f]+)/.exec(DEC.decode(obj.data.subarray(0, 200)));
      if (!m) return null;
      hex = m[1];
    }
    return null;
  }
}

/** The type of the object in each of the new layer's slots (its type bitmaps). */
async function layerTypes(cx: WriterContext, input: LayerBitmapInput): Promise<Uint8Array> {
  const H = cx.hash.rawLength;
  const n = input.order.length;
  const types = new Uint8Array(n);
  for (let j = 0; j < n; j++) {
    const h = await cx.readHeader(toHex(input.oids, input.order[j] * H, H));
    types[j] = TYPES[h.type];
  }
  return types;
}

/** The walk's starting commits, from the refs snapshot or the refs (tags peeled, `pack.preferBitmapTips` marked preferred), in git's order. */
async function startingCommits(cx: WriterContext, input: LayerBitmapInput, commits: Commits): Promise<{ start: string[]; preferred: Set<string> }> {
  const hexLen = cx.hash.hexLength;
  const pending: Array<{ oid: string; preferred: boolean }> = [];
  const preferred = new Set<string>();
  if (input.refsSnapshot !== undefined) {
    const text = DEC.decode(await cx.fs.readFile(input.refsSnapshot));
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    for (const raw of lines) {
      const line = raw.replace(/\r$/, '');
      const isPreferred = line.startsWith('+');
      const hex = (isPreferred ? line.slice(1) : line).toLowerCase();
      if (hex.length < hexLen || !isHex(hex.slice(0, hexLen))) throw new CorruptError(input.refsSnapshot, `could not parse line: ${line}`);
      if (hex.length !== hexLen) throw new CorruptError(input.refsSnapshot, `malformed line: ${line}`);
      const obj = await cx.read(hex);
      // the flag goes on the object named: a tag line's commit is not itself preferred
      if (isPreferred && obj.type === 'commit') preferred.add(hex);
      const c = await commits.peel(hex);
      if (c) pending.push({ oid: c, preferred: isPreferred });
    }
  } else {
    const tips = cx.config.get('pack.preferbitmaptips') ?? [];
    const refs = await listRefs(cx, (name) => cx.warn({ file: join(cx.gitdir, name), reason: `symbolic ref is dangling: ${name}` }));
    for (const ref of refs) {
      const c = await commits.peel(ref.oid);
      if (!c) continue;
      const isPreferred = tips.some((t) => ref.name.startsWith(t));
      if (isPreferred) preferred.add(c);
      pending.push({ oid: c, preferred: isPreferred });
    }
  }
  const seen = new Set<string>();
  const start: string[] = [];
  for (const p of pending) {
    if (seen.has(p.oid)) continue;
    seen.add(p.oid);
    start.push(p.oid);
  }
  // commit_list_sort_by_date (stable)
  start.sort((a, b) => commits.known(b).date - commits.known(a).date);
  return { start, preferred };
}

/** git's plain revision walk from the starting commits, by date: the commits of the new layer it meets are the candidates; selectCommits picks those that get bitmaps. */
async function selectedCommits(commits: Commits, start: string[], preferred: Set<string>, slots: LayerSlots): Promise<string[]> {
  const queue = new CommitQueue();
  const seen = new Set(start);
  for (const s of start) queue.put(s, commits.known(s).date);
  const candidateOids: string[] = [];
  const candidates: Candidate[] = [];
  while (queue.size) {
    const hex = queue.get();
    const c = commits.known(hex);
    if (slots.inLayer(hex)) {
      candidateOids.push(hex);
      candidates.push({ date: c.date, merge: c.parents.length > 1, preferred: preferred.has(hex) });
    }
    for (const p of c.parents) {
      if (seen.has(p)) continue;
      seen.add(p);
      queue.put(p, (await commits.get(p)).date);
    }
  }
  return selectCommits(candidates).map((i) => candidateOids[i]);
}

/** Each selected commit's reachable set, as bits over the slots (the sets of commits selected earlier are reused). */
async function reachableBitmaps(cx: WriterContext, commits: Commits, selected: string[], slots: LayerSlots): Promise<Ewah[]> {
  const H = cx.hash.rawLength;
  const words = Math.ceil(slots.total / 32) + 1;
  const done = new Map<string, Uint32Array>();
  const treeKids = new Map<number, { blobs: Uint32Array; trees: Array<[string, number]> }>();
  const kidsOf = async (treeHex: string, slot: number) => {
    let kids = treeKids.get(slot);
    if (kids) return kids;
    const d = (await cx.read(treeHex)).data;
    const blobs: number[] = [];
    const trees: Array<[string, number]> = [];
    for (let at = 0; at < d.length; ) {
      const sp = d.indexOf(0x20, at);
      const nul = sp < 0 ? -1 : d.indexOf(0, sp);
      if (sp < 0 || nul < 0 || nul + 1 + H > d.length) throw new CorruptError(treeHex, `malformed tree ${treeHex}`);
      const isTree = sp - at === 5 && d[at] === 0x34; // "40000"
      const gitlink = sp - at === 6 && d[at] === 0x31 && d[at + 1] === 0x36; // "160000"
      if (!gitlink) {
        const hex = toHex(d, nul + 1, H);
        const s = slots.require(hex);
        if (isTree) trees.push([hex, s]);
        else blobs.push(s);
      }
      at = nul + 1 + H;
    }
    kids = { blobs: Uint32Array.from(blobs), trees };
    treeKids.set(slot, kids);
    return kids;
  };
  const bitmaps: Ewah[] = [];
  for (const tip of selected) {
    const bits = new Uint32Array(words);
    const set = (s: number) => (bits[s >>> 5] |= 1 << (s & 31));
    const has = (s: number) => (bits[s >>> 5] & (1 << (s & 31))) !== 0;
    const tstack: Array<[string, number]> = [];
    const stack = [tip];
    while (stack.length) {
      const hex = stack.pop()!;
      const prior = hex !== tip ? done.get(hex) : undefined;
      if (prior) {
        for (let i = 0; i < words; i++) bits[i] |= prior[i];
        continue;
      }
      const s = slots.require(hex);
      if (hex !== tip && has(s)) continue;
      set(s);
      const c = await commits.get(hex);
      tstack.push([c.tree, slots.require(c.tree)]);
      for (const p of c.parents) stack.push(p);
    }
    // trees: a tree whose bit is set is complete already
    while (tstack.length) {
      const [thex, ts] = tstack.pop()!;
      if (has(ts)) continue;
      set(ts);
      const kids = await kidsOf(thex, ts);
      for (const b of kids.blobs) set(b);
      for (const t of kids.trees) if (!has(t[1])) tstack.push(t);
    }
    done.set(tip, bits);
    bitmaps.push(Ewah.fromWords(bits));
  }
  return bitmaps;
}

/**
 * The bytes of the new layer's `.bitmap` (git's write_midx_bitmap): the type
 * bitmaps, the commits selected from a walk of the refs, each one's
 * reachable set, and the name-hash cache carried over from the old bitmap.
 */
export async function buildLayerBitmap(cx: WriterContext, input: LayerBitmapInput): Promise<Uint8Array> {
  const H = cx.hash.rawLength;
  const n = input.order.length;
  const slots = new LayerSlots(cx, input, await baseSlots(cx, input.base, input.baseInChain));
  const slotTypes = await layerTypes(cx, input);
  const commits = new Commits(cx);
  const { start, preferred } = await startingCommits(cx, input, commits);
  const selected = await selectedCommits(commits, start, preferred, slots);
  const bitmaps = await reachableBitmaps(cx, commits, selected, slots);

  const hashCache = configBool(cx.config, 'pack.writeBitmapHashCache', !input.compact);
  let nameHashes: Uint32Array | undefined;
  if (hashCache) {
    const lookup = await oldNameHashes(cx, input);
    if (lookup) {
      nameHashes = new Uint32Array(n);
      for (let i = 0; i < n; i++) nameHashes[i] = lookup(input.oids.subarray(i * H, i * H + H));
    }
  }

  return buildBitmapFile(
    {
      hash: cx.hash,
      checksum: input.checksum,
      baseObjects: slots.baseObjects,
      slotTypes,
      commits: bitmaps.map((bitmap, i) => ({ commitPos: slots.positionOf(selected[i]), bitmap })),
      hashCache,
      nameHashes,
      lookupTable: configBool(cx.config, 'pack.writeBitmapLookupTable', false),
    },
    (b) => cx.codec.hash(cx.hash.algorithm, b),
  );
}
