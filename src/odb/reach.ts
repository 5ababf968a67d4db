/**
 * Reachability: the objects reachable from some commits (or any objects) and
 * not from others, as `git rev-list --objects --use-bitmap-index` lists them.
 *
 * When every MIDX layer has a loadable `.bitmap` (git uses the tip's bitmap,
 * which needs its bases' too), a commit that has a stored bitmap contributes
 * its whole reachable set at once; everything else is walked (commit ->
 * tree and parents, tree -> entries but gitlinks, tag -> target) until the
 * walk meets bitmapped commits or objects already seen. A bitmap that cannot
 * be loaded is a warning and the walk does all the work: never a failed read.
 *
 * The result is a set difference: reach(include) minus reach(exclude). The
 * exclude side is walked first, and the include walk stops at anything it
 * holds (all that is reachable from such an object is excluded too).
 */

import { CorruptError, InvalidArgumentError } from '../errors.js';
import { join } from '../io/fs.js';
import { ChainBitmap, type BitmapLayer } from '../midx/bitmap/chain.js';
import { parseLayerBitmap } from '../midx/bitmap/read.js';
import { MIDX_DIR } from '../midx/chain.js';
import { CHUNK_RIDX } from '../midx/chunks.js';
import type { MidxFile } from '../midx/read.js';
import { fromHex, isHex, toHex } from '../oid.js';
import type { Fs } from '../io/fs.js';
import type { OdbInternals } from './odb.js';

export interface ReachOptions {
  /** object ids (full hex) whose reachable objects are wanted */
  include: string[];
  /** object ids whose reachable objects are left out */
  exclude?: string[];
  /** use `.bitmap` files when they load (default true); false walks everything */
  bitmaps?: boolean;
}

export interface ObjectCounts {
  commits: number;
  trees: number;
  blobs: number;
  tags: number;
  total: number;
}

const TYPE_INDEX: Record<string, number> = { commit: 1, tree: 2, blob: 3, tag: 4 };

/** A set of objects: bits for those in the bitmapped MIDX, a map (hex -> type) for the rest. */
interface Marks {
  bits: Uint32Array | null;
  extra: Map<string, number>;
}

/** Loads the chain's bitmaps for the pack backend's current layers; null (with a warning where git warns) when they do not all load. */
async function loadChainBitmap(db: OdbInternals): Promise<ChainBitmap | null> {
  const backend = db.packBackend;
  await backend.ready();
  const layers: MidxFile[] = backend.layers;
  if (!layers.length) return null;
  const dir = backend.midxSource === 'chain' ? join(db.packDir, MIDX_DIR) : db.packDir;
  const H = db.hash.rawLength;
  const loaded: BitmapLayer[] = [];
  for (let i = 0; i < layers.length; i++) {
    const layer = layers[i];
    const path = join(dir, `multi-pack-index-${layer.checksumHex}.bitmap`);
    let bytes: Uint8Array | null;
    try {
      bytes = await db.fs.tryReadFile(path);
    } catch (err) {
      db.warn({ file: path, reason: `cannot open '${path}': ${(err as Error).message}` });
      return null;
    }
    if (!bytes) {
      if (i < layers.length - 1 && (await db.fs.stat(join(dir, `multi-pack-index-${layers[layers.length - 1].checksumHex}.bitmap`)))) {
        db.warn({ file: path, reason: 'could not open bitmap for base MIDX' });
      }
      return null;
    }
    try {
      const bitmap = parseLayerBitmap(path, bytes, db.hash, layer.checksum, layer.numObjectsInBase, layer.numObjects);
      const ridx = await reverseIndex(db, layer, dir, H);
      if (!ridx) {
        db.warn({ file: path, reason: 'multi-pack bitmap is missing required reverse index' });
        return null;
      }
      await layer.loadTables();
      loaded.push({ layer, bitmap, ridx });
    } catch (err) {
      if (!(err instanceof CorruptError)) throw err;
      db.warn({ file: err.file, reason: err.reason });
      return null;
    }
  }
  try {
    return new ChainBitmap(loaded);
  } catch (err) {
    if (!(err instanceof CorruptError)) throw err;
    db.warn({ file: err.file, reason: err.reason });
    return null;
  }
}

