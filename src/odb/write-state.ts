/**
 * The current MIDX as the writer sees it (spec 4.2-4.3): the non-incremental
 * file, else the chain, loaded with git's rules and trusted only when the
 * tip's checksum is good; its fingerprint (to see another writer's change
 * under the lock); and what the plan asks of it: its layers and pack names,
 * whether its reverse indexes and bitmaps load, and the endpoints of a
 * compaction.
 */

import { InvalidArgumentError } from '../errors.js';
import { isNotFound } from '../io/fs.js';
import { chainFingerprint, loadMidx, midxFileStamp, readChainFile } from '../midx/chain.js';
import { CHUNK_RIDX } from '../midx/chunks.js';
import type { MidxFile } from '../midx/read.js';
import { compareOid, toHex } from '../oid.js';
import { RIDX_MAGIC } from '../pack/rev.js';
import type { Job, WriterContext } from './write-job.js';
import type { Paths } from './write-files.js';

const BITMAP_SIGNATURE = 0x4249544d; // "BITM"

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

/** `compact <from> <to>`: the endpoints, found walking down from the tip (git's builtin checks, in its order). */
export function compactionEndpoints(job: Job, state: State): { from: MidxFile; to: MidxFile } {
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
