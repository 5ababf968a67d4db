/**
 * createIsogitCache(odb): a `cache` object for isomorphic-git's commands that makes
 * them read packed objects through this database: no whole `.idx` or `.pack` read.
 *
 * isomorphic-git 1.44 has no object-store hook. Every command threads a `cache`
 * object, and its packed-object reader keeps there, under a private
 * `Symbol('PackfileCache')`, a Map from `<gitdir>/objects/pack/<name>.idx` to a promise
 * of a GitPackIndex. The cache returned here is a Proxy that answers that symbol
 * (matched by its description: each isomorphic-git bundle makes its own symbol) with
 * a Map of stand-in indexes, one per real `.idx`. A stand-in answers `offsets.has(oid)`
 * only for the pack this database reads `oid` from, so `source` names that pack, and
 * `read()` reads the object through the database. Every other key of the cache (the
 * staging index cache...) behaves as on a plain object.
 *
 * What isomorphic-git touches on a stand-in (notes/isogit-cache-seam.md):
 * `error`, `offsets.has`, `offsets.keys`, `pack` (truthy: it is not read),
 * `_checksumVerification` (settled: no SHA-1 over the pack), `read({ oid })` (a fresh
 * `{ type, format: 'content', object: Buffer }` per call: isomorphic-git mutates it).
 * Anything else is an internal that moved: reported once through `odb.warn`.
 *
 * Falls through to isomorphic-git's own path (it then reads the `.idx` and `.pack`
 * whole, as without the adapter): paths of another gitdir, packs whose `.idx` the
 * database could not load, and everything once the self-test (run when `git` is
 * given) fails. Loose objects stay isomorphic-git's (small whole-file reads).
 *
 * Verified with isomorphic-git 1.44.11 and 1.44.19 (their esm, cjs and umd bundles).
 */

import { isogitCacheSelfTest, type SelfTestResult } from './selftest.js';
import { asBuffer } from '../util.js';
import { type IsogitPackSource, packOfLoaded, readPacked } from './packs.js';

export type { IsogitPackSource } from './packs.js';

/** The versions whose internals this adapter was checked against. */
export const ISOGIT_VERIFIED = '1.44.11, 1.44.19';
const VERIFIED_RANGE = /^1\.44\.\d+$/;

/** The part of isomorphic-git the runtime check uses. */
export interface IsogitLike {
  version(): string;
  readObject(args: Record<string, unknown>): Promise<unknown>;
  expandOid?(args: Record<string, unknown>): Promise<string>;
}

export interface IsogitCacheOptions {
  /**
   * isomorphic-git itself. When given, its version is checked and the self-test
   * (isogitCacheSelfTest) runs once per `git`; if it fails the adapter turns itself
   * off (isomorphic-git's own path, with a warning) instead of misreading.
   */
  git?: IsogitLike;
}

/** Counters of one adapter (isogitCacheStats). */
export interface IsogitCacheStats {
  /** times isomorphic-git asked for its pack-index map */
  symbolRequests: number;
  /** stand-in indexes handed out (one per `.idx` and cache) */
  indexes: number;
  /** `offsets.has` calls, and how many answered true */
  hasCalls: number;
  hits: number;
  /** objects read through the database */
  reads: number;
  /** `.idx` paths left to isomorphic-git's own loader */
  fallthroughs: number;
  /** false once the adapter switched itself off */
  enabled: boolean;
  /** internals that moved (unexpected members touched, failed self-test) */
  problems: string[];
}


const adapters = new WeakMap<object, Adapter>();
const selfTests = new WeakMap<object, Promise<SelfTestResult>>();

/** Members isomorphic-git 1.44 reads on a pack index; `then` is read by promise resolution. */
const INDEX_MEMBERS = new Set(['error', 'offsets', 'pack', '_checksumVerification', 'read', 'then']);
const OFFSETS_MEMBERS = new Set(['has', 'keys', 'then']);


/** '/a//b/./c/' -> '/a/b/c' (no `..` resolution: a path with `..` is compared as is). */
function normalizeDir(p: string): string {
  const abs = p.startsWith('/');
  const parts = p.split(/[\\/]+/).filter((s) => s !== '' && s !== '.');
  return (abs ? '/' : '') + parts.join('/');
}

