/**
 * The writer's inputs (spec 4.1-4.3): options checked as git checks them, the
 * job they make, and the current MIDX or chain loaded as the writer sees it
 * (the tip trusted only when its checksum is good). Planning is
 * write-plan.ts; committing the files is write.ts.
 */

import { RIDX_MAGIC } from '../pack/rev.js';
import { configGet } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import { isNotFound, join } from '../io/fs.js';
import { CHAIN_NAME, chainFingerprint, loadMidx, MIDX_DIR, midxFileStamp, MIDX_NAME, readChainFile } from '../midx/chain.js';
import { CHUNK_RIDX } from '../midx/chunks.js';
import type { MidxFile } from '../midx/read.js';
import { compareOid, toHex } from '../oid.js';
import { PackIndex } from '../pack/idx.js';
import type { CompactMidxOptions, GitObject, ObjectHeader, Progress, WriteMidxOptions } from '../types.js';
import type { GitConfig } from '../config.js';
import type { Fs } from '../io/fs.js';
import type { HashInfo } from '../oid.js';
import type { Codec } from '../zlib/index.js';
import { AbortGate, progressWith } from '../progress.js';

/**
 * What a MIDX write needs of the database it writes for, and all it sees of
 * it: the files (fs, gitdir, packDir), the hash and codec, the config, where
 * warnings go, the MIDX layers the database has open (borrowed rather than
 * opened again), objects and headers for the reachability walk of a bitmap,
 * and the refresh that follows a write. Every step of the writer (job, plan,
 * commit, bitmap) takes this one context.
 */
export interface WriterContext {
  readonly fs: Fs;
  readonly gitdir: string;
  readonly packDir: string;
  readonly hash: HashInfo;
  readonly codec: Codec;
  readonly config: GitConfig;
  warn(w: { file: string; reason: string }): void;
  /** the MIDX layers the database has open, root first */
  openLayers(): readonly MidxFile[];
  read(oid: string): Promise<GitObject>;
  readHeader(oid: string): Promise<ObjectHeader>;
  /** after a write: the database sees the new files */
  refresh(): Promise<boolean>;
}

export const MIDX_PREFIX = 'multi-pack-index-';
const BITMAP_SIGNATURE = 0x4249544d; // "BITM"

export interface Job {
  compact: boolean;
  incremental: boolean;
  bitmap: boolean;
  /** `--refs-snapshot` file */
  refsSnapshot?: string;
  /** also write the `.rev` file (GIT_TEST_MIDX_WRITE_REV) */
  writeRev: boolean;
  preferredPack?: string;
  version: number;
  writeChainFile: boolean;
  base?: string;
  /** exact `.idx` names (--stdin-packs), or undefined for every pack */
  stdinPacks?: Set<string>;
  from?: string;
  to?: string;
  progress?: Progress;
  /** the caller's signal; `commit()` on it marks the point of no return */
  gate: AbortGate;
  /**
   * expire (spec 4.10): given the MIDX being rewritten, the `.idx` names of the
   * packs to leave out of the new one; an empty set means nothing to do
   */
  drop?: (m: MidxFile) => Promise<Set<string>>;
}

/** The MIDX as git loads it before writing: the non-incremental file, else the chain. */
export interface State {
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

export class Paths {
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

function parseVersion(cx: WriterContext, given: number | undefined, fallback: number): number {
  if (given !== undefined) return given;
  const v = configGet(cx.config, 'midx.version');
  if (v === undefined) return fallback;
  const n = Number(v.trim());
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`bad numeric config value '${v}' for 'midx.version'`);
  return n;
}

export function checkVersion(version: number): void {
  if (version !== 1 && version !== 2) throw new InvalidArgumentError(`unknown MIDX version: ${version}`);
}

function progressOf(o: WriteMidxOptions | CompactMidxOptions): { progress?: Progress; gate: AbortGate } {
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw new InvalidArgumentError('`signal` must be an AbortSignal');
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw new InvalidArgumentError('`onProgress` must be a function');
  const gate = new AbortGate(o.signal);
  return { progress: progressWith(o, gate), gate };
}

export function writeJob(cx: WriterContext, o: WriteMidxOptions): Job {
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
    refsSnapshot: o.refsSnapshot,
    writeRev: !!o.writeRev,
    preferredPack: o.preferredPack,
    version: parseVersion(cx, o.version, 1),
    writeChainFile,
    base: o.base,
    stdinPacks: o.stdinPacks ? new Set(o.stdinPacks) : undefined,
    ...progressOf(o),
  };
}

export function compactJob(cx: WriterContext, o: CompactMidxOptions): Job {
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
    refsSnapshot: o.refsSnapshot,
    writeRev: !!o.writeRev,
    version: parseVersion(cx, o.version, 2),
    writeChainFile,
    base: o.base,
    from: o.from,
    to: o.to,
    ...progressOf(o),
  };
}

// ---------------------------------------------------------------- loading

