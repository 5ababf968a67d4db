/**
 * The writer's inputs (spec 4.1): the context every step of a write takes
 * (WriterContext), and the options checked as git checks them into the job
 * they make. The MIDX the job starts from is write-state.ts; the plan is
 * write-plan.ts; the files are write-files.ts; the steps in order are write.ts.
 */

import { configGet } from '../config.js';
import { InvalidArgumentError } from '../errors.js';
import type { MidxFile } from '../midx/read.js';
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

export function checkJobVersion(job: Job): void {
  checkVersion(job.version);
  if (job.compact && job.version !== 2) throw new InvalidArgumentError('cannot perform MIDX compaction with v1 format');
}