/** A layer's RIDX as global positions: the chunk, else its `.rev` file (local positions), else null. */
export async function reverseIndex(db: { fs: Fs }, layer: MidxFile, dir: string, H: number): Promise<Uint32Array | null> {
  const n = layer.numObjects;
  const base = layer.numObjectsInBase;
  const chunk = layer.chunks.get(CHUNK_RIDX);
  if (chunk && chunk.size === 4 * n) {
    const b = (await layer.readChunk(CHUNK_RIDX))!;
    const dv = new DataView(b.buffer, b.byteOffset, b.byteLength);
    const out = new Uint32Array(n);
    for (let j = 0; j < n; j++) out[j] = dv.getUint32(4 * j);
    return out;
  }
  const rev = await db.fs.tryReadFile(join(dir, `multi-pack-index-${layer.checksumHex}.rev`));
  if (!rev || rev.length !== 12 + 4 * n + 2 * H) return null;
  const dv = new DataView(rev.buffer, rev.byteOffset, rev.byteLength);
  if (dv.getUint32(0) !== 0x52494458 || dv.getUint32(4) !== 1) return null;
  const out = new Uint32Array(n);
  for (let j = 0; j < n; j++) out[j] = dv.getUint32(12 + 4 * j) + base;
  return out;
}

function isSet(bits: Uint32Array, i: number): boolean {
  return (bits[i >>> 5] & (1 << (i & 31))) !== 0;
}

/** Reachability queries over one database; the loaded bitmaps are kept while the MIDX does not change. */
export class Reachability {
  private cached: { key: MidxFile[]; chain: Promise<ChainBitmap | null> } | null = null;

  constructor(private readonly db: OdbInternals) {}

  /** The chain's bitmaps, loaded once per set of layers. */
  async bitmaps(): Promise<ChainBitmap | null> {
    await this.db.packBackend.ready();
    const layers = this.db.packBackend.layers;
    const c = this.cached;
    if (!c || c.key.length !== layers.length || c.key.some((l, i) => l !== layers[i])) {
      this.cached = { key: [...layers], chain: loadChainBitmap(this.db) };
    }
    return this.cached!.chain;
  }

  private check(ids: string[] | undefined, what: string): string[] {
    if (ids === undefined) return [];
    if (!Array.isArray(ids)) throw new InvalidArgumentError(`reachableObjects: \`${what}\` must be an array of object ids`);
    return ids.map((id) => {
      if (typeof id !== 'string' || id.length !== this.db.hash.hexLength || !isHex(id)) throw new InvalidArgumentError(`reachableObjects: not a full object id: ${String(id)}`);
      return id.toLowerCase();
    });
  }

  private async compute(o: ReachOptions): Promise<{ chain: ChainBitmap | null; wants: Marks }> {
    if (o === null || typeof o !== 'object') throw new InvalidArgumentError('reachableObjects: options must be an object');
    const include = this.check(o.include, 'include');
    const exclude = this.check(o.exclude, 'exclude');
    const chain = o.bitmaps === false ? null : await this.bitmaps();
    const words = chain ? Math.ceil(chain.total / 32) : 0;
    const haves: Marks = { bits: chain ? new Uint32Array(words) : null, extra: new Map() };
    if (exclude.length) await this.walk(chain, exclude, haves, null);
    const wants: Marks = { bits: chain ? new Uint32Array(words) : null, extra: new Map() };
    await this.walk(chain, include, wants, exclude.length ? haves : null);
    if (wants.bits && haves.bits) for (let i = 0; i < words; i++) wants.bits[i] &= ~haves.bits[i];
    for (const k of haves.extra.keys()) wants.extra.delete(k);
    return { chain, wants };
  }

