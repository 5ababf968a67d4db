/**
 * Writing MIDX files and chain layers with git's policy (spec 4): options
 * checked as `git multi-pack-index write|compact` checks them, the current
 * MIDX or chain loaded and trusted only when its checksum is good, the
 * "already up to date" and "nothing to do" shortcuts, the locks
 * (`multi-pack-index.lock`, `multi-pack-index.d/multi-pack-index-chain.lock`),
 * a temporary layer renamed into place, a non-incremental base hard-linked
 * into the chain, the chain file committed through its lock, stale files
 * cleared as git clears them, and finally a refresh of the pack backend.
 *
 * Which packs and objects go in is select.ts; the bytes are midx/write.ts.
 *
 * Deliberate differences from git, documented:
 * - packs are collected in sorted name order, not directory-listing order;
 * - packs are keyed by a stable id (global pack-int-id, or the next id after
 *   the carried-over packs), so git's mix-up of collection index and global
 *   pack id in rewrites of multi-layer chains (spec Appendix A.9) is not
 *   reproduced;
 * - a MIDX that git would die on (bad signature, missing chunk...) is
 *   ignored as the reader ignores it, and the write proceeds without it;
 * - the lock is taken once the write is known to be needed, and if the MIDX
 *   or chain changed meanwhile the plan is made again under the lock, so two
 *   writers never lose each other's layers;
 * - `bitmap: true` writes the RIDX and BTMP chunks but not the `.bitmap`
 *   file (not implemented yet). Consequently an up-to-date MIDX rewritten
 *   with `bitmap: true` is rewritten again next time, as git would if its
 *   `.bitmap` were missing.
 */

import { configGet } from '../config.js';
import { CorruptError, InvalidArgumentError } from '../errors.js';
import type { Fs } from '../io/fs.js';
import { isNotFound, join } from '../io/fs.js';
import { CHAIN_NAME, layerFileName, loadMidx, MIDX_DIR, MIDX_NAME } from '../midx/chain.js';
import { CHUNK_OIDL, CHUNK_RIDX } from '../midx/chunks.js';
import type { MidxFile } from '../midx/read.js';
import {
  compactionPackOrder,
  compareIdxOrPackName,
  type CompactionLayer,
  defaultPreferredPack,
  filterObjects,
  type ObjectSource,
  selectObjects,
} from '../midx/select.js';
import { buildMidx, pseudoPackOrder } from '../midx/write.js';
import { compareBytewise, compareOid, toHex } from '../oid.js';
import { PackIndex } from '../pack/idx.js';
import type { CompactMidxOptions, Progress, WriteMidxOptions } from '../types.js';
import type { Odb } from './odb.js';

const MIDX_PREFIX = 'multi-pack-index-';
const BITMAP_SIGNATURE = 0x4249544d; // "BITM"
const RIDX_SIGNATURE = 0x52494458; // "RIDX"

interface Job {
  compact: boolean;
  incremental: boolean;
  bitmap: boolean;
  preferredPack?: string;
  version: number;
  writeChainFile: boolean;
  base?: string;
  /** exact `.idx` names (--stdin-packs), or undefined for every pack */
  stdinPacks?: Set<string>;
  from?: string;
  to?: string;
  progress?: Progress;
}

/** The MIDX as git loads it before writing: the non-incremental file, else the chain. */
interface State {
  source: 'single' | 'chain' | 'none';
  /** root first */
  layers: MidxFile[];
  tip: MidxFile | null;
  /** the tip's trailing checksum matches its bytes (git's midx_checksum_valid) */
  tipValid: boolean;
  /** layers borrowed from the database's own pack backend: not closed here */
  borrowed: Set<MidxFile>;
}

/** A pack the new MIDX will list. */
interface Collected {
  /** `.idx` basename */
  name: string;
  /** git's orig_pack_int_id: the global pack-int-id of a carried-over pack, else the next id */
  id: number;
  /** `.pack` mtime, whole seconds */
  mtime: number;
  index: PackIndex | null;
}

interface Plan {
  bytes: Uint8Array;
  hex: string;
  /** the layer the new one sits on (incremental), or null */
  base: MidxFile | null;
  /** compaction: checksums of the layers above `to`, bottom first */
  aboveTo: string[];
}

