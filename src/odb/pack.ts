/**
 * The pack backend, shaped like libgit2's odb_pack: `midxPacks` (the packs some
 * MIDX layer names, in global pack-int-id order) and `packs` (unindexed packs),
 * plus `lastFound`. Lookups go through the MIDX chain (tip first), then the
 * pack that answered last, then the other unindexed packs. Change detection is
 * cheap (MIDX size and trailer, chain file bytes, directory listing) and only
 * what changed is reloaded. A MIDX that fails to load, or names a pack that is
 * gone, is dropped with a warning and its packs become unindexed packs.
 */

import type { Fs } from '../io/fs.js';
import { join } from '../io/fs.js';
import { loadMidx, type MidxWarning, MIDX_NAME } from '../midx/chain.js';
import type { MidxFile } from '../midx/read.js';
import { compareBytewise, compareOid, type HashInfo } from '../oid.js';
import { Pack, type PackContext } from '../pack/pack.js';

export interface Located {
  pack: Pack;
  offset: number;
}

function maybeSync<T>(x: T | Promise<T>): x is T {
  return !(x instanceof Promise);
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
  private listing = '';
  private midxFingerprint = '';
  private chainBytes: Uint8Array | null = null;
  private refreshing: Promise<boolean> | null = null;
  private loaded = false;

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

  private async midxFingerprintNow(): Promise<string> {
    const path = join(this.packDir, MIDX_NAME);
    const st = await this.fs.stat(path);
    if (!st) return '';
    // size and trailing checksum: a rewritten MIDX always has a new trailer
    const H = this.hash.rawLength;
    if (st.size < H) return `${st.size}`;
    let f;
    try {
      f = await this.fs.open(path);
    } catch {
      return '';
    }
    try {
      const t = await f.read(f.size - H, H);
      return `${f.size}:${Array.from(t).join(',')}`;
    } finally {
      await f.close();
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
      const fp = await this.midxFingerprintNow();
      chain = await this.fs.tryReadFile(join(this.packDir, 'multi-pack-index.d', 'multi-pack-index-chain'));
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
    // a layer naming a pack that is gone is dropped, with every layer above it
    const idxSet = new Set(idxNames);
    for (let k = 0; k < this.layers.length; k++) {
      const missing = this.layers[k].packNames.find((n) => !idxSet.has(n));
      if (missing !== undefined) {
        this.warn({ file: this.layers[k].file, reason: `multi-pack-index names pack ${missing}, which is not in ${this.packDir}; the layer is not used` });
        for (const l of this.layers.slice(k)) await l.close();
        this.layers = this.layers.slice(0, k);
        if (!this.layers.length) this.midxSource = 'none';
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
    return true;
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
      const f = layer.find(oid);
      const pos = maybeSync(f) ? f : await f;
      if (pos < 0) continue;
      const e = layer.entry(pos);
      let entry;
      try {
        entry = maybeSync(e) ? e : await e;
      } catch (err) {
        this.warn({ file: layer.file, reason: (err as Error).message });
        break;
      }
      const pack = this.midxPacks[layer.numPacksInBase + entry.pack];
      if (pack) return { pack, offset: entry.offset };
      break;
    }
    const last = this.lastFound;
    if (last) {
      const idx = last.loadedIndex;
      const pos = idx ? idx.find(oid) : -1;
      if (pos >= 0) return { pack: last, offset: idx!.offsetAt(pos) };
    }
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
    return null;
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
}
