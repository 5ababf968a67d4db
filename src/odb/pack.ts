/**
 * The pack backend, shaped like libgit2's odb_pack: `midxPacks` (the packs some
 * MIDX layer names, in global pack-int-id order) and `packs` (unindexed packs),
 * plus `lastFound`.
 *
 * How a read goes. `Odb.read(oid)` first asks `locateNow`: with the layers'
 * tables loaded, the MIDX tip is searched in place (fanout, then a binary
 * search over the raw OID bytes), then each base layer, then the pack that
 * answered last and the other unindexed packs whose `.idx` is loaded. The
 * entry's pack then reads it (`Pack.readNow`): entry headers and small entries
 * come from its pack windows (pack/window.ts) or one positional read, the
 * delta chain is walked down to a base (or to a base held in the delta-base
 * cache), inflated into exact-size buffers and applied back up. When all of
 * that completes at once (the usual case on node's fs), no promise is made
 * but the caller's. Anything else takes the full path (`locate`, below): the
 * first use loads the MIDX (the single file, else the chain) and lists the
 * pack directory; a layer whose tables are not loaded is searched by
 * positional reads until it has answered enough lookups to be worth loading;
 * an index is read on the first lookup that needs it. A pack that fails to
 * open sends the lookup on to the unindexed packs; a damaged layer is dropped
 * with the layers above it, with a warning, and its packs become unindexed.
 * Loose objects and alternates come after the packs (odb.ts).
 *
 * How a miss goes. Before "not found", the disk is looked at once more, cheaply
 * (`refreshOnMiss`): a stamp of stat results (pack directory, MIDX, chain
 * directory and file); when it equals the loaded state's, nothing is reloaded,
 * and misses in the same event-loop turn share one check. When it differs,
 * `refresh` reads the MIDX trailer, the chain file and the listing, and
 * reloads only what changed.
 *
 * How a write goes (odb/write.ts and its neighbours, through one
 * WriterContext): the job (options checked, as git's), the state (the MIDX
 * as loaded, layers this backend holds borrowed), the plan (packs collected,
 * objects selected with git's rules, the bytes built), then the commit under
 * a lock (a new file, or a layer and a new chain file, by rename), and a
 * refresh of this backend so that the next lookup sees the new layer.
 */

import type { CorruptError } from '../errors.js';
import type { FileStat, Fs } from '../io/fs.js';
import { join } from '../io/fs.js';
import { CHAIN_NAME, chainFingerprint, loadMidx, MIDX_DIR, midxFileStamp, type MidxWarning, MIDX_NAME, readChainFile } from '../midx/chain.js';
import type { MidxFile } from '../midx/read.js';
import { compareBytewise, compareOid, type HashInfo } from '../oid.js';
import { Pack, type PackContext } from '../pack/pack.js';

/**
 * How long after its newest file time a stamp is trusted, by the clock
 * resolution the file times show. A change within one clock tick of the
 * previous one leaves the time as it was ("racy git"): a stamp taken within
 * a tick of its newest time may hide a change, so it is not trusted and the
 * full check runs. Whole-second times (FAT, HFS+, some network file systems)
 * get git's two seconds; finer times 100 ms, well above a millisecond clock.
 */
const RACY_COARSE_MS = 2000;
const RACY_FINE_MS = 100;

/** runs `f` once the current event-loop turn is over (before the next I/O callbacks where the host allows) */
const afterTurn: (f: () => void) => void =
  typeof setImmediate === 'function'
    ? (f) => {
        setImmediate(f).unref?.();
      }
    : (f) => {
        setTimeout(f, 0);
      };

export interface Located {
  pack: Pack;
  offset: number;
}

function sameBytes(a: Uint8Array | null, b: Uint8Array | null): boolean {
  if (!a || !b) return a === b;
  return a.length === b.length && compareOid(a, 0, b, 0, a.length) === 0;
}

