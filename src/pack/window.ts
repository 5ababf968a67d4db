/**
 * Pack windows: aligned blocks of pack files kept in memory within a byte
 * budget, least recently used first out. Delta chains mostly point a few
 * kilobytes back, so the entries of one chain tend to share a block, and one
 * read serves several of them (git gets the same from mmap).
 */

export const WINDOW_SIZE = 64 * 1024;

export class WindowCache {
  private blocks = new Map<number, Uint8Array>();
  private bytes = 0;
  constructor(readonly budget: number) {}

  /** A cached block, or undefined. `key` is the pack id and block number combined. */
  get(key: number): Uint8Array | undefined {
    const b = this.blocks.get(key);
    if (b) {
      this.blocks.delete(key);
      this.blocks.set(key, b);
    }
    return b;
  }

  set(key: number, block: Uint8Array): void {
    if (this.budget <= 0) return;
    this.blocks.set(key, block);
    this.bytes += block.length;
    if (this.bytes > this.budget) {
      for (const [k, b] of this.blocks) {
        this.blocks.delete(k);
        this.bytes -= b.length;
        if (this.bytes <= this.budget) break;
      }
    }
  }

  dropPack(packId: number, blocksPerPack: number): void {
    const lo = packId * blocksPerPack;
    const hi = lo + blocksPerPack;
    for (const [k, b] of this.blocks) {
      if (k >= lo && k < hi) {
        this.blocks.delete(k);
        this.bytes -= b.length;
      }
    }
  }

  clear(): void {
    this.blocks.clear();
    this.bytes = 0;
  }
}