const PACK_INDEX = /[\\/]objects[\\/]pack[\\/]([^\\/]+\.idx)$/;

/** One cache's state: its database, counters, and whether it still serves. */
class Adapter {
  readonly stats: IsogitCacheStats = { symbolRequests: 0, indexes: 0, hasCalls: 0, hits: 0, reads: 0, fallthroughs: 0, enabled: true, problems: [] };
  enabled = true;
  readonly ourGitdir: string;
  /** `.idx` basenames whose stand-in serves nothing: the next lookups fall through */
  readonly unserved = new Set<string>();
  private readonly reported = new Set<string>();

  constructor(readonly odb: IsogitPackSource) {
    this.ourGitdir = normalizeDir(odb.gitdir);
  }

  /** Records (once) that isomorphic-git did something the adapter does not expect. */
  problem(reason: string): void {
    if (this.reported.has(reason)) return;
    this.reported.add(reason);
    this.stats.problems.push(reason);
    this.odb.warn({ file: this.odb.gitdir, reason: `isomorphic-git cache adapter: ${reason}` });
  }

  /** Stops serving: isomorphic-git reads packs itself from now on. */
  disable(reason: string): void {
    this.problem(reason);
    this.enabled = false;
    this.stats.enabled = false;
  }

  /** `obj`, reporting a problem when isomorphic-git reads a member outside `allowed`. */
  guard<T extends object>(obj: T, allowed: Set<string>, what: string): T {
    return new Proxy(obj, {
      get: (target, key, recv) => {
        if (typeof key === 'string' && !allowed.has(key) && !(key in target)) {
          this.problem(`isomorphic-git read ${what}.${key}, which the stand-in does not have (its internals changed; verified: ${ISOGIT_VERIFIED})`);
        }
        return Reflect.get(target, key, recv);
      },
    });
  }

  /** What isomorphic-git takes for the loaded index of pack `name` (served: its tables are loaded). */
  standIn(name: string, served: boolean): object {
    const { odb, stats } = this;
    const offsets = {
      has(oid: string): boolean {
        stats.hasCalls++;
        if (!served) return false;
        const hit = typeof oid === 'string' && packOfLoaded(odb, oid) === name;
        if (hit) stats.hits++;
        return hit;
      },
      *keys(): Generator<string> {
        if (served) yield* odb.oidsOfPack(name);
      },
    };
    const index = {
      error: undefined,
      offsets: this.guard(offsets, OFFSETS_MEMBERS, 'packIndex.offsets'),
      // truthy: isomorphic-git reads the whole .pack only when this is unset
      pack: Promise.resolve(true),
      // settled: no SHA-1 over the whole pack
      _checksumVerification: Promise.resolve(),
      async read({ oid }: { oid: string }) {
        stats.reads++;
        const obj = await readPacked(odb, oid);
        // a fresh object per call: isomorphic-git sets `format` and `source` on it
        return { type: obj.type, format: 'content', object: asBuffer(obj.data) };
      },
    };
    return this.guard(index, INDEX_MEMBERS, 'packIndex');
  }

  /** The stand-in for `idxName`, once the database has loaded (or failed to load) its tables. */
  async makeStandIn(filename: string, idxName: string, forget: () => void): Promise<object> {
    const odb = this.odb;
    try {
      if (odb.packState(idxName) !== 'served') {
        await odb.loadPackIndexes();
        // a pack the database does not list yet: a fetch or indexPack just wrote it
        if (odb.packState(idxName) === 'unknown' && (await odb.refresh())) await odb.loadPackIndexes();
      }
    } catch (err) {
      odb.warn({ file: filename, reason: `isomorphic-git cache adapter: ${(err as Error).message}` });
    }
    const served = odb.packState(idxName) === 'served';
    if (!served) {
      // no index to serve from: this lookup sees nothing in the pack, the next
      // ones fall through to isomorphic-git's own loader
      this.unserved.add(idxName);
      forget();
    }
    this.stats.indexes++;
    return this.standIn(idxName, served);
  }
}