export class PackBackend {
  /** MIDX layers, root first (a non-incremental MIDX is one layer) */
  layers: MidxFile[] = [];
  midxSource: 'single' | 'chain' | 'none' = 'none';
  /** packs named by some layer, in global pack-int-id order */
  midxPacks: Pack[] = [];
  /** packs in the directory that no layer names, newest first */
  packs: Pack[] = [];
  lastFound: Pack | null = null;
  /** unindexed packs whose .idx failed to load, with the error (retried when the directory changes) */
  readonly broken = new Map<Pack, Error>();

  private packByName = new Map<string, Pack>();
  /** `.idx` names in the directory (with their .pack), sorted */
  private idxNames: string[] = [];
  /** layers whose trailing checksum was checked (after a miss) */
  private checksummed = new WeakSet<MidxFile>();
  private listing = '';
  private midxFingerprint = '';
  private chainBytes: Uint8Array | null = null;
  private refreshing: Promise<boolean> | null = null;
  private loaded = false;
  /** the stat stamp (see refreshOnMiss) of a state known to be loaded, or '' */
  private trustedStamp = '';
  /** refreshOnMiss calls that reloaded (a counter for tests and stats) */
  missReloads = 0;
  /** refreshOnMiss calls that looked at the disk (stat stamp) */
  missChecks = 0;
  /** performance.now() of the last stamp check that left the loaded state current, while its turn lasts */
  private checkedAt = -Infinity;
  private checkedThisTurn = false;
  /** see OpenOdbOptions.missRecheckMs */
  missRecheckMs = 1;

  constructor(
    private readonly fs: Fs,
    readonly packDir: string,
    private readonly ctx: PackContext,
    private readonly hash: HashInfo,
    private readonly warn: (w: MidxWarning) => void,
    private readonly useMidx: boolean,
  ) {}

  /** Checks cheaply whether anything changed and reloads what did. Resolves true when something changed. */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  /** the paths whose stat stamp tells whether a refresh could find anything new */
  private stampPaths(): string[] {
    if (!this.useMidx) return [this.packDir];
    const chainDir = join(this.packDir, 'multi-pack-index.d');
    return [this.packDir, join(this.packDir, MIDX_NAME), chainDir, join(chainDir, 'multi-pack-index-chain')];
  }

  /**
   * The refresh after a miss, coalesced. A refresh lists the pack directory and
   * reads the MIDX trailer and the chain file: a millisecond or more. A stamp of
   * stat results (the pack directory's time and size, which change when a pack,
   * a MIDX or the chain directory is added, removed or renamed into place; the
   * MIDX's and the chain file's size and time, for writers that rewrite in
   * place; the chain directory's time) is taken first: when it equals the stamp
   * of a state already loaded, and that stamp was taken well after its newest
   * file time (the racy rule above), nothing can have changed and the miss
   * costs a few stat calls (synchronous ones where the fs has them). Otherwise
   * the full refresh runs and its stamp is remembered. Resolves true when
   * something changed.
   */
  async refreshOnMiss(): Promise<boolean> {
    if (!this.loaded) return this.refresh();
    if (this.missCoalesced()) return false;
    const checkStart = performance.now();
    this.missChecks++;
    const paths = this.stampPaths();
    const takenAt = Date.now();
    const statSync = this.fs.statSync;
    const stats = statSync ? paths.map((p) => statSync(p)) : await Promise.all(paths.map((p) => this.fs.stat(p)));
    const { key, newest, coarse } = stampOf(stats);
    if (key === this.trustedStamp) {
      this.checked(checkStart);
      return false;
    }
    // a refresh already under way may have listed the directory before the
    // stat calls above: let it finish, then check again
    if (this.refreshing) await this.refreshing.catch(() => {});
    const changed = await this.refresh();
    this.missReloads++;
    const trusted = takenAt - newest >= (coarse ? RACY_COARSE_MS : RACY_FINE_MS);
    this.trustedStamp = trusted ? key : '';
    if (trusted) this.checked(checkStart);
    return changed;
  }

