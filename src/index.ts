/**
 * midx-odb: a git object database for isomorphic-git that reads objects
 * through multi-pack-indexes, incremental MIDX chains, unindexed packs and
 * loose objects.
 */

import { configGet, parseConfig } from './config.js';
import { UnsupportedError } from './errors.js';
import { join, normalizeFs } from './io/fs.js';
import { hashInfo, type HashAlgorithm } from './oid.js';
import { Odb } from './odb/odb.js';
import type { OpenOdbOptions } from './types.js';
import { loadCodec } from './zlib/index.js';

export { AmbiguousError, CorruptError, InvalidArgumentError, LockError, MidxOdbError, NotFoundError, UnsupportedError } from './errors.js';
export type {
  CompactMidxOptions,
  GitObject,
  LayerStats,
  ObjectHeader,
  ObjectLocation,
  ObjectType,
  OdbStats,
  OdbWarning,
  OpenOdbOptions,
  Progress,
  ProgressMeter,
  VerifyOptions,
  VerifyProblem,
  VerifyResult,
  WriteMidxOptions,
  WritePackOptions,
  WrittenPack,
  RepackMidxOptions,
  RepackMidxResult,
} from './types.js';
export { writePackOfObjects as writePack, writePackOfPacks } from './odb/write-pack.js';
export type { HashAlgorithm } from './oid.js';
export { Odb } from './odb/odb.js';
export { createIsogitCache, createIsogitFs, isogitCacheSelfTest, isogitCacheStats, isogitFsStats, ISOGIT_VERIFIED, withMidxHook } from './isogit/index.js';
export type {
  CommitObject,
  ContentObject,
  DeflatedObject,
  GitIdentity,
  IsogitCacheOptions,
  IsogitCacheStats,
  IsogitFsStats,
  IsogitLike,
  IsogitPackSource,
  MidxHookOptions,
  ParsedBlobObject,
  ParsedCommitObject,
  ParsedObject,
  ParsedTagObject,
  ParsedTreeObject,
  ReadObjectFormat,
  ReadObjectResult,
  SelfTestResult,
  TagObject,
  TreeEntry,
  TreeObject,
  WrappedObject,
} from './isogit/index.js';

/** Opens the object database of a git directory. Cheap: packs, indexes and MIDX tables are read on first use. */
export async function openOdb(options: OpenOdbOptions): Promise<Odb> {
  if (!options || typeof options.gitdir !== 'string' || !options.gitdir) throw new TypeError('openOdb: `gitdir` is required');
  const fs = normalizeFs(options.fs, { wholeFileBudget: options.wholeFileBudget });
  const configBytes = await fs.tryReadFile(join(options.gitdir, 'config'));
  const config = parseConfig(configBytes ? new TextDecoder().decode(configBytes) : '');
  let algorithm: HashAlgorithm = options.objectFormat ?? 'sha1';
  if (!options.objectFormat) {
    const format = (configGet(config, 'extensions.objectformat') ?? 'sha1').toLowerCase();
    if (format !== 'sha1' && format !== 'sha256') throw new UnsupportedError(`unknown object format '${format}' in ${join(options.gitdir, 'config')}`);
    algorithm = format;
  }
  const codec = await loadCodec({ forcePako: options.zlib === 'pako' });
  return new Odb({
    fs,
    gitdir: options.gitdir,
    hash: hashInfo(algorithm),
    codec,
    config,
    onWarning: options.onWarning,
    deltaBaseCacheBytes: options.deltaBaseCacheBytes,
    missRecheckMs: options.missRecheckMs,
  });
}