/**
 * The Map isomorphic-git keeps its loaded pack indexes in (cache[Symbol('PackfileCache')]):
 * for a `.idx` of our gitdir it hands out a stand-in served by the database.
 */
class PackIndexMap extends Map<string, unknown> {
  private readonly standIns = new Map<string, Promise<unknown>>();
  /** filename -> our `.idx` basename, or null for paths we leave to isomorphic-git */
  private readonly names = new Map<string, string | null>();

  constructor(private readonly adapter: Adapter) {
    super();
  }

  override get(filename: string): unknown {
    const adapter = this.adapter;
    // the hot path: every packed lookup asks once per `.idx` in the directory
    const memo = this.standIns.get(filename);
    if (memo && adapter.enabled) return memo;
    const own = super.get(filename);
    if (own !== undefined || !adapter.enabled || typeof filename !== 'string') return own;
    let name = this.names.get(filename);
    if (name === undefined) {
      const m = PACK_INDEX.exec(filename);
      name = m && normalizeDir(filename.slice(0, m.index)) === adapter.ourGitdir ? m[1] : null;
      if (!m && normalizeDir(filename).startsWith(adapter.ourGitdir + '/')) adapter.problem(`isomorphic-git looked up ${filename}, not a pack index`);
      if (this.names.size > 10000) this.names.clear();
      this.names.set(filename, name);
    }
    if (name === null || adapter.unserved.has(name) || adapter.odb.packState(name) === 'broken') {
      adapter.stats.fallthroughs++;
      return undefined;
    }
    const made = adapter.makeStandIn(filename, name, () => this.standIns.delete(filename));
    this.standIns.set(filename, made);
    return made;
  }

  override delete(filename: string): boolean {
    const a = this.standIns.delete(filename);
    return super.delete(filename) || a;
  }

  override clear(): void {
    this.standIns.clear();
    super.clear();
  }
}

/**
 * A `cache` for isomorphic-git commands on the repository of `odb`:
 * `git.log({ fs, dir, cache: createIsogitCache(odb) })`. Keep one per database and
 * reuse it across commands (that is what a cache is for); it holds no file open.
 */
export function createIsogitCache(odb: IsogitPackSource, options: IsogitCacheOptions = {}): object {
  const adapter = new Adapter(odb);
  const stats = adapter.stats;
  const problem = (reason: string) => adapter.problem(reason);
  const disable = (reason: string) => adapter.disable(reason);

  const packIndexes = new PackIndexMap(adapter);
  const isPackfileCache = (key: string | symbol) => typeof key === 'symbol' && key.description === 'PackfileCache';
  const cache = new Proxy({} as Record<string | symbol, unknown>, {
    get(target, key, recv) {
      if (isPackfileCache(key) && adapter.enabled) {
        stats.symbolRequests++;
        return packIndexes;
      }
      return Reflect.get(target, key, recv);
    },
    set(target, key, value, recv) {
      // isomorphic-git assigns its own Map only when the key reads falsy: never while enabled
      if (isPackfileCache(key) && adapter.enabled) {
        problem('isomorphic-git replaced the pack index map');
        return true;
      }
      return Reflect.set(target, key, value, recv);
    },
  });
  adapters.set(cache, adapter);

  const git = options.git;
  if (git) {
    let version = '?';
    try {
      version = String(git.version());
    } catch {
      // checked by the self-test
    }
    if (!VERIFIED_RANGE.test(version)) problem(`isomorphic-git ${version} is not a verified version (verified: ${ISOGIT_VERIFIED}); running the self-test`);
    let test = selfTests.get(git);
    if (!test) {
      test = isogitCacheSelfTest(git);
      selfTests.set(git, test);
    }
    test.then(
      (r) => {
        if (!r.ok) disable(`self-test failed, using isomorphic-git's own pack reading: ${r.reason}`);
      },
      (err) => disable(`self-test failed, using isomorphic-git's own pack reading: ${(err as Error).message}`),
    );
  }
  return cache;
}

/** The counters of a cache made by createIsogitCache (undefined for any other object). */
export function isogitCacheStats(cache: object): IsogitCacheStats | undefined {
  const a = adapters.get(cache);
  return a ? { ...a.stats, problems: [...a.stats.problems] } : undefined;
}