  /**
   * coalescing: a check serves the misses that follow it in the same event-loop
   * turn and within missRecheckMs. News of another process's write (its exit,
   * a message) arrives as an I/O callback, in a later turn; a synchronous
   * spawn of git in the same turn takes longer than the window.
   */
  private missCoalesced(): boolean {
    return this.checkedThisTurn && performance.now() - this.checkedAt < this.missRecheckMs;
  }

  /**
   * refreshOnMiss with no promise, for the miss path of exists(): false when
   * the check is coalesced or synchronous stat calls give the trusted stamp
   * (nothing changed); undefined when only refreshOnMiss can tell (nothing
   * loaded yet, no synchronous stat, a stamp that differs, a stat that fails).
   */
  refreshOnMissNow(): false | undefined {
    if (!this.loaded) return undefined;
    if (this.missCoalesced()) return false;
    const statSync = this.fs.statSync;
    if (!statSync || !this.trustedStamp) return undefined;
    const checkStart = performance.now();
    let stats: (FileStat | null)[];
    try {
      stats = this.stampPaths().map((p) => statSync(p));
    } catch {
      return undefined;
    }
    if (stampOf(stats).key !== this.trustedStamp) return undefined;
    this.missChecks++;
    this.checked(checkStart);
    return false;
  }

  /** records a check, started at `start`, after which the loaded state was current */
  private checked(start: number): void {
    this.checkedAt = start;
    if (!this.checkedThisTurn) {
      this.checkedThisTurn = true;
      afterTurn(() => {
        this.checkedThisTurn = false;
      });
    }
  }

  private async doRefresh(): Promise<boolean> {
    const names = (await this.fs.readdir(this.packDir)) ?? [];
    const present = new Set(names);
    const idxNames = names.filter((n) => n.endsWith('.idx') && present.has(n.slice(0, -4) + '.pack')).sort(compareBytewise);
    const listing = idxNames.join('\n');
    let midxChanged = false;
    let chain: Uint8Array | null = null;
    if (this.useMidx) {
      const fp = await midxFileStamp(this.fs, join(this.packDir, MIDX_NAME), this.hash.rawLength);
      chain = chainFingerprint(await readChainFile(this.fs, join(this.packDir, MIDX_DIR, CHAIN_NAME)));
      midxChanged = !this.loaded || fp !== this.midxFingerprint || !sameBytes(chain, this.chainBytes);
      this.midxFingerprint = fp;
    }
    if (this.loaded && !midxChanged && listing === this.listing) return false;
    this.listing = listing;
    this.loaded = true;
    this.broken.clear();

    if (midxChanged) {
      const old = new Map(this.layers.map((l) => [l.file, l]));
      const used = new Set<MidxFile>();
      const loaded = await loadMidx(this.fs, this.packDir, this.hash, this.warn, (path) => {
        const l = old.get(path);
        // a chain layer's file name is its checksum: the same path is the same bytes
        if (l && path.endsWith('.midx')) {
          used.add(l);
          return l;
        }
        return undefined;
      });
      for (const l of this.layers) if (!used.has(l)) await l.close();
      this.chainBytes = chain;
      this.layers = loaded.layers;
      this.midxSource = loaded.source;
    }
    this.idxNames = idxNames;
    await this.rebuildPackLists();
    return true;
  }

