/**
 * An fs client for isomorphic-git that answers, without touching the disk,
 * the two questions isomorphic-git 1.44 asks the file system on every object
 * it reads (see notes/isogit-cache-seam.md): "is there a loose file for this
 * object?" (it tries the loose path before the packs) and "which packs are
 * there?" (it lists objects/pack each time).
 *
 * - A loose path of an object the database has in a pack (known from data
 *   already loaded, without I/O) is answered ENOENT at once. isomorphic-git
 *   then reads the object from the pack, through createIsogitCache: the same
 *   bytes; only `source` differs when a loose copy exists too.
 * - The listing of objects/pack is kept while the directory's mtime, ctime
 *   and size are unchanged (checked synchronously where the client can), so
 *   a pack written by anyone is listed at once.
 *
 * Everything else passes through to the client, whose shape is kept.
 */

import type { Odb } from '../odb/api.js';
import { normalizePath } from '../io/fs.js';
import { packOfLoaded } from './packs.js';
import { proxyClient } from './proxy.js';
import { type AnyFn, enoent } from '../util.js';

export interface IsogitFsStats {
  /** loose reads answered ENOENT without I/O */
  looseSkipped: number;
  /** listings of objects/pack served from the kept copy */
  listingsKept: number;
  /** listings read from the disk */
  listingsRead: number;
}

const stats = new WeakMap<object, IsogitFsStats>();

/** Counters of a client made by createIsogitFs. */
export function isogitFsStats(client: object): IsogitFsStats | undefined {
  return stats.get(client);
}

/**
 * Wraps `fs` for isomorphic-git commands on `odb`'s repository; use it with
 * `cache: createIsogitCache(odb)`. Other repositories pass straight through.
 */
export function createIsogitFs<T extends object>(fs: T, odb: Odb): T {
  if (!fs || (typeof fs !== 'object' && typeof fs !== 'function')) throw new TypeError('createIsogitFs: `fs` must be a file system client');
  const counters: IsogitFsStats = { looseSkipped: 0, listingsKept: 0, listingsRead: 0 };
  const objectsDir = normalizePath(odb.objectsDir);
  const packDir = normalizePath(odb.packDir);
  const hexLength = odb.hash.hexLength;
  const looseRe = new RegExp(`^(.*)/([0-9a-f]{2})/([0-9a-f]{${hexLength - 2}})$`);
  const syncStat = typeof (fs as { statSync?: unknown }).statSync === 'function' ? ((fs as { statSync: AnyFn }).statSync.bind(fs) as AnyFn) : null;
  let kept: { key: string; names: unknown[] } | null = null;

  /** the oid of a loose path in this repository that the database has in a pack, else null */
  const packedLoose = (path: unknown): string | null => {
    if (typeof path !== 'string') return null;
    const m = looseRe.exec(normalizePath(path));
    if (!m || m[1] !== objectsDir) return null;
    const oid = m[2] + m[3];
    return packOfLoaded(odb, oid) ? oid : null;
  };
  const isPackDir = (path: unknown) => typeof path === 'string' && normalizePath(path) === packDir;
  const dirKey = (st: { mtimeMs?: number; ctimeMs?: number; size?: number; mtime?: unknown } | null | undefined) =>
    st ? `${st.mtimeMs ?? String(st.mtime)}:${st.ctimeMs ?? ''}:${st.size ?? ''}` : '';

  /** readdir of objects/pack through `list`, kept while the directory is unchanged */
  const listing = async (path: string, stat: () => Promise<unknown>, list: () => Promise<unknown[]>): Promise<unknown[]> => {
    let key = '';
    try {
      key = dirKey((syncStat ? syncStat(path) : await stat()) as never);
    } catch {
      key = '';
    }
    if (key && kept && kept.key === key) {
      counters.listingsKept++;
      return kept.names.slice();
    }
    const names = await list();
    counters.listingsRead++;
    kept = key ? { key, names: names.slice() } : null;
    return names;
  };

  const wrapFn = (key: PropertyKey, fn: AnyFn, client: any): AnyFn => {
    if (key === 'readFile') {
      return function readFile(...args: unknown[]) {
        const last = args[args.length - 1];
        if (!packedLoose(args[0])) return fn.apply(client, args);
        counters.looseSkipped++;
        if (typeof last === 'function') {
          queueMicrotask(() => (last as AnyFn)(enoent(String(args[0]))));
          return undefined;
        }
        return Promise.reject(enoent(String(args[0])));
      };
    }
    if (key === 'readdir') {
      return function readdir(...args: unknown[]) {
        if (!isPackDir(args[0])) return fn.apply(client, args);
        const path = args[0] as string;
        const last = args[args.length - 1];
        const callback = typeof last === 'function' ? (last as AnyFn) : null;
        const rest = callback ? args.slice(1, -1) : args.slice(1);
        const call = (f: AnyFn, ...a: unknown[]): Promise<any> =>
          callback
            ? new Promise((resolve, reject) => f.call(client, ...a, (err: unknown, v: unknown) => (err ? reject(err) : resolve(v))))
            : Promise.resolve(f.call(client, ...a));
        const p = listing(
          path,
          () => call(client.stat, path),
          () => call(fn, path, ...rest),
        );
        if (!callback) return p;
        p.then(
          (v) => callback(null, v),
          (e) => callback(e),
        );
        return undefined;
      };
    }
    return fn.bind(client);
  };

  const out = proxyClient(fs, wrapFn);
  stats.set(out, counters);
  return out;
}
