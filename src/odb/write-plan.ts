/**
 * Planning a MIDX write (spec 4.4-4.9): which packs are collected, the
 * "already up to date" and "nothing to do" shortcuts, the preferred pack,
 * which objects go in (select.ts) and the bytes (midx/write.ts).
 */

import { RIDX_MAGIC } from '../pack/rev.js';
import { CorruptError, InvalidArgumentError } from '../errors.js';
import type { Fs } from '../io/fs.js';
import { join, readdirInDirectoryOrder } from '../io/fs.js';
import { CHUNK_OIDL } from '../midx/chunks.js';
import type { MidxFile } from '../midx/read.js';
import { compactionPackOrder, compareIdxOrPackName, type CompactionLayer, defaultPreferredPack, filterObjects, type ObjectSource, selectObjects } from '../midx/select.js';
import { buildMidx, pseudoPackOrder } from '../midx/write.js';
import { compareBytewise, compareOid, toHex } from '../oid.js';
import { type PackIndex, readPackIndex } from '../pack/idx.js';
import { buildLayerBitmap } from './bitmap-write.js';
import { checkJobVersion, type Job, type WriterContext } from './write-job.js';
import { clearFiles, Paths } from './write-files.js';
import { bitmapLoadable, chainOf, compactionEndpoints, firstPseudoPackSlot, packNamesOf, reverseIndexLoadable, type State } from './write-state.js';

/** A pack the new MIDX will list. */
export interface Collected {
  /** `.idx` basename */
  name: string;
  /** git's orig_pack_int_id: the global pack-int-id of a carried-over pack, else the next id */
  id: number;
  /** `.pack` mtime, whole seconds */
  mtime: number;
  index: PackIndex | null;
}

export interface Plan {
  bytes: Uint8Array;
  hex: string;
  /** the layer the new one sits on (incremental), or null */
  base: MidxFile | null;
  /** compaction: checksums of the layers above `to`, bottom first */
  aboveTo: string[];
  /** expire: the `.idx` names left out, in the old MIDX's order */
  dropped: string[];
  /** the layer's `.bitmap` (`--bitmap`) */
  bitmap?: Uint8Array;
  /** the layer's `.rev` (`--bitmap` with GIT_TEST_MIDX_WRITE_REV) */
  rev?: Uint8Array;
}

// ---------------------------------------------------------------- planning

/** `fn` over `items`, at most `limit` at a time, results in the items' order. */
async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function packStat(fs: Fs, path: string): Promise<{ mtime: number } | null> {
  const st = await fs.stat(path).catch(() => null);
  return st && st.isFile ? { mtime: Math.floor(st.mtimeMs / 1000) } : null;
}

/**
 * The pack directory in the order git collects it (spec 4.4 step 3): the
 * directory's own order where the client gives it, since it decides which of
 * two copies of an object in packs of the same mtime second is kept (and the
 * default preferred pack among equal mtimes); sorted by name otherwise.
 */
async function listPackDir(fs: Fs, packDir: string): Promise<string[]> {
  const ordered = await readdirInDirectoryOrder(fs, packDir);
  if (ordered !== undefined) return ordered ?? [];
  return ((await fs.readdir(packDir)) ?? []).sort(compareBytewise);
}

function packPath(packDir: string, idxName: string): string {
  return join(packDir, idxName.replace(/\.idx$/, '.pack'));
}

async function loadIndex(cx: WriterContext, c: Collected): Promise<PackIndex> {
  if (!c.index) {
    const path = join(cx.packDir, c.name);
    c.index = await readPackIndex(cx.fs, path, cx.hash);
  }
  return c.index;
}

/** A carried-over pack: its `.pack` must be there (git's prepare_midx_pack, else `could not load pack %d`). */
async function carriedPack(cx: WriterContext, name: string, id: number): Promise<Collected> {
  const st = await packStat(cx.fs, packPath(cx.packDir, name));
  if (!st) throw new CorruptError(packPath(cx.packDir, name), `could not load pack ${id}`);
  return { name, id, mtime: st.mtime, index: null };
}

async function midxSource(layer: MidxFile, skipPackId?: number): Promise<ObjectSource> {
  await layer.loadTables();
  const base = layer.numPacksInBase;
  const numPacks = layer.numPacks;
  return {
    table: layer.oidTable,
    oidBase: 0,
    oidStride: layer.hash.rawLength,
    fanout: layer.fanout,
    packIdAt(i) {
      const p = layer.packIdAt(i);
      if (p >= numPacks) throw new CorruptError(layer.file, `bad pack-int-id: ${p + base} (${numPacks + base} total packs)`);
      return p + base;
    },
    offsetAt: (i) => layer.offsetAt(i),
    mtime: 0,
    preferred: false,
    skipPackId,
  };
}