  /**
   * Derives `midxPacks` and `packs` from the layers and the directory listing.
   * A layer naming a pack that is not there is dropped with every layer above it.
   */
  private async rebuildPackLists(): Promise<void> {
    const idxNames = this.idxNames;
    const idxSet = new Set(idxNames);
    for (let k = 0; k < this.layers.length; k++) {
      const missing = this.layers[k].packNames.find((n) => !idxSet.has(n));
      if (missing !== undefined) {
        await this.dropLayers(k, `multi-pack-index names pack ${missing}, which is not in ${this.packDir}; the layer is not used`, false);
        break;
      }
    }
    const packOf = (name: string): Pack => {
      let p = this.packByName.get(name);
      if (!p) {
        p = new Pack(this.ctx, this.packDir, name);
        this.packByName.set(name, p);
      }
      return p;
    };
    const midxPacks: Pack[] = [];
    const covered = new Set<string>();
    for (const layer of this.layers) {
      for (const name of layer.packNames) {
        midxPacks.push(packOf(name));
        covered.add(name);
      }
    }
    const unindexed = idxNames.filter((n) => !covered.has(n));
    // newest first, as git searches packs
    const mtimes = new Map<string, number>();
    await Promise.all(
      unindexed.map(async (n) => {
        const st = await this.fs.stat(join(this.packDir, n.slice(0, -4) + '.pack'));
        mtimes.set(n, st ? st.mtimeMs : 0);
      }),
    );
    unindexed.sort((a, b) => mtimes.get(b)! - mtimes.get(a)! || compareBytewise(a, b));
    this.midxPacks = midxPacks;
    this.packs = unindexed.map(packOf);
    // forget packs that left the directory
    for (const [name, p] of this.packByName) {
      if (!idxSet.has(name)) {
        this.packByName.delete(name);
        if (this.lastFound === p) this.lastFound = null;
        await p.close();
      }
    }
  }

  /** Stops using layer k and every layer above it (their packs become unindexed packs). */
  private async dropLayers(k: number, reason: string, rebuild = true): Promise<void> {
    this.warn({ file: this.layers[k].file, reason });
    for (const l of this.layers.slice(k)) await l.close();
    this.layers = this.layers.slice(0, k);
    if (!this.layers.length) this.midxSource = 'none';
    if (rebuild) await this.rebuildPackLists();
  }

  /**
   * After a miss: checks the trailing checksum of every layer not checked yet,
   * once per layer. A MIDX whose bytes were damaged can hide objects (a broken
   * OID table, a wrong pack-int-id); such a layer is dropped with the layers
   * above it, and the miss is retried against the packs. Resolves true when a
   * layer was dropped.
   */
  private async checkLayerChecksums(): Promise<boolean> {
    for (let k = 0; k < this.layers.length; k++) {
      const layer = this.layers[k];
      if (this.checksummed.has(layer)) continue;
      let good: boolean;
      try {
        good = await layer.checksumMatches(this.ctx.codec);
      } catch {
        good = false;
      }
      if (!good) {
        await this.dropLayers(k, 'multi-pack-index checksum mismatch; the layer and those above it are not used');
        return true;
      }
      this.checksummed.add(layer);
    }
    return false;
  }

  /** The layer that names `pack`, or null for an unindexed pack. */
  layerOf(pack: Pack): MidxFile | null {
    for (const layer of this.layers) if (layer.packNames.includes(pack.name)) return layer;
    return null;
  }

  /** Ensures the first load happened. */
  async ready(): Promise<void> {
    if (!this.loaded) await this.refresh();
  }

  /** Finds the pack entry of an object: MIDX layers tip first, then lastFound, then the other unindexed packs. */
  async locate(oid: Uint8Array): Promise<Located | null> {
    if (!this.loaded) await this.refresh();
    const layers = this.layers;
    for (let k = layers.length - 1; k >= 0; k--) {
      const layer = layers[k];
      // loaded tables answer with no promise (this runs for every lookup the hot path leaves)
      const pos = layer.tablesLoaded ? layer.findLoaded(oid) : await layer.find(oid);
      if (pos < 0) continue;
      let entry;
      try {
        entry = layer.tablesLoaded ? layer.entryLoaded(pos) : await layer.entry(pos);
      } catch (err) {
        // a damaged layer (pack-int-id or large offset out of range): stop using it
        await this.dropLayers(k, (err as CorruptError).reason ?? (err as Error).message);
        return this.locate(oid);
      }
      const pack = this.midxPacks[layer.numPacksInBase + entry.pack];
      if (pack) return { pack, offset: entry.offset };
      break;
    }
    const last = this.lastFound;
    const again = this.inLastFound(oid);
    if (again) return again;
    for (const pack of this.packs) {
      if (pack === last) continue;
      let idx = pack.loadedIndex;
      if (!idx) {
        if (this.broken.has(pack)) continue;
        try {
          idx = await pack.loadIndex();
        } catch (err) {
          this.broken.set(pack, err as Error);
          this.warn({ file: pack.idxPath, reason: (err as Error).message });
          continue;
        }
      }
      const pos = idx.find(oid);
      if (pos >= 0) {
        this.lastFound = pack;
        return { pack, offset: idx.offsetAt(pos) };
      }
    }
    if (this.layers.length && (await this.checkLayerChecksums())) return this.locate(oid);
    return null;
  }