export async function loadState(cx: WriterContext): Promise<State> {
  // chain layers are named by their checksum, so a layer file the database
  // already has open is the same bytes: borrow it rather than open every layer
  // again (appending to a chain of hundreds of layers stays as cheap as to one)
  const open = new Map(cx.openLayers().map((l) => [l.file, l]));
  const borrowed = new Set<MidxFile>();
  const loaded = await loadMidx(cx.fs, cx.packDir, cx.hash, (w) => cx.warn(w), (path) => {
    const l = path.endsWith('.midx') ? open.get(path) : undefined;
    if (l) borrowed.add(l);
    return l;
  });
  const tip = loaded.layers.length ? loaded.layers[loaded.layers.length - 1] : null;
  return { source: loaded.source, layers: loaded.layers, tip, tipValid: tip ? await checksumValid(cx, tip) : false, borrowed };
}

export async function closeState(state: State): Promise<void> {
  for (const l of state.layers) {
    if (state.borrowed.has(l)) continue;
    try {
      await l.close();
    } catch {
      // already closed
    }
  }
}

function checksumValid(cx: WriterContext, layer: MidxFile): Promise<boolean> {
  return layer.checksumMatches(cx.codec);
}

/** What identifies the current MIDX: the non-incremental file's size and trailer, and the chain file's bytes. */
export async function fingerprint(cx: WriterContext, paths: Paths): Promise<string> {
  const chain = chainFingerprint(await readChainFile(cx.fs, paths.chain));
  return `${await midxFileStamp(cx.fs, paths.midx, cx.hash.rawLength)}|${chain ? toHex(chain) : '-'}`;
}

/** Every layer from `layer` down to the root. */
export function* chainOf(layer: MidxFile | null): Generator<MidxFile> {
  for (let l = layer; l; l = l.base) yield l;
}

export function packNamesOf(layer: MidxFile | null): Set<string> {
  const names = new Set<string>();
  for (const l of chainOf(layer)) for (const n of l.packNames) names.add(n);
  return names;
}

/** git's load_midx_revindex: a RIDX chunk of the right size, else a valid `.rev` file. */
export async function reverseIndexLoadable(cx: WriterContext, paths: Paths, state: State, layer: MidxFile): Promise<boolean> {
  return (await firstPseudoPackSlot(cx, paths, state, layer)) !== undefined;
}

/**
 * RIDX[0] of a layer (the global MIDX position in its first pseudo-pack slot),
 * from the RIDX chunk or the layer's `.rev` file; undefined when neither
 * loads, null when the reverse index loads but is empty.
 */
export async function firstPseudoPackSlot(cx: WriterContext, paths: Paths, state: State, layer: MidxFile): Promise<number | null | undefined> {
  const ridx = layer.chunks.get(CHUNK_RIDX);
  if (ridx) {
    if (ridx.size === 4 * layer.numObjects) {
      if (!layer.numObjects) return null;
      const b = await layer.readChunk(CHUNK_RIDX);
      return new DataView(b!.buffer, b!.byteOffset, 4).getUint32(0);
    }
    cx.warn({ file: layer.file, reason: 'multi-pack-index reverse-index chunk is the wrong size' });
  }
  const H = cx.hash.rawLength;
  const path = paths.file(layer.checksumHex, 'rev', state.source === 'chain');
  let f;
  try {
    f = await cx.fs.open(path);
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
  try {
    if (f.size !== 12 + 4 * layer.numObjects + 2 * H) return undefined;
    const head = await f.read(0, Math.min(16, f.size - 2 * H));
    const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
    if (dv.getUint32(0) !== RIDX_MAGIC || dv.getUint32(4) !== 1) return undefined;
    const id = dv.getUint32(8);
    if (id !== 1 && id !== 2) return undefined;
    return layer.numObjects ? dv.getUint32(12) : null;
  } finally {
    await f.close();
  }
}

/** A loadable MIDX bitmap for every layer: `BITM`, version 1, and the layer's checksum in the header. */
export async function bitmapLoadable(cx: WriterContext, paths: Paths, state: State): Promise<boolean> {
  const H = cx.hash.rawLength;
  for (const layer of state.layers) {
    let f;
    try {
      f = await cx.fs.open(paths.file(layer.checksumHex, 'bitmap', state.source === 'chain'));
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

/** Removes the files of `dir` named `multi-pack-index-*` ending in one of `exts`, except those `keep` names. */
export async function clearFiles(cx: WriterContext, dir: string, exts: string[], keep: (name: string) => boolean): Promise<void> {
  const names = await cx.fs.readdir(dir);
  if (!names) return;
  for (const n of names) {
    if (!n.startsWith(MIDX_PREFIX) || !exts.some((ext) => n.endsWith(ext)) || keep(n)) continue;
    try {
      await cx.fs.remove(join(dir, n));
    } catch (err) {
      cx.warn({ file: join(dir, n), reason: `failed to remove ${join(dir, n)}: ${(err as Error).message}` });
    }
  }
}
