/**
 * The MIDX writer's files (spec 4.12-4.13): where a MIDX, a chain and their
 * companions live (Paths), temporary files created exclusively, the lock
 * files a write commits through, and the clearing of stale files as git
 * clears them. The writer's steps (write.ts) call these; nothing here decides
 * what to write.
 */

import { LockError } from '../errors.js';
import type { Fs, WritableFile } from '../io/fs.js';
import { join } from '../io/fs.js';
import { CHAIN_NAME, MIDX_DIR, MIDX_NAME } from '../midx/chain.js';
import type { WriterContext } from './write-job.js';

export const MIDX_PREFIX = 'multi-pack-index-';

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

/** Removes the files of `dir` named `multi-pack-index-*` ending in one of `exts`, except those `keep` names (git's clear_midx_file_ext). */
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

/**
 * git's clear_midx_files: stale layer and companion files in `.d` (all but
 * the kept hashes), companion files in the pack directory, then the
 * non-incremental file (incremental writes) or the chain file. git clears the
 * pack directory once per kept hash, each pass keeping only that hash's files,
 * so with two or more kept hashes nothing survives there: one listing, same
 * result (a pass per kept hash made appends grow with the chain's length).
 */
export async function clearMidxFiles(cx: WriterContext, paths: Paths, keep: string[], incremental: boolean): Promise<void> {
  const exts = ['bitmap', 'rev', 'midx'];
  const kept = new Set<string>();
  for (const h of keep) for (const ext of exts) kept.add(`${MIDX_PREFIX}${h}.${ext}`);
  await clearFiles(cx, paths.dir, exts, (n) => kept.has(n));
  if (keep.length) await clearFiles(cx, cx.packDir, exts, (n) => keep.length === 1 && kept.has(n));
  const last = incremental ? paths.midx : paths.chain;
  try {
    await cx.fs.remove(last);
  } catch (err) {
    cx.warn({ file: last, reason: `failed to clear multi-pack-index at ${last}: ${(err as Error).message}` });
  }
}

/** Creates `<dir>/tmp_midx_XXXXXX` with mode 0444 holding `bytes`. */
export async function createTemp(fs: Fs, dir: string, bytes: Uint8Array): Promise<string> {
  const chars = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
  for (let attempt = 0; ; attempt++) {
    let suffix = '';
    for (let i = 0; i < 6; i++) suffix += chars[Math.floor(Math.random() * chars.length)];
    const path = join(dir, `tmp_midx_${suffix}`);
    try {
      await fs.createExclusive(path, bytes, 0o444);
      return path;
    } catch (err) {
      if (!(err instanceof LockError) || err.reason !== 'File exists.' || attempt > 100) throw err;
    }
  }
}

/**
 * A lock file, created exclusively (O_EXCL) and written only through the
 * descriptor that created it: a lock replaced meanwhile (a symlink swapped in,
 * say) is never written through, and is not renamed into place (LockError).
 */
export interface Lock {
  path: string;
  held: boolean;
  file: WritableFile;
}

export async function takeLock(fs: Fs, path: string): Promise<Lock> {
  return { path, held: true, file: await fs.openLock(path) };
}

/** Writes `bytes` into the lock and renames it to `target`, if the lock is still the file this writer created. */
export async function commitLock(fs: Fs, lock: Lock, bytes: Uint8Array | string, target: string): Promise<void> {
  await lock.file.write(typeof bytes === 'string' ? new TextEncoder().encode(bytes) : bytes);
  await lock.file.close();
  if (!(await lock.file.isStillAt())) throw new LockError(lock.path, 'the lock file was replaced while this writer held it; nothing was committed');
  await fs.rename(lock.path, target);
  lock.held = false;
}

/** Gives the lock up: removed if it is still this writer's file (never someone else's, never through a symlink). */
export async function releaseLock(fs: Fs, lock: Lock): Promise<void> {
  await lock.file.close().catch(() => {});
  if (await lock.file.isStillAt()) await fs.remove(lock.path).catch(() => {});
  lock.held = false;
}

/** tmp_midx_* files older than this were left by a writer that died: cleared by the next write. */
const STALE_TEMP_MS = 60 * 60 * 1000;

/** Removes tmp_midx_* files an interrupted writer left in the pack directory or the layer directory, once an hour old. */
export async function clearStaleTemps(cx: WriterContext, paths: Paths): Promise<void> {
  const now = Date.now();
  for (const dir of [cx.packDir, paths.dir]) {
    const names = await cx.fs.readdir(dir).catch(() => null);
    for (const n of names ?? []) {
      if (!n.startsWith('tmp_midx_')) continue;
      const file = join(dir, n);
      try {
        const st = await cx.fs.stat(file);
        if (st && st.isFile && now - st.mtimeMs > STALE_TEMP_MS) await cx.fs.remove(file);
      } catch (err) {
        cx.warn({ file, reason: `failed to remove stale temporary file: ${(err as Error).message}` });
      }
    }
  }
}