  /** the entry of `oid` in the unindexed pack that answered last, when its index is loaded and lists it */
  private inLastFound(oid: Uint8Array): Located | null {
    const idx = this.lastFound?.loadedIndex;
    const pos = idx ? idx.find(oid) : -1;
    return pos >= 0 ? { pack: this.lastFound!, offset: idx!.offsetAt(pos) } : null;
  }

  /**
   * `locate` for the hot path, with no I/O and no promise: the entry when the
   * loaded layers (tip first) or the unindexed packs (the one that answered
   * last first) have it, in locate's order; null when every table is loaded
   * (layers checksummed, every unindexed index read) and none lists it;
   * undefined whenever only `locate` can tell (nothing loaded yet, a layer
   * still searched by positional reads, an unindexed pack whose index is not
   * loaded, a damaged entry).
   */
  locateNow(oid: Uint8Array): Located | null | undefined {
    if (!this.loaded) return undefined;
    const layers = this.layers;
    let sure = true;
    for (let k = layers.length - 1; k >= 0; k--) {
      const layer = layers[k];
      if (!layer.tablesLoaded) return undefined;
      const pos = layer.findLoaded(oid);
      if (pos < 0) {
        // a miss is definite only in layers whose checksum was checked (see locate)
        if (!this.checksummed.has(layer)) sure = false;
        continue;
      }
      let entry;
      try {
        entry = layer.entryLoaded(pos);
      } catch {
        return undefined;
      }
      const pack = this.midxPacks[layer.numPacksInBase + entry.pack];
      return pack ? { pack, offset: entry.offset } : undefined;
    }
    const last = this.lastFound;
    const again = this.inLastFound(oid);
    if (again) return again;
    for (const pack of this.packs) {
      if (pack === last) continue;
      const idx = pack.loadedIndex;
      if (!idx) return undefined;
      const pos = idx.find(oid);
      if (pos >= 0) {
        this.lastFound = pack;
        return { pack, offset: idx.offsetAt(pos) };
      }
    }
    return sure ? null : undefined;
  }

  /**
   * When a MIDX-located pack cannot be opened, the object may still be in an
   * unindexed pack: a search that skips the MIDX.
   */
  async locateOutsideMidx(oid: Uint8Array): Promise<Located | null> {
    for (const pack of this.packs) {
      let idx;
      try {
        idx = await pack.loadIndex();
      } catch {
        continue;
      }
      const pos = idx.find(oid);
      if (pos >= 0) return { pack, offset: idx.offsetAt(pos) };
    }
    return null;
  }

  async close(): Promise<void> {
    for (const l of this.layers) await l.close();
    for (const p of this.packByName.values()) await p.close();
    this.layers = [];
    this.packByName.clear();
    this.midxPacks = [];
    this.packs = [];
    this.loaded = false;
  }

  // --- sync lookups for isomorphic-git ---
  /**
   * Loads what synchronous lookups need: the first listing, every layer's
   * tables and every unindexed pack's `.idx` (a failure goes to `broken`,
   * with a warning). After it, `locateLoaded` sees every pack.
   */
  async loadAll(): Promise<void> {
    await this.ready();
    for (const layer of this.layers) await layer.loadTables();
    for (const pack of this.packs) {
      if (pack.loadedIndex || this.broken.has(pack)) continue;
      try {
        await pack.loadIndex();
      } catch (err) {
        this.broken.set(pack, err as Error);
        this.warn({ file: pack.idxPath, reason: (err as Error).message });
      }
    }
  }