class Paths {
  readonly midx: string;
  readonly dir: string;
  readonly chain: string;
  constructor(readonly packDir: string) {
    this.midx = join(packDir, MIDX_NAME);
    this.dir = join(packDir, MIDX_DIR);
    this.chain = join(this.dir, CHAIN_NAME);
  }
  /** a companion or layer file: `<packdir>/multi-pack-index-<hex>.<ext>` or the same in `.d` */
  file(hex: string, ext: string, inChain: boolean): string {
    return join(inChain ? this.dir : this.packDir, `${MIDX_PREFIX}${hex}.${ext}`);
  }
}

// ---------------------------------------------------------------- options

function parseVersion(odb: Odb, given: number | undefined, fallback: number): number {
  if (given !== undefined) return given;
  const v = configGet(odb.config, 'midx.version');
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`bad numeric config value '${v}' for 'midx.version'`);
  return n;
}

function checkVersion(version: number): void {
  if (version !== 1 && version !== 2) throw new InvalidArgumentError(`unknown MIDX version: ${version}`);
}

function writeJob(odb: Odb, o: WriteMidxOptions): Job {
  if (o === null || typeof o !== 'object') throw new InvalidArgumentError('writeMidx: options must be an object');
  const incremental = !!o.incremental;
  const writeChainFile = o.writeChainFile ?? true;
  if (!writeChainFile && !incremental) throw new InvalidArgumentError('cannot use --no-write-chain-file without --incremental');
  if (o.base !== undefined && writeChainFile) throw new InvalidArgumentError('cannot use --base without --no-write-chain-file');
  if (o.base !== undefined && typeof o.base !== 'string') throw new InvalidArgumentError('writeMidx: `base` must be a string');
  if (o.preferredPack !== undefined && typeof o.preferredPack !== 'string') throw new InvalidArgumentError('writeMidx: `preferredPack` must be a string');
  if (o.stdinPacks !== undefined && (!Array.isArray(o.stdinPacks) || o.stdinPacks.some((n) => typeof n !== 'string'))) {
    throw new InvalidArgumentError('writeMidx: `stdinPacks` must be an array of .idx names');
  }
  return {
    compact: false,
    incremental,
    bitmap: !!o.bitmap,
    preferredPack: o.preferredPack,
    version: parseVersion(odb, o.version, 1),
    writeChainFile,
    base: o.base,
    stdinPacks: o.stdinPacks ? new Set(o.stdinPacks) : undefined,
    progress: o.progress,
  };
}

function compactJob(odb: Odb, o: CompactMidxOptions): Job {
  if (o === null || typeof o !== 'object' || typeof o.from !== 'string' || typeof o.to !== 'string') {
    throw new InvalidArgumentError('compactMidx: `from` and `to` (layer checksums) are required');
  }
  const incremental = !!o.incremental;
  const writeChainFile = o.writeChainFile ?? true;
  if (!writeChainFile && !incremental) throw new InvalidArgumentError('cannot use --no-write-chain-file without --incremental');
  if (o.base !== undefined && typeof o.base !== 'string') throw new InvalidArgumentError('compactMidx: `base` must be a string');
  return {
    compact: true,
    incremental,
    bitmap: !!o.bitmap,
    version: parseVersion(odb, o.version, 2),
    writeChainFile,
    base: o.base,
    from: o.from,
    to: o.to,
    progress: o.progress,
  };
}

// ---------------------------------------------------------------- loading

async function loadState(odb: Odb): Promise<State> {
  // chain layers are named by their checksum, so a layer file the database
  // already has open is the same bytes: borrow it rather than open every layer
  // again (appending to a chain of hundreds of layers stays as cheap as to one)
  const open = new Map(odb.packBackend.layers.map((l) => [l.file, l]));
  const borrowed = new Set<MidxFile>();
  const loaded = await loadMidx(odb.fs, odb.packDir, odb.hash, (w) => odb.warn(w), (path) => {
    const l = path.endsWith('.midx') ? open.get(path) : undefined;
    if (l) borrowed.add(l);
    return l;
  });
  const tip = loaded.layers.length ? loaded.layers[loaded.layers.length - 1] : null;
  return { source: loaded.source, layers: loaded.layers, tip, tipValid: tip ? await checksumValid(odb, tip) : false, borrowed };
}

async function closeState(state: State): Promise<void> {
  for (const l of state.layers) {
    if (state.borrowed.has(l)) continue;
    try {
      await l.close();
    } catch {
      // already closed
    }
  }
}

