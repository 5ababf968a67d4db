/** The isomorphic-git face: readObject result shapes, the cache adapter, the fetch hook. */

export { createIsogitCache, isogitCacheStats, ISOGIT_VERIFIED } from './cache.js';
export { isogitCacheSelfTest } from './selftest.js';
export type { IsogitCacheOptions, IsogitCacheStats, IsogitLike, IsogitPackSource } from './cache.js';
export type { SelfTestResult } from './selftest.js';
export { withMidxHook } from './hook.js';
export { createIsogitFs, isogitFsStats } from './fs.js';
export type { IsogitFsStats } from './fs.js';
export type { MidxHookOptions } from './hook.js';
export type {
  DeflatedObject,
  ParsedBlobObject,
  ParsedCommitObject,
  ParsedObject,
  ParsedTagObject,
  ParsedTreeObject,
  RawObject as ContentObject,
  ReadObjectFormat,
  ReadObjectResult,
  WrappedObject,
} from '../object/shapes.js';
export type { CommitObject, GitIdentity, TagObject, TreeEntry, TreeObject } from '../object/parse.js';