function packSource(c: Collected, preferred: boolean): ObjectSource {
  const idx = c.index!;
  const id = c.id;
  return {
    table: idx.data,
    oidBase: idx.oidPos(0),
    oidStride: idx.oidPos(1) - idx.oidPos(0),
    fanout: idx.fanout,
    packIdAt: () => id,
    offsetAt: (i) => idx.offsetAt(i),
    mtime: c.mtime,
    preferred,
  };
}

/**
 * "Does the base chain hold this object?" for the objects of a new layer.
 * Layers whose tables are loaded (or that are small next to the number of
 * questions) are searched in memory; the others by reading single OIDs at
 * their positions, so that appending a small pack costs O(log n) reads per
 * object and per layer, not a read of every layer's tables.
 */
class BaseLookup {
  private layers: Array<{ layer: MidxFile; read?: (pos: number, len: number) => Uint8Array | Promise<Uint8Array>; close?: () => unknown }> = [];
  private constructor(private readonly H: number) {}

  static async open(fs: Fs, base: MidxFile | null, questions: number, H: number): Promise<BaseLookup> {
    const lookup = new BaseLookup(H);
    for (const layer of chainOf(base)) {
      if (!layer.tablesLoaded && questions * 2048 < layer.numObjects) {
        const raf = await fs.open(layer.file);
        lookup.layers.push({ layer, read: (p, l) => raf.read(p, l), close: () => raf.close() });
      } else {
        await layer.loadTables();
        lookup.layers.push({ layer });
      }
    }
    return lookup;
  }

  async has(oid: Uint8Array, off: number): Promise<boolean> {
    const H = this.H;
    for (const { layer, read } of this.layers) {
      if (!read) {
        if (layer.findLoaded(oid, off) >= 0) return true;
        continue;
      }
      const b = oid[off];
      let lo = b ? layer.fanout[b - 1] : 0;
      let hi = layer.fanout[b];
      const oidl = layer.chunks.get(CHUNK_OIDL)!.offset;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        const r = read(oidl + mid * H, H);
        const got = r instanceof Promise ? await r : r;
        const c = compareOid(got, 0, oid, off, H);
        if (c === 0) return true;
        if (c < 0) lo = mid + 1;
        else hi = mid;
      }
    }
    return false;
  }

  async close(): Promise<void> {
    for (const l of this.layers) await l.close?.();
  }
}

/** What the planning steps share: the job, the loaded state, and what earlier steps decided. */
interface Planning {
  cx: WriterContext;
  job: Job;
  state: State;
  paths: Paths;
  H: number;
  warn(file: string, reason: string): void;
  /** compaction endpoints */
  from: MidxFile | null;
  to: MidxFile | null;
  /** the existing MIDX whose packs are carried over (null: --stdin-packs, or not trusted) */
  reuse: MidxFile | null;
  /** the layers the new one sits on (incremental, compaction) */
  base: MidxFile | null;
  /** expire: the packs the rewrite leaves out */
  drop: Set<string> | null;
  /** the packs, carried over first (`carriedCount` of them), then found in the directory */
  collected: Collected[];
  carriedCount: number;
}

/**
 * Decides what to write (spec 4.3-4.9) from the loaded state; null when
 * there is nothing to write (up to date, or no new packs for a layer). Each
 * step below is one of the spec's.
 */
export async function makePlan(cx: WriterContext, job: Job, state: State, paths: Paths): Promise<Plan | null> {
  const p: Planning = {
    cx, job, state, paths,
    H: cx.hash.rawLength,
    warn: (file, reason) => cx.warn({ file, reason }),
    from: null, to: null, reuse: null, base: null, drop: null,
    collected: [], carriedCount: 0,
  };
  if (job.compact) ({ from: p.from, to: p.to } = compactionEndpoints(job, state));
  checkJobVersion(job);
  if (!(await existingMidx(p))) return null;
  await collectPacks(p);
  if (await upToDate(p)) return null;
  // 4.6: nothing to do
  if (job.incremental && p.collected.length === 0) return null;
  const pref = await preferredPack(p);
  const sel = await selectNewObjects(p, pref);
  return encode(p, sel, pref);
}

