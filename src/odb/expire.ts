/**
 * `git multi-pack-index expire` (spec 4.10): the packs of the MIDX that no
 * MIDX object refers to (every object they hold is taken from another pack)
 * are deleted, and the MIDX is rewritten without them.
 *
 * git's rules: a pack is kept when it cannot be loaded (no `.pack`), has a
 * `.keep`, or is a cruft pack (`.mtimes`); a MIDX chain of two or more layers
 * is refused (`cannot expire packs from an incremental multi-pack-index`),
 * a single-layer chain becomes a non-incremental MIDX; the rewrite is a plain
 * `write` (the MIDX reused, no bitmap, `midx.version`).
 *
 * One deliberate difference in order: git deletes the packs and then writes
 * the MIDX, so for a moment the MIDX names packs that are gone. Here the new
 * MIDX is written first (under its lock, temporary file renamed, as every
 * write) and only then are the packs it no longer names deleted, `.idx`
 * first (git's order), so a reader never meets a MIDX naming a deleted pack.
 * The pack selection is made under the lock: if another writer changed the
 * MIDX meanwhile, it is made again on the new MIDX. A writer that starts
 * between our rename and the deletions may still list those packs (as it
 * would list any pack in the directory); readers fall back to the other
 * copies of their objects.
 */

import { isNotFound, join } from '../io/fs.js';
import type { MidxFile } from '../midx/read.js';
import type { ExpireMidxOptions, ExpireMidxResult, Progress } from '../types.js';
import type { OdbInternals } from './odb.js';
import { runJob } from './write.js';
import { writeJob } from './write-job.js';

/** What git's unlink_pack_path removes, in its order. */
const PACK_EXTS = ['.idx', '.pack', '.rev', '.keep', '.bitmap', '.promisor', '.mtimes'];

async function exists(db: OdbInternals, path: string): Promise<boolean> {
  return !!(await db.fs.stat(path));
}

/** The packs of `m` that no object refers to and that git would delete. */
async function unreferencedPacks(db: OdbInternals, m: MidxFile, progress: Progress | undefined): Promise<Set<string>> {
  await m.loadTables();
  const count = new Uint32Array(m.numPacks);
  const counting = progress?.start('Counting referenced objects', m.numObjects);
  for (let i = 0; i < m.numObjects; i++) {
    const id = m.packIdAt(i);
    if (id < m.numPacks) count[id]++;
    counting?.update(i + 1);
  }
  counting?.stop();
  const drop = new Set<string>();
  const finding = progress?.start('Finding and deleting unreferenced packfiles', m.numPacks);
  for (let i = 0; i < m.numPacks; i++) {
    finding?.update(i + 1);
    if (count[i]) continue;
    const base = join(db.packDir, m.packNames[i].replace(/\.idx$/, ''));
    // git's prepare_midx_pack: the .pack must be there; .keep and cruft packs stay
    const pack = await db.fs.stat(`${base}.pack`);
    if (!pack || !pack.isFile) continue;
    if ((await exists(db, `${base}.keep`)) || (await exists(db, `${base}.mtimes`))) continue;
    drop.add(m.packNames[i]);
  }
  finding?.stop();
  return drop;
}

export async function deletePack(db: OdbInternals, idxName: string): Promise<void> {
  const base = join(db.packDir, idxName.replace(/\.idx$/, ''));
  // git's unlink_pack_path without force: a pack that got a .keep meanwhile stays
  if (await exists(db, `${base}.keep`)) return;
  for (const ext of PACK_EXTS) {
    try {
      await db.fs.remove(`${base}${ext}`);
    } catch (err) {
      if (!isNotFound(err)) db.warn({ file: `${base}${ext}`, reason: `unable to remove ${base}${ext}: ${(err as Error).message}` });
    }
  }
}

export async function expireMidx(db: OdbInternals, options: ExpireMidxOptions = {}): Promise<ExpireMidxResult> {
  // onProgress and signal as every write: an abort before the new MIDX is committed deletes nothing
  const job = writeJob(db, { progress: options.progress, onProgress: options.onProgress, signal: options.signal });
  job.drop = (m) => unreferencedPacks(db, m, job.progress);
  const done = await runJob(db, job);
  if (!done) return { expired: [], midx: null };
  for (const name of done.dropped) await deletePack(db, name);
  await db.refresh();
  return { expired: done.dropped, midx: done.hex };
}