  /** The pack named `name` (an `.idx` basename) if this backend lists it. */
  /**
   * Builds the header table of every pack (src/pack/header-table.ts), for a
   * caller about to ask for most objects' headers: one pass over each pack
   * instead of a walk down a delta chain per object. Packs the tables' budget
   * has no room for, or whose pass fails, answer by walks as before.
   */
  async prepareHeaders(): Promise<void> {
    await this.refresh();
    for (const p of [...this.midxPacks, ...this.packs]) {
      try {
        await p.prepareHeaders();
      } catch {
        // a pack that cannot be opened: its lookups report it
      }
    }
  }

  packNamed(name: string): Pack | null {
    const p = this.packByName.get(name);
    return p && (this.packs.includes(p) || this.midxPacks.includes(p)) ? p : null;
  }

  /** Whether `locateLoaded` can answer for `pack` without I/O. */
  isLoaded(pack: Pack): boolean {
    const layer = this.layerOf(pack);
    return layer ? layer.tablesLoaded : !!pack.loadedIndex;
  }

  /**
   * `locate` over loaded data only, with no I/O: layers tip first, then the
   * unindexed packs in search order (newest first). Deterministic: it neither
   * reads nor moves `lastFound`, so concurrent lookups agree on the pack an
   * object is read from. Layers or indexes not loaded yet are skipped.
   */
  locateLoaded(oid: Uint8Array): Located | null {
    const layers = this.layers;
    for (let k = layers.length - 1; k >= 0; k--) {
      const layer = layers[k];
      if (!layer.tablesLoaded) continue;
      const pos = layer.findLoaded(oid);
      if (pos < 0) continue;
      let entry;
      try {
        entry = layer.entryLoaded(pos);
      } catch {
        break;
      }
      const pack = this.midxPacks[layer.numPacksInBase + entry.pack];
      if (pack) return { pack, offset: entry.offset };
      break;
    }
    for (const pack of this.packs) {
      const idx = pack.loadedIndex;
      if (!idx) continue;
      const pos = idx.find(oid);
      if (pos >= 0) return { pack, offset: idx.offsetAt(pos) };
    }
    return null;
  }

  /**
   * The ids (raw bytes, one reused buffer per step: copy to keep) that
   * `locateLoaded` answers from the pack `name`, in ascending order.
   */
  *oidsOfPack(name: string): Generator<Uint8Array> {
    const pack = this.packNamed(name);
    if (!pack) return;
    const layer = this.layerOf(pack);
    if (layer) {
      if (!layer.tablesLoaded) return;
      const local = layer.packNames.indexOf(name);
      for (let i = 0; i < layer.numObjects; i++) if (layer.packIdAt(i) === local) yield layer.oidAt(i);
      return;
    }
    const idx = pack.loadedIndex;
    if (!idx) return;
    const H = this.hash.rawLength;
    const buf = new Uint8Array(H);
    for (let i = 0; i < idx.count; i++) {
      idx.copyOid(i, buf, 0);
      if (this.locateLoaded(buf)?.pack === pack) yield buf;
    }
  }
  // --- end sync lookups ---
}

/** the stamp of stat results (see refreshOnMiss): sizes and times, the newest time, and whether every time is whole seconds */
function stampOf(stats: (FileStat | null)[]): { key: string; newest: number; coarse: boolean } {
  let key = '';
  let newest = -Infinity;
  let coarse = true;
  for (const st of stats) {
    if (!st) {
      key += '-|';
      continue;
    }
    key += `${st.size}:${st.mtimeMs}|`;
    if (st.mtimeMs > newest) newest = st.mtimeMs;
    if (st.mtimeMs % 1000 !== 0) coarse = false;
  }
  return { key, newest, coarse };
}
