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
 * The steps, in order (runJob): the job (write-job.ts), the current MIDX
 * (write-state.ts), the plan (write-plan.ts; which packs and objects go in is
 * select.ts, the bytes are midx/write.ts), then the commit here, through the
 * files, temporaries and locks of write-files.ts.
 *
 * Deliberate differences from git, documented:
 * - packs are collected in sorted name order, not directory-listing order,
 *   on fs clients that cannot list a directory in its own order (write-plan.ts);
 * - packs are keyed by a stable id (global pack-int-id, or the next id after
 *   the carried-over packs), so git's mix-up of collection index and global
 *   pack id in rewrites of multi-layer chains (spec Appendix A.9) is not
 *   reproduced;
 * - a MIDX that git would die on (bad signature, missing chunk...) is
 *   ignored as the reader ignores it, and the write proceeds without it;
 * - the lock is taken once the write is known to be needed, and if the MIDX
 *   or chain changed meanwhile the plan is made again under the lock, so two
 *   writers never lose each other's layers;
 * - `bitmap: true` writes the RIDX and BTMP chunks and the `.bitmap`
 *   (odb/bitmap-write.ts), byte for byte as git 2.55.
 */

import { CorruptError } from '../errors.js';
import { isNotFound } from '../io/fs.js';
import type { CompactMidxOptions, WriteMidxOptions } from '../types.js';
import { checkJobVersion, compactJob, type Job, writeJob, type WriterContext } from './write-job.js';
import { clearMidxFiles, clearStaleTemps, commitLock, createTemp, type Lock, Paths, releaseLock, takeLock } from './write-files.js';
import { makePlan, type Plan } from './write-plan.js';
import { chainOf, closeState, compactionEndpoints, fingerprint, loadState, type State } from './write-state.js';

// ---------------------------------------------------------------- committing

/** The `.rev` and `.bitmap` of the new MIDX or layer, each written to a temporary file and renamed (before the MIDX itself, as git does). */
async function writeCompanions(cx: WriterContext, job: Job, plan: Plan, paths: Paths): Promise<void> {
  const dir = job.incremental ? paths.dir : cx.packDir;
  for (const [ext, bytes] of [['rev', plan.rev], ['bitmap', plan.bitmap]] as const) {
    if (!bytes) continue;
    const tmp = await createTemp(cx.fs, dir, bytes);
    try {
      await cx.fs.rename(tmp, paths.file(plan.hex, ext, job.incremental));
    } catch (err) {
      await cx.fs.remove(tmp).catch(() => {});
      throw err;
    }
  }
}

async function commit(cx: WriterContext, job: Job, state: State, plan: Plan, paths: Paths, lock: Lock | null): Promise<void> {
  const fs = cx.fs;
  await writeCompanions(cx, job, plan, paths);
  if (!job.incremental) {
    // non-incremental: the bytes go into the lock, which becomes the MIDX
    await commitLock(fs, lock!, plan.bytes, paths.midx);
    await clearMidxFiles(cx, paths, [plan.hex], false);
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
  await commitLock(fs, lock, keep.map((h) => `${h}\n`).join(''), paths.chain);
  await clearMidxFiles(cx, paths, keep, true);
}

/** Runs a write job; null when nothing was written. */
export async function runJob(cx: WriterContext, job: Job): Promise<{ hex: string; dropped: string[] } | null> {
  const fs = cx.fs;
  const gate = job.gate;
  gate.check();
  const paths = new Paths(cx.packDir);
  let fp = await fingerprint(cx, paths);
  let state = await loadState(cx);
  let lock: Lock | null = null;
  let done: { hex: string; dropped: string[] };
  // git creates the layer directory up front, even when nothing gets written.
  // Here it is made once planning is over (or failed), so that a write aborted
  // while planning leaves no trace
  const makeDir = async () => {
    if (!job.incremental) return;
    await fs.mkdir(cx.packDir);
    await fs.mkdir(paths.dir);
  };
  try {
    if (job.compact) compactionEndpoints(job, state);
    checkJobVersion(job);
    let plan: Plan | null;
    try {
      plan = await makePlan(cx, job, state, paths);
      gate.check();
    } catch (err) {
      if (!gate.isAbort(err)) await makeDir();
      throw err;
    }
    // the point of no return: from here the write completes whatever the signal says
    gate.commit();
    await makeDir();
    if (!plan) return null;
    const lockPath = job.incremental ? (job.writeChainFile ? `${paths.chain}.lock` : null) : `${paths.midx}.lock`;
    if (lockPath) {
      lock = await takeLock(fs, lockPath);
      await clearStaleTemps(cx, paths);
      // another writer may have changed the MIDX between our look and our lock
      const now = await fingerprint(cx, paths);
      if (now !== fp) {
        fp = now;
        await closeState(state);
        state = await loadState(cx);
        plan = await makePlan(cx, job, state, paths);
        if (!plan) return null;
      }
    }
    await commit(cx, job, state, plan, paths, lock);
    done = { hex: plan.hex, dropped: plan.dropped };
  } finally {
    if (lock?.held) await releaseLock(fs, lock);
    await closeState(state);
  }
  await cx.refresh();
  return done;
}

/** `git multi-pack-index write` (spec 4). Resolves to the new checksum, or null when nothing was written. */
export async function writeMidx(cx: WriterContext, options: WriteMidxOptions = {}): Promise<string | null> {
  return (await runJob(cx, writeJob(cx, options)))?.hex ?? null;
}

/** `git multi-pack-index compact <from> <to>` (spec 4.9). */
export async function compactMidx(cx: WriterContext, options: CompactMidxOptions): Promise<string | null> {
  return (await runJob(cx, compactJob(cx, options)))?.hex ?? null;
}
