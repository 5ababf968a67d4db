/**
 * The delta-base cache: objects that served as delta bases, so the bases of
 * deep delta chains are inflated once rather than once per object that stands
 * on them. Each pack has its own cache keyed by entry offset (an exact integer:
 * no arithmetic mixes packs and offsets, so no two entries can share a key);
 * the packs of one database share one byte budget, evicted least-recently-used
 * first across all of them.
 */

export interface CachedObject {
  /** 1..4 */
  type: number;
  data: Uint8Array;
}

interface Entry extends CachedObject {
  readonly owner: PackCache;
  readonly offset: number;
}

/** type-map entries, summed over every pack of a budget, before they are all cleared (some 15 MiB) */
const MAX_TYPES = 1 << 18;
/** entries of header tables (header-table.ts: 5 bytes each), summed over every pack of a budget (some 20 MiB) */
const MAX_TABLE_ENTRIES = 1 << 22;

/** One database's budget: the byte limit and the recency order shared by the caches of its packs. */
export class DeltaBaseCache {
  /** every cached entry of every pack, least recently used first */
  private readonly lru = new Set<Entry>();
  private bytes = 0;
  /** pack caches holding type entries, and how many they hold in all */
  private readonly typed = new Set<PackCache>();
  /** @internal */
  typeCount = 0;
  /** entries of the header tables of this budget's packs */
  tableEntries = 0;
  hits = 0;
  misses = 0;

  constructor(readonly budget: number) {}

  /** A cache for one pack, drawing on this budget. */
  forPack(): PackCache {
    return new PackCache(this);
  }

  /** @internal */
  touch(e: Entry): void {
    this.lru.delete(e);
    this.lru.add(e);
  }

  /** @internal */
  admit(e: Entry): void {
    this.lru.add(e);
    this.bytes += e.data.length;
    if (this.bytes <= this.budget) return;
    for (const old of this.lru) {
      this.forget(old);
      old.owner.entries.delete(old.offset);
      if (this.bytes <= this.budget) break;
    }
  }

  /** @internal */
  forget(e: Entry): void {
    if (this.lru.delete(e)) this.bytes -= e.data.length;
  }

  /** @internal: room for `n` more type entries (all type maps are cleared when the sum would pass MAX_TYPES) */
  reserveTypes(owner: PackCache, n: number): void {
    if (this.typeCount + n > MAX_TYPES) {
      for (const c of this.typed) c.types.clear();
      this.typed.clear();
      this.typeCount = 0;
    }
    this.typed.add(owner);
  }

  /** @internal: room for a header table of `n` entries, or false when the budget's tables would pass MAX_TABLE_ENTRIES */
  reserveTable(n: number): boolean {
    if (this.tableEntries + n > MAX_TABLE_ENTRIES) return false;
    this.tableEntries += n;
    return true;
  }

  /** @internal */
  releaseTable(n: number): void {
    this.tableEntries -= n;
  }

  /** @internal */
  releaseTypes(owner: PackCache): void {
    if (this.typed.delete(owner)) this.typeCount -= owner.types.size;
  }

  clear(): void {
    for (const e of this.lru) e.owner.entries.delete(e.offset);
    this.lru.clear();
    this.bytes = 0;
    for (const c of this.typed) c.types.clear();
    this.typed.clear();
    this.typeCount = 0;
  }

  /** bytes held, across every pack */
  get size(): number {
    return this.bytes;
  }
}

/** One pack's share: delta bases and known object types by entry offset. */
export class PackCache {
  /** @internal */
  readonly entries = new Map<number, Entry>();
  /**
   * The object type of entries met at the top or inside a delta chain: a
   * header walk stops at the first entry whose type is known instead of
   * following the chain to its base.
   * @internal
   */
  readonly types = new Map<number, number>();

  constructor(private readonly budget: DeltaBaseCache) {}

  get(offset: number): CachedObject | undefined {
    const e = this.entries.get(offset);
    if (e) {
      this.budget.touch(e);
      this.budget.hits++;
    } else this.budget.misses++;
    return e;
  }

  set(offset: number, obj: CachedObject): void {
    if (obj.data.length > this.budget.budget / 4) return;
    const old = this.entries.get(offset);
    if (old) this.budget.forget(old);
    const e: Entry = { type: obj.type, data: obj.data, owner: this, offset };
    this.entries.set(offset, e);
    this.budget.admit(e);
  }

  typeOf(offset: number): number | undefined {
    return this.types.get(offset);
  }

  setType(offsets: number[], type: number): void {
    if (!offsets.length) return;
    this.budget.reserveTypes(this, offsets.length);
    const before = this.types.size;
    for (const o of offsets) this.types.set(o, type);
    this.budget.typeCount += this.types.size - before;
  }

  /** Forgets everything cached for this pack (it was closed, replaced or removed). */
  clear(): void {
    for (const e of this.entries.values()) this.budget.forget(e);
    this.entries.clear();
    this.budget.releaseTypes(this);
    this.types.clear();
  }
}