async function checksumValid(odb: Odb, layer: MidxFile): Promise<boolean> {
  const H = odb.hash.rawLength;
  const bytes = await layer.readAll();
  const sum = await odb.codec.hash(odb.hash.algorithm, bytes.subarray(0, bytes.length - H));
  return compareOid(sum, 0, bytes, bytes.length - H, H) === 0;
}

/** What identifies the current MIDX: the non-incremental file's size and trailer, and the chain file's bytes. */
async function fingerprint(odb: Odb, paths: Paths): Promise<string> {
  const H = odb.hash.rawLength;
  let s = '-';
  const st = await odb.fs.stat(paths.midx);
  if (st) {
    s = `${st.size}`;
    if (st.size >= H) {
      try {
        const f = await odb.fs.open(paths.midx);
        try {
          s += ':' + toHex(await f.read(f.size - H, H));
        } finally {
          await f.close();
        }
      } catch (err) {
        if (!isNotFound(err)) throw err;
        s = '-';
      }
    }
  }
  const chain = await odb.fs.tryReadFile(paths.chain);
  return `${s}|${chain ? toHex(chain) : '-'}`;
}

/** Every layer from `layer` down to the root. */
function* chainOf(layer: MidxFile | null): Generator<MidxFile> {
  for (let l = layer; l; l = l.base) yield l;
}

function packNamesOf(layer: MidxFile | null): Set<string> {
  const names = new Set<string>();
  for (const l of chainOf(layer)) for (const n of l.packNames) names.add(n);
  return names;
}

/** git's load_midx_revindex: a RIDX chunk of the right size, else a valid `.rev` file. */
async function reverseIndexLoadable(odb: Odb, paths: Paths, state: State, layer: MidxFile): Promise<boolean> {
  return (await firstPseudoPackSlot(odb, paths, state, layer)) !== undefined;
}

/**
 * RIDX[0] of a layer (the global MIDX position in its first pseudo-pack slot),
 * from the RIDX chunk or the layer's `.rev` file; undefined when neither
 * loads, null when the reverse index loads but is empty.
 */