/** 4.3: the existing MIDX (its tip), trusted only with a good checksum; expire's packs; the base. False: nothing to write. */
async function existingMidx(p: Planning): Promise<boolean> {
  const { job, state } = p;
  let m: MidxFile | null = null;
  if (!job.stdinPacks || job.incremental) {
    if (state.tip && !state.tipValid) p.warn(state.tip.file, 'ignoring existing multi-pack-index; checksum mismatch');
    else m = state.tip;
  }
  p.reuse = job.stdinPacks ? null : m;
  // expire: which packs the rewrite leaves out (git's expire_midx_packs)
  if (job.drop) {
    if (state.layers.length > 1) throw new InvalidArgumentError('cannot expire packs from an incremental multi-pack-index');
    if (!state.tip) return false;
    p.drop = await job.drop(state.tip);
    if (!p.drop.size) return false;
    // a MIDX not reused (bad checksum) carries no packs over: git would delete
    // the packs and then fail here; nothing is deleted before this check
    for (const n of p.drop) if (!p.reuse || !p.reuse.packNames.includes(n)) throw new InvalidArgumentError(`did not see pack-file ${n.replace(/\.idx$/, '.pack')} to drop`);
  }
  let base: MidxFile | null = job.incremental ? m : null;
  if (job.compact) base = p.from!.base;
  if (job.base !== undefined) {
    if (job.base === 'none') base = null;
    else {
      while (base && base.checksumHex !== job.base) base = base.base;
      if (!base) throw new InvalidArgumentError(`could not find base MIDX '${job.base}'`);
    }
  }
  p.base = base;
  return true;
}

/** 4.4: the packs: carried over from the MIDX being rewritten, the compacted layers', or the directory's new ones. */
async function collectPacks(p: Planning): Promise<void> {
  const { cx, job, state, paths, reuse, drop, collected } = p;
  if (job.incremental && job.bitmap) {
    for (const l of chainOf(p.base)) {
      if (!(await reverseIndexLoadable(cx, paths, state, l))) throw new InvalidArgumentError(`could not load reverse index for MIDX ${l.checksumHex}`);
    }
  }
  /** the id of the next pack found in the directory: after every carried-over id, expired ones included */
  let nextId = 0;
  if (reuse && !job.incremental && !job.compact) {
    for (const l of chainOf(reuse)) {
      for (let i = 0; i < l.numPacks; i++) {
        nextId = Math.max(nextId, l.numPacksInBase + i + 1);
        if (drop?.has(l.packNames[i])) continue;
        collected.push(await carriedPack(cx, l.packNames[i], l.numPacksInBase + i));
      }
    }
  }
  p.carriedCount = collected.length;
  if (job.compact) {
    const { from, to } = p;
    const range: MidxFile[] = [];
    for (let l: MidxFile | null = to; l && l !== from!.base; l = l.base) range.unshift(l);
    const layers: CompactionLayer[] = [];
    for (const l of range) {
      const cl: CompactionLayer = { numPacksInBase: l.numPacksInBase, numPacks: l.numPacks };
      if (job.bitmap) cl.preferredPack = await layerPreferredPack(cx, paths, state, l);
      layers.push(cl);
    }
    const globalNames = (id: number) => {
      for (const l of range) if (id >= l.numPacksInBase && id < l.numPacksInBase + l.numPacks) return l.packNames[id - l.numPacksInBase];
      throw new CorruptError(to!.file, `bad pack-int-id: ${id}`);
    };
    for (const id of compactionPackOrder(layers, job.bitmap)) collected.push(await carriedPack(cx, globalNames(id), id));
    return;
  }
  const covered = packNamesOf(reuse);
  for (const n of packNamesOf(p.base)) covered.add(n);
  const adding = job.progress?.start('Adding packfiles to multi-pack-index', 0);
  // git counts every .idx it meets (pack_paths_checked); packs being expired are gone from git's listing already
  const listed = (await listPackDir(cx.fs, cx.packDir)).filter((n) => n.endsWith('.idx') && !drop?.has(n));
  adding?.update(listed.length);
  const names = listed.filter((n) => !covered.has(n) && (!job.stdinPacks || job.stdinPacks.has(n)));
  // the packs' stat and .idx reads overlap (a few at a time); they are then taken in listing order
  type Load = { name: string; idxPath: string; st?: { mtime: number }; index?: PackIndex; error?: string };
  const loads = await mapLimit(names, 8, async (name): Promise<Load> => {
    const idxPath = join(cx.packDir, name);
    const st = await packStat(cx.fs, packPath(cx.packDir, name));
    if (!st) return { name, idxPath, error: `failed to add packfile '${idxPath}'` };
    try {
      return { name, idxPath, st, index: await readPackIndex(cx.fs, idxPath, cx.hash) };
    } catch {
      return { name, idxPath, error: `failed to open pack-index '${idxPath}'` };
    }
  });
  for (const l of loads) {
    if (!l.st || !l.index) {
      p.warn(l.idxPath, l.error!);
      continue;
    }
    // the next id after the carried-over packs (git's ctx.nr)
    collected.push({ name: l.name, id: nextId++, mtime: l.st.mtime, index: l.index });
  }
  adding?.stop();
}

