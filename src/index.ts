/**
 * midx-odb: a git object database for isomorphic-git that reads objects
 * through multi-pack-indexes, incremental MIDX chains, unindexed packs and
 * loose objects.
 */

export { openOdb } from './odb/open.js';
export type { GitConfig } from './config.js';

export { AmbiguousError, CorruptError, InvalidArgumentError, LockError, MidxOdbError, NotAFileError, NotFoundError, UnsupportedError } from './errors.js';
export type {
  CompactMidxOptions,
  ExpireMidxOptions,
  ExpireMidxResult,
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
  MaintainOptions,
  MaintainResult,
  MaintainStep,
} from './types.js';
export { writePackOfObjects as writePack, writePackOfPacks } from './odb/write-pack.js';
export type { HashAlgorithm, HashInfo } from './oid.js';
export type { ObjectCounts, ReachOptions } from './odb/reach.js';
export type { ProgressCallback, ProgressEvent, ProgressOptions } from './progress.js';
export { createOpfsFs } from './io/opfs.js';
export type { OpfsFileHandle, OpfsFs, OpfsStat } from './io/opfs.js';
/** The database openOdb returns (a type: construct it with openOdb). */
export type { Odb } from './odb/api.js';
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
