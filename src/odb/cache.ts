/**
 * The delta-base cache: objects that served as delta bases, keyed by
 * (pack, offset), evicted least-recently-used first within a byte budget, so
 * the bases of deep delta chains are inflated once rather than once per
 * object that stands on them.
 */

export interface CachedObject {
  /** 1..4 */
  type: number;
  data: Uint8Array;
}

/** packs one cache gives keys to: slot * 2^40 + offset stays below 2^53 */
export const MAX_SLOTS = 2 ** 13 - 1;

/** entries of the type map before it is cleared */
const MAX_TYPES = 1 << 18;

export class DeltaBaseCache {
  private map = new Map<number, CachedObject>();
  private bytes = 0;
  hits = 0;
  misses = 0;
  constructor(readonly budget: number) {}

  /**
   * A numeric key, exact below 2^53: a pack slot below 2^13 and an offset
   * below 2^40 (1 TiB). Larger offsets, and packs without a slot (-1), are
   * not cached.
   */
  static key(slot: number, offset: number): number {
    return slot >= 0 && offset < 2 ** 40 ? slot * 2 ** 40 + offset : -1;
  }

  /**
   * Slots are this cache's own small numbers for the packs it serves, given
   * out once each. A process-wide pack counter went past 2^13 in long runs
   * (thousands of databases opened and closed), where `slot * 2^40 + offset`
   * is no longer exact and two packs' entries shared keys: a wrong delta base.
   * A cache that has served MAX_SLOTS packs caches no further pack.
   */
  private slots = new WeakMap<object, number>();
  private nextSlot = 0;
  slotOf(pack: object): number {
    let s = this.slots.get(pack);
    if (s === undefined) {
      s = this.nextSlot < MAX_SLOTS ? this.nextSlot++ : -1;
      this.slots.set(pack, s);
    }
    return s;
  }

  get(key: number): CachedObject | undefined {
    if (key < 0) return undefined;
    const e = this.map.get(key);
    if (e) {
      this.map.delete(key);
      this.map.set(key, e);
      this.hits++;
    } else this.misses++;
    return e;
  }

  set(key: number, obj: CachedObject): void {
    if (key < 0 || obj.data.length > this.budget / 4) return;
    const old = this.map.get(key);
    if (old) {
      this.bytes -= old.data.length;
      this.map.delete(key);
    }
    this.map.set(key, obj);
    this.bytes += obj.data.length;
    if (this.bytes > this.budget) {
      for (const [k, e] of this.map) {
        this.map.delete(k);
        this.bytes -= e.data.length;
        if (this.bytes <= this.budget) break;
      }
    }
  }

  /**
   * The object type of entries met at the top or inside a delta chain, keyed as
   * above: a header walk stops at the first entry whose type is known instead
   * of following the chain to its base. A number per entry; cleared whole
   * past MAX_TYPES entries (some 15 MiB).
   */
  private types = new Map<number, number>();

  typeOf(key: number): number | undefined {
    return key < 0 ? undefined : this.types.get(key);
  }

  setType(keys: number[], type: number): void {
    if (this.types.size + keys.length > MAX_TYPES) this.types.clear();
    for (const k of keys) if (k >= 0) this.types.set(k, type);
  }

  /** Forgets everything cached for one pack (it was replaced or removed). */
  dropPack(slot: number): void {
    if (slot < 0) return;
    const lo = slot * 2 ** 40;
    const hi = lo + 2 ** 40;
    for (const [k, e] of this.map) {
      if (k >= lo && k < hi) {
        this.map.delete(k);
        this.bytes -= e.data.length;
      }
    }
    for (const k of this.types.keys()) if (k >= lo && k < hi) this.types.delete(k);
  }

  clear(): void {
    this.map.clear();
    this.types.clear();
    this.bytes = 0;
  }

  get size(): number {
    return this.bytes;
  }
}
