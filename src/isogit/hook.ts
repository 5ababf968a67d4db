/**
 * withMidxHook(fs): an fs client for isomorphic-git that appends an incremental MIDX
 * layer whenever isomorphic-git writes a pack index, `<gitdir>/objects/pack/pack-*.idx`.
 * fetch, clone, pull and indexPack write the `.pack` first and the `.idx` last, so when
 * the `.idx` lands the pack is complete: the wrapper then runs
 * `odb.writeMidx({ incremental: true })` on that gitdir (one database per gitdir, kept)
 * and only then resolves the write. The new objects are in a layer by the time the
 * command goes on (updating refs, checking out).
 *
 * Which pack indexes count: only those isomorphic-git writes into the gitdir of the
 * command (fetch, clone, pull write `<gitdir>/objects/pack/pack-*.pack` then its
 * `.idx`; indexPack writes the `.idx` of a pack it reads), never a file that a
 * checkout writes from tracked content, such as the packs of a bare repository
 * tracked in a work tree. The fs sees no command, so the rule is on paths: with
 * `gitdirs`, only pack indexes in those gitdirs; without, a directory that lies
 * inside a work tree (some ancestor holds a `.git` other than the directory itself,
 * and no ancestor is itself named `.git`) is work-tree content and is left alone.
 * The cost: a few stats per pack index. A bare repository inside a work tree
 * (`/w/cache.git` with `/w/.git`) is skipped by this rule: name it in `gitdirs`.
 *
 * With `maintain`, the layer write is odb.maintain() instead (git 2.55's geometric
 * repack decisions), so the chain and the packs stay logarithmic in the fetches.
 *
 * A failed layer write never fails the command: the error goes to `onError` (or a
 * console warning), and the pack is still there, unindexed, to be picked up by the
 * next layer write.
 *
 * Descriptors: a database holds its layers' and packs' files open. One that has
 * written no layer for `idleMs` is closed (reopened on the next pack), and
 * `close()` on the returned client closes every database at once.
 *
 * The client keeps the shape of the one given (isomorphic-git decides how to call it
 * from that shape): a Proxy that forwards everything, with `writeFile` hooked on the
 * client itself and on its `promises` (promise-returning and callback styles alike).
 */

import { openOdb } from '../odb/open.js';
import { type Fs, join, normalizeFs, normalizePath } from '../io/fs.js';
import type { Odb } from '../odb/api.js';
import type { MaintainOptions, MaintainResult, OpenOdbOptions } from '../types.js';
import { proxyClient } from './proxy.js';
import { type AnyFn, isPromiseLike } from '../util.js';

export interface MidxHookOptions {
  /** called after each layer written: its checksum (hex) and the gitdir */
  onLayer?(checksum: string, gitdir: string): void;
  /** called when a layer could not be written (the write of the `.idx` itself still succeeds); default: console.warn */
  onError?(error: unknown, gitdir: string): void;
  /** `--bitmap`: each layer gets RIDX/BTMP and its `.bitmap` (git fails such a write when the layer lacks a commit's closure) */
  bitmap?: boolean;
  /** options for the databases the hook opens (zlib, onWarning, budgets) */
  odbOptions?: Omit<OpenOdbOptions, 'fs' | 'gitdir'>;
  /**
   * the gitdirs whose pack indexes get a layer (as isomorphic-git spells them: `<dir>/.git`
   * or its `gitdir` argument); default: any gitdir that does not lie inside a work tree
   */
  gitdirs?: string[];
  /** a database that wrote no layer for this long (ms) is closed, its files released; default 10000 */
  idleMs?: number;
  /**
   * Keep the chain small: after each pack, `odb.maintain()` (git 2.55's
   * `repack --geometric=2 --write-midx=incremental` decisions) instead of a
   * plain layer write. The new pack goes into a new tip layer, which absorbs
   * the layers above it while it holds at least 1/midxSplitFactor of them,
   * and older layers merge by the same rule (the cheap part: layer files
   * only); once the tip names `midxNewLayerThreshold` packs, its small packs
   * are merged into one (entries copied, deltas reused) and deleted. `true`
   * is `{ loose: false, midxNewLayerThreshold: 4 }`: loose objects are left
   * to isomorphic-git, and the tip's packs become candidates at 4 rather than
   * git's default 8 (with 8 the pack count measurably exceeds log2(fetches) + 8
   * for stretches; with 4 it did not, see bench/maintain.mjs). Options as
   * `odb.maintain`'s override these; `{ packs: false }` never merges packs.
   */
  maintain?: boolean | MaintainOptions;
  /** called after each maintenance run with what it did */
  onMaintain?(result: MaintainResult, gitdir: string): void;
}