/** 4.5: already up to date (the same packs, version and bitmap state): nothing is written. */
async function upToDate(p: Planning): Promise<boolean> {
  const { cx, job, state, paths, collected } = p;
  if (job.compact || p.drop || !state.tip) return false;
  const e = state.tip;
  let needed = !state.tipValid || e.version !== job.version || job.incremental || collected.length !== e.numPacksInBase + e.numPacks;
  if (!needed) {
    const names = new Set(collected.map((c) => c.name));
    for (const l of chainOf(e)) {
      for (const n of l.packNames) {
        if (!names.delete(n)) needed = true;
      }
    }
  }
  if (needed) return false;
  if (!job.bitmap) {
    await clearFiles(cx, cx.packDir, ['bitmap'], () => false);
    return true;
  }
  return bitmapLoadable(cx, paths, state);
}

/** 4.7 step 1: the preferred pack (an index into `collected`, or -1). */
async function preferredPack(p: Planning): Promise<number> {
  const { cx, job, collected } = p;
  if (job.compact) return -1;
  let pref = -1;
  if (job.preferredPack !== undefined) {
    pref = collected.findIndex((c) => compareIdxOrPackName(job.preferredPack!, c.name) === 0);
    if (pref < 0) p.warn(cx.packDir, `unknown preferred pack: '${job.preferredPack}'`);
  } else if (job.bitmap) {
    // git opens only the candidates' indexes; one that fails to open counts as empty
    const count = async (i: number) => {
      try {
        return (await loadIndex(cx, collected[i])).count;
      } catch {
        return 0;
      }
    };
    pref = await defaultPreferredPack(collected.length, (i) => collected[i].mtime, count);
  }
  if (pref >= 0) {
    const c = collected[pref];
    let idx: PackIndex;
    try {
      idx = await loadIndex(cx, c);
    } catch (err) {
      throw new CorruptError(join(cx.packDir, c.name), `failed to open preferred pack ${c.name}`, { cause: err });
    }
    if (!idx.count) throw new InvalidArgumentError(`cannot select preferred pack ${packPath(cx.packDir, c.name)} with no objects`);
  }
  return pref;
}

/** 4.7 steps 2-3: candidates, deduplication, and (for a layer) the objects its base chain already holds left out. */
async function selectNewObjects(p: Planning, pref: number): Promise<ReturnType<typeof selectObjects>> {
  const { cx, job, reuse, collected, carriedCount, base, H } = p;
  const sources: ObjectSource[] = [];
  if (job.compact) {
    for (let l: MidxFile | null = p.to; l && l !== p.from!.base; l = l.base) sources.push(await midxSource(l));
  } else {
    const prefCarried = pref >= 0 && pref < carriedCount;
    if (reuse && !job.incremental) for (const l of chainOf(reuse)) sources.push(await midxSource(l, prefCarried ? collected[pref].id : undefined));
    for (let i = carriedCount; i < collected.length; i++) sources.push(packSource(collected[i], i === pref));
    if (prefCarried) sources.push(packSource(collected[pref], true));
  }
  let sel = selectObjects(sources, H);
  if (job.incremental && base) {
    const lookup = await BaseLookup.open(cx.fs, base, sel.count, H);
    try {
      const inBase = new Uint8Array(sel.count);
      for (let i = 0; i < sel.count; i++) if (await lookup.has(sel.oids, i * H)) inBase[i] = 1;
      sel = filterObjects(sel, H, (i) => !inBase[i]);
    } finally {
      await lookup.close();
    }
  }
  return sel;
}