  /** Marks everything reachable from `roots` in `marks`, not entering what `stop` holds. */
  private async walk(chain: ChainBitmap | null, roots: string[], marks: Marks, stop: Marks | null): Promise<void> {
    const db = this.db;
    const H = db.hash.rawLength;
    const stack = [...roots].reverse();
    const oid = new Uint8Array(H);
    while (stack.length) {
      const hex = stack.pop()!;
      let slot = -1;
      if (chain) {
        fromHex(hex, oid);
        const pos = chain.find(oid);
        if (pos >= 0) {
          slot = chain.slotOf[pos];
          if (isSet(marks.bits!, slot) || (stop && isSet(stop.bits!, slot))) continue;
          const bm = chain.commitBitmap(pos);
          if (bm) {
            const into = marks.bits!;
            for (let i = 0; i < bm.length; i++) into[i] |= bm[i];
            continue;
          }
          marks.bits![slot >>> 5] |= 1 << (slot & 31);
        }
      }
      if (slot < 0 && (marks.extra.has(hex) || (stop && stop.extra.has(hex)))) continue;
      const obj = await db.read(hex);
      if (slot < 0) marks.extra.set(hex, TYPE_INDEX[obj.type]);
      pushChildren(obj.type, obj.data, H, stack, hex);
    }
  }

  /** The ids of the objects reachable from `include` and not from `exclude`. */
  async reachableObjects(o: ReachOptions): Promise<string[]> {
    const { chain, wants } = await this.compute(o);
    const out: string[] = [];
    if (chain && wants.bits) {
      const bits = wants.bits;
      for (let w = 0; w < bits.length; w++) {
        let x = bits[w];
        while (x) {
          const b = 31 - Math.clz32(x & -x);
          out.push(toHex(chain.oidOfSlot(32 * w + b)));
          x &= x - 1;
        }
      }
    }
    for (const k of wants.extra.keys()) out.push(k);
    return out;
  }

  /** How many of those objects there are, by type. */
  async countObjects(o: ReachOptions): Promise<ObjectCounts> {
    const { chain, wants } = await this.compute(o);
    const counts = [0, 0, 0, 0, 0];
    if (chain && wants.bits) {
      const bits = wants.bits;
      for (let t = 0; t < 4; t++) {
        const tw = chain.typeWords[t];
        let n = 0;
        for (let w = 0; w < bits.length; w++) n += popcount(bits[w] & tw[w]);
        counts[t + 1] += n;
      }
    }
    for (const t of wants.extra.values()) counts[t]++;
    return { commits: counts[1], trees: counts[2], blobs: counts[3], tags: counts[4], total: counts[1] + counts[2] + counts[3] + counts[4] };
  }
}

function popcount(x: number): number {
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  return (((x + (x >>> 4)) & 0x0f0f0f0f) * 0x01010101) >>> 24;
}

const DEC = new TextDecoder();

/** Pushes the ids an object refers to: a commit's tree and parents, a tree's entries (not gitlinks), a tag's target. */
function pushChildren(type: string, data: Uint8Array, H: number, stack: string[], hex: string): void {
  const hexLen = 2 * H;
  if (type === 'commit' || type === 'tag') {
    // header lines up to the first empty line
    let at = 0;
    while (at < data.length && data[at] !== 0x0a) {
      let nl = data.indexOf(0x0a, at);
      if (nl < 0) nl = data.length;
      const sp = data.indexOf(0x20, at);
      if (sp > at && sp < nl) {
        const key = DEC.decode(data.subarray(at, sp));
        if ((type === 'commit' && (key === 'tree' || key === 'parent')) || (type === 'tag' && key === 'object')) {
          const id = DEC.decode(data.subarray(sp + 1, nl));
          if (id.length !== hexLen || !isHex(id)) throw new CorruptError(hex, `bad ${key} line in ${type} ${hex}`);
          stack.push(id);
        }
      }
      at = nl + 1;
    }
    return;
  }
  if (type === 'tree') {
    let at = 0;
    while (at < data.length) {
      const sp = data.indexOf(0x20, at);
      const nul = sp < 0 ? -1 : data.indexOf(0, sp);
      if (sp < 0 || nul < 0 || nul + 1 + H > data.length) throw new CorruptError(hex, `malformed tree ${hex}`);
      // mode: 40000 (tree), 160000 (gitlink: not an object of this repository), anything else a blob
      const gitlink = sp - at === 6 && data[at] === 0x31 && data[at + 1] === 0x36;
      if (!gitlink) stack.push(toHex(data, nul + 1, H));
      at = nul + 1 + H;
    }
  }
}