/** What withMidxHook adds to the client it returns. */
export interface MidxHookControl {
  /**
   * Called with no argument: closes every database the hook has open (after the
   * layer writes under way); the hook stays usable and opens them again on the next
   * pack. With arguments it is the client's own `close` (node's `close(fd, cb)`).
   */
  close(): Promise<void>;
}

const DEFAULT_IDLE_MS = 10_000;
/** the hook's repack.midxNewLayerThreshold (git's default is 8; see MidxHookOptions.maintain) */
const HOOK_NEW_LAYER_THRESHOLD = 4;

/** `a/b/c` → `a/b`, `/a` → `/`, `a` → '' (the current directory); '', `/` and `C:` → null. */
function parentDir(p: string): string | null {
  if (p === '' || p === '/' || /^[A-Za-z]:$/.test(p)) return null;
  const i = p.lastIndexOf('/');
  if (i < 0) return '';
  return i === 0 ? '/' : p.slice(0, i);
}

/**
 * Whether `gitdir` lies inside a work tree: some directory above it holds a `.git`
 * that is not `gitdir` itself (`/w/sub.git` with `/w/.git`: tracked content). The walk
 * stops at the first `.git` found: `/w/lib/.git` is the gitdir of the work tree
 * `/w/lib`, wherever that lies.
 */
export async function insideWorkTree(fs: Fs, gitdir: string): Promise<boolean> {
  const g = normalizePath(gitdir);
  // under a `.git` (a submodule's `.git/modules/x`): git's own files, never tracked content
  if (g.split('/').slice(0, -1).includes('.git')) return false;
  for (let dir = parentDir(g); dir !== null; dir = parentDir(dir)) {
    const dotgit = dir === '' ? '.git' : join(dir, '.git');
    if (dotgit === g) return false;
    if (await fs.stat(dotgit)) return true;
  }
  return false;
}

const IDX_PATH = /^(.*?)[\\/]+objects[\\/]+pack[\\/]+pack-[0-9a-fA-F]+\.idx$/;

/** The gitdir of a pack index path, or null when `path` is not one. */
export function gitdirOfPackIndex(path: unknown): string | null {
  if (typeof path !== 'string') return null;
  const m = IDX_PATH.exec(path);
  if (!m) return null;
  return m[1] === '' ? '/' : m[1];
}


/** The hook's options, checked once. */
interface HookSettings {
  idleMs: number;
  only: Set<string> | null;
  maintainOptions: MaintainOptions | null;
}

function hookSettings(options: MidxHookOptions): HookSettings {
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  if (typeof idleMs !== 'number' || !(idleMs >= 0)) throw new TypeError('withMidxHook: `idleMs` must be a number >= 0');
  const only = options.gitdirs ? new Set(options.gitdirs.map((g) => normalizePath(g))) : null;
  const m = options.maintain;
  if (m !== undefined && typeof m !== 'boolean' && (m === null || typeof m !== 'object')) throw new TypeError('withMidxHook: `maintain` must be a boolean or maintain options');
  const maintainOptions: MaintainOptions | null = m ? { loose: false, midxNewLayerThreshold: HOOK_NEW_LAYER_THRESHOLD, ...(options.bitmap !== undefined ? { bitmap: options.bitmap } : {}), ...(m === true ? {} : m), dryRun: false } : null;
  return { idleMs, only, maintainOptions };
}