/** 4.7 steps 5-9: pack order, the permutation, the MIDX bytes; with `bitmap`, the pseudo-pack order, `.rev` and `.bitmap`. */
async function encode(p: Planning, sel: ReturnType<typeof selectObjects>, pref: number): Promise<Plan> {
  const { cx, job, state, collected, base, reuse, to, H } = p;
  // step 5: pack order (compaction keeps its own), then the permutation
  const order = job.compact ? collected : [...collected].sort((a, b) => compareBytewise(a.name, b.name));
  const perm = new Uint32Array(order.reduce((m, c) => Math.max(m, c.id + 1), 0));
  order.forEach((c, i) => (perm[c.id] = i));
  // step 6: sanity
  if (order.length === 0) throw new InvalidArgumentError('no pack files to index.');
  const packIds = new Uint32Array(sel.count);
  for (let i = 0; i < sel.count; i++) packIds[i] = perm[sel.packIds[i]];
  let reverse: { order: Uint32Array; baseObjects: number } | null = null;
  if (job.bitmap) {
    if (!sel.count) p.warn(cx.packDir, 'refusing to write multi-pack .bitmap without any objects');
    else {
      const baseObjects = job.incremental && base ? base.numObjectsInBase + base.numObjects : 0;
      reverse = { order: pseudoPackOrder(packIds, sel.offsets, job.compact ? null : sel.preferred, order.length), baseObjects };
    }
  }
  // step 8-9: the bytes
  const writing = job.progress?.start('Writing chunks to multi-pack-index', 0);
  const bytes = await buildMidx(
    { hash: cx.hash, version: job.version as 1 | 2, packNames: order.map((c) => c.name), oids: sel.oids, packIds, offsets: sel.offsets, reverse },
    (b) => cx.codec.hash(cx.hash.algorithm, b),
  );
  // git opens this meter and never advances it: nothing is shown
  writing?.stop();
  const hex = toHex(bytes, bytes.length - H, H);
  const aboveTo: string[] = [];
  if (job.compact) for (let l = reuse; l && l !== to && l.checksumHex !== to!.checksumHex; l = l.base) aboveTo.unshift(l.checksumHex);
  const dropped = p.drop ? reuse!.packNames.filter((n) => p.drop!.has(n)) : [];
  const plan: Plan = { bytes, hex, base: job.incremental ? base : null, aboveTo, dropped };
  if (reverse) {
    const checksum = bytes.subarray(bytes.length - H);
    if (job.writeRev) plan.rev = await buildRevFile(cx, reverse.order, checksum);
    plan.bitmap = await buildLayerBitmap(cx, {
      oids: sel.oids,
      order: reverse.order,
      base: job.incremental ? base : null,
      baseInChain: state.source === 'chain',
      checksum,
      refsSnapshot: job.refsSnapshot,
      compact: job.compact,
      oldLayers: state.layers,
      oldInChain: state.source === 'chain',
    });
  }
  return plan;
}

/** A MIDX `.rev` file (git's write_rev_file_order): RIDX header, the layer-local pseudo-pack order, the MIDX checksum, the trailer. */
async function buildRevFile(cx: WriterContext, order: Uint32Array, checksum: Uint8Array): Promise<Uint8Array> {
  const H = cx.hash.rawLength;
  const out = new Uint8Array(12 + 4 * order.length + 2 * H);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, RIDX_MAGIC);
  dv.setUint32(4, 1);
  dv.setUint32(8, cx.hash.formatId);
  order.forEach((v, j) => dv.setUint32(12 + 4 * j, v));
  out.set(checksum, 12 + 4 * order.length);
  const sum = await cx.codec.hash(cx.hash.algorithm, out.subarray(0, out.length - H));
  out.set(sum.subarray(0, H), out.length - H);
  return out;
}

/** Global pack-int-id of a layer's preferred pack: the pack of its first pseudo-pack slot (git's midx_preferred_pack). */
async function layerPreferredPack(cx: WriterContext, paths: Paths, state: State, layer: MidxFile): Promise<number> {
  const pos = await firstPseudoPackSlot(cx, paths, state, layer);
  if (pos === undefined || pos === null) throw new InvalidArgumentError('could not determine preferred pack');
  for (const l of chainOf(layer)) {
    if (pos < l.numObjectsInBase) continue;
    if (pos >= l.numObjectsInBase + l.numObjects) break;
    await l.loadTables();
    return l.numPacksInBase + l.packIdAt(pos - l.numObjectsInBase);
  }
  throw new CorruptError(layer.file, 'invalid MIDX object position, MIDX is likely corrupt');
}
