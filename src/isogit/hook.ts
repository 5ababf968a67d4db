/**
 * withMidxHook(fs): an fs client for isomorphic-git that appends an incremental MIDX
 * layer whenever isomorphic-git writes a pack index, `<gitdir>/objects/pack/pack-*.idx`.
 * fetch, clone, pull and indexPack write the `.pack` first and the `.idx` last, so when
 * the `.idx` lands the pack is complete: the wrapper then runs
 * `odb.writeMidx({ incremental: true })` on that gitdir (one database per gitdir, kept)
 * and only then resolves the write. The new objects are in a layer by the time the
 * command goes on (updating refs, checking out).
 *
 * A failed layer write never fails the command: the error goes to `onError` (or a
 * console warning), and the pack is still there, unindexed, to be picked up by the
 * next layer write.
 *
 * The client keeps the shape of the one given (isomorphic-git decides how to call it
 * from that shape): a Proxy that forwards everything, with `writeFile` hooked on the
 * client itself and on its `promises` (promise-returning and callback styles alike).
 */

import { openOdb } from '../index.js';
import type { Odb } from '../odb/odb.js';
import type { OpenOdbOptions } from '../types.js';
import { proxyClient } from './proxy.js';

export interface MidxHookOptions {
  /** called after each layer written: its checksum (hex) and the gitdir */
  onLayer?(checksum: string, gitdir: string): void;
  /** called when a layer could not be written (the write of the `.idx` itself still succeeds); default: console.warn */
  onError?(error: unknown, gitdir: string): void;
  /** write the RIDX and BTMP chunks (`--bitmap`) */
  bitmap?: boolean;
  /** options for the databases the hook opens (zlib, onWarning, budgets) */
  odbOptions?: Omit<OpenOdbOptions, 'fs' | 'gitdir'>;
}

const IDX_PATH = /^(.*?)[\\/]+objects[\\/]+pack[\\/]+pack-[0-9a-fA-F]+\.idx$/;

/** The gitdir of a pack index path, or null when `path` is not one. */
export function gitdirOfPackIndex(path: unknown): string | null {
  if (typeof path !== 'string') return null;
  const m = IDX_PATH.exec(path);
  if (!m) return null;
  return m[1] === '' ? '/' : m[1];
}

function isPromiseLike(x: unknown): x is PromiseLike<unknown> {
  return !!x && typeof (x as { then?: unknown }).then === 'function';
}

type AnyFn = (...args: unknown[]) => unknown;

/**
 * An fs client for isomorphic-git that writes a MIDX layer after every pack index
 * isomorphic-git writes. `fs` is any client isomorphic-git accepts (node's fs,
 * fs.promises, memfs, LightningFS...); the result has the same shape.
 */
export function withMidxHook<T extends object>(fs: T, options: MidxHookOptions = {}): T {
  if (!fs || (typeof fs !== 'object' && typeof fs !== 'function')) throw new TypeError('withMidxHook: `fs` must be a file system client');
  const odbs = new Map<string, Promise<Odb>>();
  const queues = new Map<string, Promise<void>>();

  const report = (err: unknown, gitdir: string) => {
    try {
      if (options.onError) options.onError(err, gitdir);
      else console.warn(`midx-odb: no MIDX layer written for ${gitdir}: ${(err as Error)?.message ?? err}`);
    } catch {
      // a throwing callback must not fail isomorphic-git's command
    }
  };

  const odbFor = (gitdir: string): Promise<Odb> => {
    let p = odbs.get(gitdir);
    if (!p) {
      // the client as given (the layer's own files must not go through the hook); a
      // callback-style client by its promise API where it has one (a memfs volume's
      // `promises` is not enumerable, so isomorphic-git uses its callbacks)
      const promises = (fs as { promises?: unknown }).promises;
      const enumerable = Object.getOwnPropertyDescriptor(fs, 'promises')?.enumerable;
      const client = !enumerable && promises && typeof promises === 'object' ? promises : fs;
      p = openOdb({ ...options.odbOptions, fs: client, gitdir });
      odbs.set(gitdir, p);
      p.catch(() => odbs.delete(gitdir));
    }
    return p;
  };

  const writeLayer = async (gitdir: string): Promise<void> => {
    try {
      const odb = await odbFor(gitdir);
      await odb.refresh();
      const checksum = await odb.writeMidx({ incremental: true, bitmap: options.bitmap });
      if (checksum) {
        try {
          options.onLayer?.(checksum, gitdir);
        } catch {
          // as onError
        }
      }
    } catch (err) {
      report(err, gitdir);
    }
  };

  /** Layer writes of one gitdir run one after the other; resolves when this one is done. */
  const afterIndex = (gitdir: string): Promise<void> => {
    const next = (queues.get(gitdir) ?? Promise.resolve()).then(() => writeLayer(gitdir));
    queues.set(gitdir, next);
    return next;
  };

  const hookWriteFile = (orig: AnyFn, self: object): AnyFn =>
    function writeFile(...args: unknown[]) {
      const gitdir = gitdirOfPackIndex(args[0]);
      if (!gitdir) return orig.apply(self, args);
      const last = args[args.length - 1];
      if (typeof last === 'function') {
        // callback style: call back once the layer is written
        args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
          if (err) return (last as AnyFn)(err, ...rest);
          afterIndex(gitdir).then(() => (last as AnyFn)(null, ...rest));
        };
        return orig.apply(self, args);
      }
      const r = orig.apply(self, args);
      if (!isPromiseLike(r)) return r;
      return Promise.resolve(r).then(async (v) => {
        await afterIndex(gitdir);
        return v;
      });
    };

  // bound to the client itself (classes with private fields); bind keeps `length`,
  // which isomorphic-git inspects (rmdir)
  return proxyClient(fs, (key, fn, client) => (key === 'writeFile' ? hookWriteFile(fn, client) : fn.bind(client)));
}