/** one gitdir's database (opened on demand, closed when idle) and its queue of layer writes */
interface Entry {
  odb: Promise<Odb> | null;
  queue: Promise<void>;
  timer: ReturnType<typeof setTimeout> | null;
  /** bumped by every queued layer write: an idle close armed before it is stale */
  generation: number;
}

/**
 * The hook's work: per gitdir, a queue of layer writes (one after the other)
 * through a database opened on first use and closed after `idleMs` without
 * writes. Errors go to onError (or a console warning), never to isomorphic-git.
 */
class LayerWriter {
  private readonly entries = new Map<string, Entry>();
  private plainFs: Fs | null = null;

  constructor(
    /** the client as given: the layer's own files must not go through the hook */
    private readonly client: object,
    private readonly options: MidxHookOptions,
    private readonly settings: HookSettings,
  ) {}

  private report(err: unknown, gitdir: string): void {
    try {
      if (this.options.onError) this.options.onError(err, gitdir);
      else console.warn(`midx-odb: no MIDX layer written for ${gitdir}: ${(err as Error)?.message ?? err}`);
    } catch {
      // a throwing callback must not fail isomorphic-git's command
    }
  }

  private async accepts(gitdir: string): Promise<boolean> {
    if (this.settings.only) return this.settings.only.has(normalizePath(gitdir));
    this.plainFs ??= normalizeFs(this.client);
    return !(await insideWorkTree(this.plainFs, gitdir));
  }

  private async closeOdb(e: Entry): Promise<void> {
    const p = e.odb;
    e.odb = null;
    if (!p) return;
    try {
      await (await p).close();
    } catch {
      // it never opened, or is gone already
    }
  }

  private armIdle(gitdir: string, e: Entry): void {
    if (e.timer) clearTimeout(e.timer);
    const generation = e.generation;
    e.timer = setTimeout(() => {
      e.timer = null;
      e.queue = e.queue.then(async () => {
        if (e.generation === generation) await this.closeOdb(e);
        if (!e.odb && !e.timer && this.entries.get(gitdir) === e && e.generation === generation) this.entries.delete(gitdir);
      });
    }, this.settings.idleMs);
    // an idle timer alone must not keep a process alive
    (e.timer as { unref?: () => void }).unref?.();
  }

  private async open(gitdir: string, e: Entry): Promise<Odb> {
    if (!e.odb) {
      e.odb = openOdb({ ...this.options.odbOptions, fs: this.client, gitdir });
      e.odb.catch(() => {});
    }
    try {
      return await e.odb;
    } catch (err) {
      e.odb = null;
      throw err;
    }
  }

  /** the layer (or the maintenance) after one pack index; its checksum goes to onLayer */
  private async writeLayer(gitdir: string, e: Entry): Promise<void> {
    const { options } = this;
    const maintainOptions = this.settings.maintainOptions;
    const generation = e.generation;
    try {
      if (!(await this.accepts(gitdir))) return;
      const odb = await this.open(gitdir, e);
      await odb.refresh();
      let checksum: string | null;
      if (maintainOptions) {
        const result = await odb.maintain(maintainOptions);
        checksum = result.changed && result.chain.length ? result.chain[result.chain.length - 1] : null;
        try {
          options.onMaintain?.(result, gitdir);
        } catch {
          // as onError
        }
      } else checksum = await odb.writeMidx({ incremental: true, bitmap: options.bitmap });
      if (checksum) {
        try {
          options.onLayer?.(checksum, gitdir);
        } catch {
          // as onError
        }
      }
    } catch (err) {
      this.report(err, gitdir);
    } finally {
      if (e.odb) this.armIdle(gitdir, e);
      // nothing open and nothing queued since: forget the gitdir (a skipped work-tree path)
      else if (e.generation === generation && !e.timer && this.entries.get(gitdir) === e) this.entries.delete(gitdir);
    }
  }

