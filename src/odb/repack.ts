/**
 * `git multi-pack-index repack [--batch-size=<size>]` (spec 4.11): pick packs
 * of the MIDX as git 2.55 does, write one pack holding the objects the MIDX
 * assigns to them (their entries copied, see pack/write.ts), then rewrite the
 * MIDX so it names the new pack. The old packs stay until `expire`.
 *
 * Selection, as git's midx_repack: a candidate pack loads (its .idx and its
 * .pack), has objects, has no .keep (unless repack.packKeptObjects) and is not
 * a cruft pack (.mtimes). Batch size 0 takes every candidate. Otherwise the
 * packs are visited oldest first (the .pack mtime in whole seconds, ties in
 * pack-int-id order), each with the size it is expected to add,
 * round(referenced / objects * size) in 14-bit fixed point; a pack whose
 * expected size reaches the batch size is skipped, and packs are added while
 * the running total stays below it. One pack or none selected: nothing to do.
 */

import { configBool } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import { join } from '../io/fs.js';
import type { Pack } from '../pack/pack.js';
import { PackSources, writePackFromSources } from '../pack/write.js';
import { repackWriteInit } from './write-pack.js';
import { toHex } from '../oid.js';
import type { RepackMidxOptions, RepackMidxResult } from '../types.js';
import type { OdbInternals } from './odb.js';
import { AbortGate, progressWith } from '../progress.js';

interface Candidate {
  packIntId: number;
  pack: Pack;
  /** whole seconds, as git's packed_git mtime */
  mtime: number;
  size: number;
  objects: number;
  referenced: number;
  wanted: boolean;
}

/** round(referenced / objects * size), computed as git does: 14 fractional bits, integer division. */
export function expectedPackSize(referenced: number, objects: number, size: number): bigint {
  let e = (BigInt(referenced) << 14n) / BigInt(objects);
  e *= BigInt(size);
  return (e + (1n << 13n)) >> 14n;
}

export async function repackMidx(db: OdbInternals, options: RepackMidxOptions = {}): Promise<RepackMidxResult> {
  const batchSize = options.batchSize ?? 0;
  if (!Number.isSafeInteger(batchSize) || batchSize < 0) throw new InvalidArgumentError(`repackMidx: bad batch size ${String(options.batchSize)}`);
  const gate = new AbortGate(options.signal);
  gate.check();
  const progress = progressWith(options, gate);
  const nothing: RepackMidxResult = { repacked: [], pack: null, midx: null };
  const backend = db.packBackend;
  await backend.ready();
  if (backend.layers.length === 0) return nothing;
  if (backend.layers.length > 1) throw new InvalidArgumentError('cannot repack an incremental multi-pack-index');
  const m = backend.layers[0];
  await m.loadTables();
  const packKeptObjects = configBool(db.config, 'repack.packKeptObjects', false);

  const candidates: Candidate[] = [];
  for (let id = 0; id < m.numPacks; id++) {
    const pack = backend.midxPacks[id];
    const c: Candidate = { packIntId: id, pack, mtime: 0, size: 0, objects: 0, referenced: 0, wanted: false };
    candidates.push(c);
    if (!pack) continue;
    const st = await db.fs.stat(pack.packPath);
    if (!st) continue;
    c.mtime = Math.floor(st.mtimeMs / 1000);
    c.size = st.size;
    const base = join(pack.packDir, pack.name.replace(/\.idx$/, ''));
    if (!packKeptObjects && (await db.fs.stat(`${base}.keep`))) continue;
    if (await db.fs.stat(`${base}.mtimes`)) continue;
    try {
      c.objects = (await pack.loadIndex()).count;
    } catch {
      continue;
    }
    c.wanted = c.objects > 0;
  }

  const include = new Uint8Array(m.numPacks);
  if (batchSize === 0) {
    for (const c of candidates) if (c.wanted) include[c.packIntId] = 1;
  } else {
    for (let i = 0; i < m.numObjects; i++) candidates[m.packIdAt(i)].referenced++;
    // oldest first; Array.prototype.sort is stable, so equal mtimes keep pack-int-id order
    const byAge = [...candidates].sort((a, b) => a.mtime - b.mtime);
    const batch = BigInt(batchSize);
    let total = 0n;
    for (const c of byAge) {
      if (total >= batch) break;
      if (!c.wanted) continue;
      const expected = expectedPackSize(c.referenced, c.objects, c.size);
      if (expected >= batch) continue;
      total += expected;
      include[c.packIntId] = 1;
    }
  }
  const repacked = candidates.filter((c) => include[c.packIntId]).map((c) => c.pack.name);
  if (repacked.length <= 1) return nothing;

  // the objects the MIDX assigns to the selected packs, in MIDX order, copied from the entry it names
  const src = new PackSources(db.hash.rawLength, Math.max(1, m.numObjects));
  for (let i = 0; i < m.numObjects; i++) {
    const id = m.packIdAt(i);
    if (include[id]) src.add(m.oidAt(i), backend.midxPacks[id], m.offsetAt(i));
  }
  gate.check();
  // what is there before: an aborted repack removes the pack it wrote, unless the same pack was there already
  const before = new Set((await db.fs.readdir(db.packDir)) ?? []);
  const pack = await writePackFromSources(
    repackWriteInit(db, progress, async (oid) => {
      throw new InvalidArgumentError(`repack: object ${toHex(oid)} has no pack entry`);
    }),
    src,
  );
  const unwrite = async () => {
    // the reverse of the writer's order (.pack, .rev, .idx): the .idx goes first
    for (const file of [pack.idxPath, pack.revPath, pack.packPath]) {
      if (!before.has(file.slice(file.lastIndexOf('/') + 1))) await db.fs.remove(file);
    }
    await db.refresh();
  };
  let midx: string | null;
  try {
    gate.check();
    await db.refresh();
    // the MIDX writer's commit is the point of no return
    midx = await db.odb.writeMidx({ progress: options.progress, onProgress: options.onProgress, signal: options.signal });
  } catch (err) {
    if (gate.isAbort(err)) await unwrite();
    throw err;
  }
  return { repacked, pack, midx };
}