async function firstPseudoPackSlot(odb: Odb, paths: Paths, state: State, layer: MidxFile): Promise<number | null | undefined> {
  const ridx = layer.chunks.get(CHUNK_RIDX);
  if (ridx) {
    if (ridx.size === 4 * layer.numObjects) {
      if (!layer.numObjects) return null;
      const b = await layer.readChunk(CHUNK_RIDX);
      return new DataView(b!.buffer, b!.byteOffset, 4).getUint32(0);
    }
    odb.warn({ file: layer.file, reason: 'multi-pack-index reverse-index chunk is the wrong size' });
  }
  const H = odb.hash.rawLength;
  const path = paths.file(layer.checksumHex, 'rev', state.source === 'chain');
  let f;
  try {
    f = await odb.fs.open(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    if (f.size !== 12 + 4 * layer.numObjects + 2 * H) return undefined;
    const head = await f.read(0, Math.min(16, f.size - 2 * H));
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (dv.getUint32(0) !== RIDX_SIGNATURE || dv.getUint32(4) !== 1) return undefined;
    const id = dv.getUint32(8);
    if (id !== 1 && id !== 2) return undefined;
    return layer.numObjects ? dv.getUint32(12) : null;
  } finally {
    await f.close();
  }
}

/** A loadable MIDX bitmap for every layer: `BITM`, version 1, and the layer's checksum in the header. */
async function bitmapLoadable(odb: Odb, paths: Paths, state: State): Promise<boolean> {
  const H = odb.hash.rawLength;
  for (const layer of state.layers) {
    let f;
    try {
      f = await odb.fs.open(paths.file(layer.checksumHex, 'bitmap', state.source === 'chain'));
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
    try {
      if (f.size < 12 + H) return false;
      const head = await f.read(0, 12 + H);
      const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
      if (dv.getUint32(0) !== BITMAP_SIGNATURE || dv.getUint16(4) !== 1) return false;
      if (compareOid(head, 12, layer.checksum, 0, H) !== 0) return false;
    } finally {
      await f.close();
    }
  }
  return true;
}

// ---------------------------------------------------------------- planning

/** `compact <from> <to>`: the endpoints, found walking down from the tip (git's builtin checks, in its order). */
function compactionEndpoints(job: Job, state: State): { from: MidxFile; to: MidxFile } {
  let from: MidxFile | null = null;
  let to: MidxFile | null = null;
  for (let l = state.tip; l && !(from && to); l = l.base) {
    if (!from && l.checksumHex === job.from) from = l;
    if (!to && l.checksumHex === job.to) to = l;
  }
  if (!from) throw new InvalidArgumentError(`could not find MIDX: ${job.from}`);
  if (!to) throw new InvalidArgumentError(`could not find MIDX: ${job.to}`);
  if (from === to) throw new InvalidArgumentError('MIDX compaction endpoints must be unique');
  for (const l of chainOf(from)) if (l === to) throw new InvalidArgumentError(`MIDX ${job.from} must be an ancestor of ${job.to}`);
  return { from, to };
}

function checkJobVersion(job: Job): void {
  checkVersion(job.version);
  if (job.compact && job.version !== 2) throw new InvalidArgumentError('cannot perform MIDX compaction with v1 format');
}

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
  const st = await fs.stat(path);
  return st && st.isFile ? { mtime: Math.floor(st.mtimeMs / 1000) } : null;
}

function packPath(packDir: string, idxName: string): string {
  return join(packDir, idxName.replace(/\.idx$/, '.pack'));
}

async function loadIndex(odb: Odb, c: Collected): Promise<PackIndex> {
  if (!c.index) {
    const path = join(odb.packDir, c.name);
    c.index = PackIndex.parse(path, await odb.fs.readFile(path), odb.hash);
  }
  return c.index;
}

/** A carried-over pack: its `.pack` must be there (git's prepare_midx_pack, else `could not load pack %d`). */
async function carriedPack(odb: Odb, name: string, id: number): Promise<Collected> {
  const st = await packStat(odb.fs, packPath(odb.packDir, name));
  if (!st) throw new CorruptError(packPath(odb.packDir, name), `could not load pack ${id}`);
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
        if ((layer.find(oid, off) as number) >= 0) return true;
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

/**
 * Decides what to write (spec 4.3-4.9) from the loaded state; null when
 * there is nothing to write (up to date, or no new packs for a layer).
 */
async function makePlan(odb: Odb, job: Job, state: State, paths: Paths): Promise<Plan | null> {
  const fs = odb.fs;
  const H = odb.hash.rawLength;
  const warn = (file: string, reason: string) => odb.warn({ file, reason });

  let from: MidxFile | null = null;
  let to: MidxFile | null = null;
  if (job.compact) ({ from, to } = compactionEndpoints(job, state));
  checkJobVersion(job);

  // 4.3: the existing MIDX (its tip), trusted only with a good checksum
  let m: MidxFile | null = null;
  if (!job.stdinPacks || job.incremental) {
    if (state.tip && !state.tipValid) warn(state.tip.file, 'ignoring existing multi-pack-index; checksum mismatch');
    else m = state.tip;
  }
  const reuse = job.stdinPacks ? null : m;
  let base: MidxFile | null = job.incremental ? m : null;
  if (job.compact) base = from!.base;
  if (job.base !== undefined) {
    if (job.base === 'none') base = null;
    else {
      while (base && base.checksumHex !== job.base) base = base.base;
      if (!base) throw new InvalidArgumentError(`could not find base MIDX '${job.base}'`);
    }
  }

  // 4.4: packs
  if (job.incremental && job.bitmap) {
    for (const l of chainOf(base)) {
      if (!(await reverseIndexLoadable(odb, paths, state, l))) throw new InvalidArgumentError(`could not load reverse index for MIDX ${l.checksumHex}`);
    }
  }
  const collected: Collected[] = [];
  if (reuse && !job.incremental && !job.compact) {
    for (const l of chainOf(reuse)) {
      for (let i = 0; i < l.numPacks; i++) collected.push(await carriedPack(odb, l.packNames[i], l.numPacksInBase + i));
    }
  }
  const carriedCount = collected.length;
  if (job.compact) {
    const range: MidxFile[] = [];
    for (let l: MidxFile | null = to; l && l !== from!.base; l = l.base) range.unshift(l);
    const layers: CompactionLayer[] = [];
    for (const l of range) {
      const cl: CompactionLayer = { numPacksInBase: l.numPacksInBase, numPacks: l.numPacks };
      if (job.bitmap) cl.preferredPack = await layerPreferredPack(odb, paths, state, l);
      layers.push(cl);
    }
    const globalNames = (id: number) => {
      for (const l of range) if (id >= l.numPacksInBase && id < l.numPacksInBase + l.numPacks) return l.packNames[id - l.numPacksInBase];
      throw new CorruptError(to!.file, `bad pack-int-id: ${id}`);
    };
    for (const id of compactionPackOrder(layers, job.bitmap)) collected.push(await carriedPack(odb, globalNames(id), id));
  } else {
    const covered = packNamesOf(reuse);
    for (const n of packNamesOf(base)) covered.add(n);
    const adding = job.progress?.start('Adding packfiles to multi-pack-index', 0);
    const names = ((await fs.readdir(odb.packDir)) ?? [])
      .filter((n) => n.endsWith('.idx') && !covered.has(n) && (!job.stdinPacks || job.stdinPacks.has(n)))
      .sort(compareBytewise);
    // the packs' stat and .idx reads overlap (a few at a time); they are then taken in name order
    type Load = { name: string; idxPath: string; st?: { mtime: number }; index?: PackIndex; error?: string };
    const loads = await mapLimit(names, 8, async (name): Promise<Load> => {
      const idxPath = join(odb.packDir, name);
      const st = await packStat(fs, packPath(odb.packDir, name));
      if (!st) return { name, idxPath, error: `failed to add packfile '${idxPath}'` };
      try {
        return { name, idxPath, st, index: PackIndex.parse(idxPath, await fs.readFile(idxPath), odb.hash) };
      } catch {
        return { name, idxPath, error: `failed to open pack-index '${idxPath}'` };
      }
    });
    for (const l of loads) {
      if (!l.st || !l.index) {
        warn(l.idxPath, l.error!);
        continue;
      }
      // the next id after the carried-over packs (git's ctx.nr)
      collected.push({ name: l.name, id: collected.length, mtime: l.st.mtime, index: l.index });
      adding?.update(collected.length);
    }
    adding?.stop();
  }

  // 4.5: already up to date
  if (!job.compact && state.tip) {
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
    if (!needed) {
      if (!job.bitmap) {
        await clearFiles(odb, odb.packDir, ['bitmap'], () => false);
        return null;
      }
      if (await bitmapLoadable(odb, paths, state)) return null;
    }
  }
  // 4.6: nothing to do
  if (job.incremental && collected.length === 0) return null;

  // 4.7 step 1: the preferred pack
  let pref = -1;
  if (!job.compact) {
    if (job.preferredPack !== undefined) {
      pref = collected.findIndex((c) => compareIdxOrPackName(job.preferredPack!, c.name) === 0);
      if (pref < 0) warn(odb.packDir, `unknown preferred pack: '${job.preferredPack}'`);
    } else if (job.bitmap) {
      // git opens only the candidates' indexes; one that fails to open counts as empty
      const count = async (i: number) => {
        try {
          return (await loadIndex(odb, collected[i])).count;
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
        idx = await loadIndex(odb, c);
      } catch (err) {
        throw new CorruptError(join(odb.packDir, c.name), `failed to open preferred pack ${c.name}`, { cause: err });
      }
      if (!idx.count) throw new InvalidArgumentError(`cannot select preferred pack ${packPath(odb.packDir, c.name)} with no objects`);
    }
  }

  // step 2-3: candidates, deduplication, the base filter
  const sources: ObjectSource[] = [];
  if (job.compact) {
    for (let l: MidxFile | null = to; l && l !== from!.base; l = l.base) sources.push(await midxSource(l));
  } else {
    const prefCarried = pref >= 0 && pref < carriedCount;
    if (reuse && !job.incremental) for (const l of chainOf(reuse)) sources.push(await midxSource(l, prefCarried ? collected[pref].id : undefined));
    for (let i = carriedCount; i < collected.length; i++) sources.push(packSource(collected[i], i === pref));
    if (prefCarried) sources.push(packSource(collected[pref], true));
  }
  let sel = selectObjects(sources, H);
  if (job.incremental && base) {
    const lookup = await BaseLookup.open(fs, base, sel.count, H);
    try {
      const inBase = new Uint8Array(sel.count);
      for (let i = 0; i < sel.count; i++) if (await lookup.has(sel.oids, i * H)) inBase[i] = 1;
      sel = filterObjects(sel, H, (i) => !inBase[i]);
    } finally {
      await lookup.close();
    }
  }

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
    if (!sel.count) warn(odb.packDir, 'refusing to write multi-pack .bitmap without any objects');
    else {
      const baseObjects = job.incremental && base ? base.numObjectsInBase + base.numObjects : 0;
      reverse = { order: pseudoPackOrder(packIds, sel.offsets, job.compact ? null : sel.preferred, order.length), baseObjects };
    }
  }
  // step 8-9: the bytes
  const writing = job.progress?.start('Writing chunks to multi-pack-index', 0);
  const bytes = await buildMidx(
    { hash: odb.hash, version: job.version as 1 | 2, packNames: order.map((c) => c.name), oids: sel.oids, packIds, offsets: sel.offsets, reverse },
    (b) => odb.codec.hash(odb.hash.algorithm, b),
  );
  writing?.update(1);
  writing?.stop();
  const hex = toHex(bytes, bytes.length - H, H);
  const aboveTo: string[] = [];
  if (job.compact) for (let l = reuse; l && l !== to && l.checksumHex !== to!.checksumHex; l = l.base) aboveTo.unshift(l.checksumHex);
  return { bytes, hex, base: job.incremental ? base : null, aboveTo };
}

/** Global pack-int-id of a layer's preferred pack: the pack of its first pseudo-pack slot (git's midx_preferred_pack). */
async function layerPreferredPack(odb: Odb, paths: Paths, state: State, layer: MidxFile): Promise<number> {
  const pos = await firstPseudoPackSlot(odb, paths, state, layer);
  if (pos === undefined || pos === null) throw new InvalidArgumentError('could not determine preferred pack');
  for (const l of chainOf(layer)) {
    if (pos < l.numObjectsInBase) continue;
    if (pos >= l.numObjectsInBase + l.numObjects) break;
    await l.loadTables();
    return l.numPacksInBase + l.packIdAt(pos - l.numObjectsInBase);
  }
  throw new CorruptError(layer.file, 'invalid MIDX object position, MIDX is likely corrupt');
}

// ---------------------------------------------------------------- committing

/** Removes `<dir>/multi-pack-index-*<ext>` except the names in `keep` (git's clear_midx_file_ext). */
/** Removes the files of `dir` named `multi-pack-index-*` ending in one of `exts`, except those `keep` names. */
async function clearFiles(odb: Odb, dir: string, exts: string[], keep: (name: string) => boolean): Promise<void> {
  const names = await odb.fs.readdir(dir);
  if (!names) return;
  for (const n of names) {
    if (!n.startsWith(MIDX_PREFIX) || !exts.some((ext) => n.endsWith(ext)) || keep(n)) continue;
    try {
      await odb.fs.remove(join(dir, n));
    } catch (err) {
      odb.warn({ file: join(dir, n), reason: `failed to remove ${join(dir, n)}: ${(err as Error).message}` });
    }
  }
}

/**
 * git's clear_midx_files: stale layer and companion files in `.d` (all but
 * the kept hashes), companion files in the pack directory, then the
 * non-incremental file (incremental writes) or the chain file. git clears the
 * pack directory once per kept hash, each pass keeping only that hash's files,
 * so with two or more kept hashes nothing survives there: one listing, same
 * result (a pass per kept hash made appends grow with the chain's length).
 */
async function clearMidxFiles(odb: Odb, paths: Paths, keep: string[], incremental: boolean): Promise<void> {
  const exts = ['bitmap', 'rev', 'midx'];
  const kept = new Set<string>();
  for (const h of keep) for (const ext of exts) kept.add(`${MIDX_PREFIX}${h}.${ext}`);
  await clearFiles(odb, paths.dir, exts, (n) => kept.has(n));
  if (keep.length) await clearFiles(odb, odb.packDir, exts, (n) => keep.length === 1 && kept.has(n));
  const last = incremental ? paths.midx : paths.chain;
  try {
    await odb.fs.remove(last);
  } catch (err) {
    odb.warn({ file: last, reason: `failed to clear multi-pack-index at ${last}: ${(err as Error).message}` });
  }
}

/** Creates `<dir>/tmp_midx_XXXXXX` with mode 0444 holding `bytes`. */
async function createTemp(fs: Fs, dir: string, bytes: Uint8Array): Promise<string> {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (let attempt = 0; ; attempt++) {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += chars[Math.floor(Math.random() * chars.length)];
    const path = join(dir, `tmp_midx_${suffix}`);
    try {
      await fs.createExclusive(path, bytes, 0o444);
      return path;
    } catch (err) {
      if ((err as { code?: string }).code !== 'ELOCKED' || attempt > 100) throw err;
    }
  }
}

interface Lock {
  path: string;
  held: boolean;
}

async function commit(odb: Odb, job: Job, state: State, plan: Plan, paths: Paths, lock: Lock | null): Promise<void> {
  const fs = odb.fs;
  if (!job.incremental) {
    // non-incremental: the bytes go into the lock, which becomes the MIDX
    await fs.writeFile(lock!.path, plan.bytes);
    await fs.rename(lock!.path, paths.midx);
    lock!.held = false;
    await clearMidxFiles(odb, paths, [plan.hex], false);
    return;
  }
  const tmp = await createTemp(fs, paths.dir, plan.bytes);
  try {
    // a non-incremental base becomes the chain's root layer, under the same name
    if (plan.base && state.source === 'single' && plan.base === state.layers[0]) {
      const hex = plan.base.checksumHex;
      const links: Array<[string, string]> = [
        [paths.midx, paths.file(hex, 'midx', true)],
        [paths.file(hex, 'bitmap', false), paths.file(hex, 'bitmap', true)],
        [paths.file(hex, 'rev', false), paths.file(hex, 'rev', true)],
      ];
      for (const [from, to] of links) {
        try {
          await fs.linkOrCopy(from, to);
        } catch (err) {
          if (!isNotFound(err)) throw new CorruptError(to, `unable to link '${from}' to '${to}': ${(err as Error).message}`, { cause: err });
        }
      }
    }
    await fs.rename(tmp, paths.file(plan.hex, 'midx', true));
  } catch (err) {
    await fs.remove(tmp).catch(() => {});
    throw err;
  }
  if (!lock) return;
  const keep: string[] = [];
  for (const l of chainOf(plan.base)) keep.unshift(l.checksumHex);
  keep.push(plan.hex, ...plan.aboveTo);
  await fs.writeFile(lock.path, keep.map((h) => `${h}\n`).join(''));
  await fs.rename(lock.path, paths.chain);
  lock.held = false;
  await clearMidxFiles(odb, paths, keep, true);
}

async function run(odb: Odb, job: Job): Promise<string | null> {
  const fs = odb.fs;
  const paths = new Paths(odb.packDir);
  let fp = await fingerprint(odb, paths);
  let state = await loadState(odb);
  let lock: Lock | null = null;
  let hex: string;
  try {
    if (job.compact) compactionEndpoints(job, state);
    checkJobVersion(job);
    // git creates the layer directory up front, even when nothing gets written
    if (job.incremental) {
      await fs.mkdir(odb.packDir);
      await fs.mkdir(paths.dir);
    }
    let plan = await makePlan(odb, job, state, paths);
    if (!plan) return null;
    const lockPath = job.incremental ? (job.writeChainFile ? `${paths.chain}.lock` : null) : `${paths.midx}.lock`;
    if (lockPath) {
      await fs.createExclusive(lockPath);
      lock = { path: lockPath, held: true };
      // another writer may have changed the MIDX between our look and our lock
      const now = await fingerprint(odb, paths);
      if (now !== fp) {
        fp = now;
        await closeState(state);
        state = await loadState(odb);
        plan = await makePlan(odb, job, state, paths);
        if (!plan) return null;
      }
    }
    await commit(odb, job, state, plan, paths, lock);
    hex = plan.hex;
  } finally {
    if (lock?.held) await fs.remove(lock.path).catch(() => {});
    await closeState(state);
  }
  await odb.refresh();
  return hex;
}

/** `git multi-pack-index write` (spec 4). Resolves to the new checksum, or null when nothing was written. */
export async function writeMidx(odb: Odb, options: WriteMidxOptions = {}): Promise<string | null> {
  return run(odb, writeJob(odb, options));
}

/** `git multi-pack-index compact <from> <to>` (spec 4.9). */
export async function compactMidx(odb: Odb, options: CompactMidxOptions): Promise<string | null> {
  return run(odb, compactJob(odb, options));
}