  /** Queues the layer write after a pack index of `gitdir`; resolves when it is done. */
  afterIndex(gitdir: string): Promise<void> {
    let e = this.entries.get(gitdir);
    if (!e) {
      e = { odb: null, queue: Promise.resolve(), timer: null, generation: 0 };
      this.entries.set(gitdir, e);
    }
    const entry = e;
    entry.generation++;
    const next = entry.queue.then(() => this.writeLayer(gitdir, entry));
    entry.queue = next;
    return next;
  }

  /** Waits for queued writes and closes every database. */
  async closeAll(): Promise<void> {
    const all = [...this.entries.values()];
    for (const e of all) {
      if (e.timer) clearTimeout(e.timer);
      e.timer = null;
      e.queue = e.queue.then(() => this.closeOdb(e));
    }
    await Promise.all(all.map((e) => e.queue));
  }
}

/** The client's writeFile, followed (for a pack index) by the layer write: callback or promise style, as called. */
function hookWriteFile(orig: AnyFn, self: object, writer: LayerWriter): AnyFn {
  return function writeFile(...args: unknown[]) {
    const gitdir = gitdirOfPackIndex(args[0]);
    if (!gitdir) return orig.apply(self, args);
    const last = args[args.length - 1];
    if (typeof last === 'function') {
      // callback style: call back once the layer is written
      args[args.length - 1] = (err: unknown, ...rest: unknown[]) => {
        if (err) return (last as AnyFn)(err, ...rest);
        writer.afterIndex(gitdir).then(() => (last as AnyFn)(null, ...rest));
      };
      return orig.apply(self, args);
    }
    const r = orig.apply(self, args);
    if (!isPromiseLike(r)) return r;
    return Promise.resolve(r).then(async (v) => {
      await writer.afterIndex(gitdir);
      return v;
    });
  };
}

/**
 * An fs client for isomorphic-git that writes a MIDX layer after every pack index
 * isomorphic-git writes. `fs` is any client isomorphic-git accepts (node's fs,
 * fs.promises, memfs, LightningFS...); the result has the same shape.
 */
export function withMidxHook<T extends object>(fs: T, options: MidxHookOptions = {}): T & MidxHookControl {
  if (!fs || (typeof fs !== 'object' && typeof fs !== 'function')) throw new TypeError('withMidxHook: `fs` must be a file system client');
  const settings = hookSettings(options);
  // a callback-style client by its promise API where it has one (a memfs
  // volume's `promises` is not enumerable, so isomorphic-git uses its callbacks)
  const promises = (fs as { promises?: unknown }).promises;
  const enumerable = Object.getOwnPropertyDescriptor(fs, 'promises')?.enumerable;
  const client = !enumerable && promises && typeof promises === 'object' ? promises : fs;
  const writer = new LayerWriter(client, options, settings);
  // bound to the client itself (classes with private fields); bind keeps `length`,
  // which isomorphic-git inspects (rmdir)
  const hooked = proxyClient(fs, (key, fn, c) => (key === 'writeFile' ? hookWriteFile(fn, c, writer) : fn.bind(c)));
  // close() with no argument is the hook's; with arguments, the client's own (close(fd, cb))
  const close = (...args: unknown[]) => {
    if (args.length === 0) return writer.closeAll();
    const own = Reflect.get(hooked, 'close') as AnyFn | undefined;
    if (typeof own !== 'function') throw new TypeError('close is not a function of this fs client');
    return own(...args);
  };
  return new Proxy(hooked, { get: (t, key) => (key === 'close' ? close : Reflect.get(t, key)) }) as T & MidxHookControl;
}
