/**
 * Pack windows: aligned blocks of pack files kept in memory, so that reading an
 * entry header, a small object or the next link of a delta chain costs no
 * system call when its block was read before. git maps packs into memory
 * (core.packedGitWindowSize, core.packedGitLimit); a JavaScript library has no
 * mmap, and one positional read costs microseconds however small it is, more
 * than the rest of a header lookup. So blocks are read whole and kept under a
 * byte budget shared by the packs of one database.
 *
 * The budget is one slab, allocated on first use and filled front to back:
 * fresh memory is dear (on the machines measured, the first touch of a page
 * costs more than reading it: 11 us a page against 2-4 us a read), so slots are
 * reused, never reallocated. Bytes answered from a window are valid until the
 * next read of any pack of the database, as a file's scratch buffer: callers
 * consume or copy them before asking again. Only files with synchronous reads
 * get windows (a read that waits could see its window given away meanwhile).
 *
 * Windows pay only when lookups come back to blocks read before (headers and
 * delta chains within a region of a pack); on random reads over packs far
 * larger than the budget, a window costs more than the entry's own bytes. The
 * budget measures its hit rate and stops loading windows while it is low.
 */

/**
 * bytes per window. Measured on 20k random headers and reads (many-packs,
 * history, large corpora): 4 KiB windows hit as often as 16 or 32 KiB ones on
 * delta chains and cost least on a miss.
 */
export const WINDOW_SIZE = 4096;

/** lookups per epoch of the hit-rate measure */
const EPOCH = 2048;
/** hits per lookup below which windows are not loaded */
const HIT_RATE = 0.5;
/** epochs without loading windows before they are tried again */
const OFF_EPOCHS = 16;
/** lookups of the trial epoch that follows a pause (a short one: a trial that fails costs a window read per miss) */
const TRIAL = 512;

/** joins the two windows an entry straddles, for every file; valid until the next call */
const span = new Uint8Array(WINDOW_SIZE);

/**
 * One database's windows: a slab of `budget` bytes allocated on first use and
 * cut into slots of WINDOW_SIZE, each holding one block of one file. A slot
 * to reuse is chosen by the clock algorithm (a hit sets the slot's bit, the
 * hand clears bits until it finds a slot whose bit is clear): no list to
 * reorder on every hit.
 */
export class WindowBudget {
  /** slots at most (0: no windows) */
  readonly slots: number;
  private slab: Uint8Array | null = null;
  /** per slot: the file holding it (null when free), its block, its length, its bit */
  private readonly owner: (FileWindows | null)[];
  private readonly block: Float64Array;
  private readonly length: Int32Array;
  private readonly referenced: Uint8Array;
  private readonly views: (Uint8Array | null)[];
  private hand = 0;
  /**
   * Whether a miss loads a window. Windows pay when most lookups hit (delta
   * chains walked within a region of a pack, objects read near each other);
   * on random reads across packs far larger than the budget a window read
   * costs more than the entry's own bytes and is rarely used again. So the
   * hit rate is measured per epoch of lookups: below HIT_RATE, misses go
   * straight to the file (held windows still answer) for OFF_EPOCHS epochs,
   * then windows are tried again for a short trial of TRIAL lookups.
   */
  loading = true;
  private epochLookups = 0;
  private epochLength = EPOCH;
  private epochHits = 0;
  private offEpochs = 0;
  /** slots handed out so far (the slab is filled front to back before any is reused) */
  private used = 0;
  hits = 0;
  misses = 0;

  /** @param budget bytes held at most (below two windows: no windows, every read goes to the file) */
  constructor(readonly budget: number) {
    let n = Math.floor(budget / WINDOW_SIZE);
    if (n < 2) n = 0;
    this.slots = n;
    this.owner = new Array(n).fill(null);
    this.block = new Float64Array(n);
    this.length = new Int32Array(n);
    this.referenced = new Uint8Array(n);
    this.views = new Array(n).fill(null);
  }

  /** whether windows are kept at all */
  get enabled(): boolean {
    return this.slots > 0;
  }

  /** the windows of one file, drawing on this budget */
  forFile(): FileWindows {
    return new FileWindows(this);
  }

  /** @internal the bytes of slot `i` */
  view(i: number): Uint8Array {
    const v = this.views[i];
    if (v) return v;
    if (!this.slab) this.slab = new Uint8Array(this.slots * WINDOW_SIZE);
    const view = this.slab.subarray(i * WINDOW_SIZE, (i + 1) * WINDOW_SIZE);
    // the slot's first use: its page is touched here, in JavaScript, before a
    // read fills it. A page the kernel faults in while copying a read into it
    // cost 20-60 us on the machines measured, against 12 us touched first.
    for (let at = 0; at < WINDOW_SIZE; at += 4096) view[at] = 0;
    return (this.views[i] = view);
  }

  /** @internal */
  lengthOf(i: number): number {
    return this.length[i];
  }

  /** @internal */
  hit(i: number): void {
    this.referenced[i] = 1;
    this.hits++;
    this.epochHits++;
    if (++this.epochLookups === this.epochLength) this.endEpoch();
  }

  /** @internal a lookup that found no window */
  miss(): void {
    this.misses++;
    if (++this.epochLookups === this.epochLength) this.endEpoch();
  }

  private endEpoch(): void {
    if (this.loading) {
      if (this.epochHits < this.epochLength * HIT_RATE) {
        this.loading = false;
        this.offEpochs = 0;
      }
      this.epochLength = EPOCH;
    } else if (++this.offEpochs === OFF_EPOCHS) {
      this.loading = true;
      this.epochLength = TRIAL;
    }
    this.epochLookups = 0;
    this.epochHits = 0;
  }

  /** @internal a slot for `block` of `file`: an unused one while there are some, else the clock's victim (dropped from its file) */
  take(file: FileWindows, block: number, length: number): number {
    let i: number;
    if (this.used < this.slots) i = this.used++;
    else {
      for (;;) {
        const h = this.hand;
        this.hand = h + 1 === this.slots ? 0 : h + 1;
        if (this.owner[h] === null) {
          i = h;
          break;
        }
        if (this.referenced[h]) this.referenced[h] = 0;
        else {
          this.owner[h]!.blocks.delete(this.block[h]);
          i = h;
          break;
        }
      }
    }
    this.owner[i] = file;
    this.block[i] = block;
    this.length[i] = length;
    this.referenced[i] = 1;
    return i;
  }

  /** @internal slot `i` holds nothing (its file was closed, or its read failed) */
  release(i: number): void {
    this.owner[i] = null;
    this.referenced[i] = 0;
  }

  /** bytes held in windows, across every file */
  get size(): number {
    let n = 0;
    for (let i = 0; i < this.used; i++) if (this.owner[i]) n += this.length[i];
    return n;
  }
}

/** A file with synchronous reads (a RandomAccessFile whose readInto fills target[0, len) before it returns). */
export interface SyncFile {
  readonly size: number;
  readInto(target: Uint8Array, pos: number, len: number): unknown;
}

/** The windows of one pack file. */
export class FileWindows {
  /** @internal block -> slot */
  readonly blocks = new Map<number, number>();

  constructor(private readonly budget: WindowBudget) {}

  /** whether windows are kept at all */
  get enabled(): boolean {
    return this.budget.enabled;
  }

  /**
   * [pos, pos+len) (len at most WINDOW_SIZE) of `file`: from the windows
   * held, reading the missing ones from the file; null
   * when windows are not being loaded (see WindowBudget.loading) and none
   * holds the bytes. The bytes are valid until the next call on any file of
   * the budget.
   */
  bytes(file: SyncFile, pos: number, len: number): Uint8Array | null {
    const b = Math.floor(pos / WINDOW_SIZE);
    const start = pos - b * WINDOW_SIZE;
    const budget = this.budget;
    if (!budget.loading) {
      // windows held still answer; a miss is the caller's to read
      const held = this.blocks.get(b);
      if (held === undefined || start + len > budget.lengthOf(held)) {
        budget.miss();
        return null;
      }
      budget.hit(held);
      return budget.view(held).subarray(start, start + len);
    }
    const i = this.slot(b, file);
    if (start + len <= budget.lengthOf(i)) return budget.view(i).subarray(start, start + len);
    // across two windows: the first is copied out before the second may take its slot
    const head = WINDOW_SIZE - start;
    span.set(budget.view(i).subarray(start), 0);
    const j = this.slot(b + 1, file);
    span.set(budget.view(j).subarray(0, len - head), head);
    return span.subarray(0, len);
  }

  private slot(b: number, file: SyncFile): number {
    const budget = this.budget;
    const held = this.blocks.get(b);
    if (held !== undefined) {
      budget.hit(held);
      return held;
    }
    budget.miss();
    const at = b * WINDOW_SIZE;
    const n = Math.min(WINDOW_SIZE, file.size - at);
    const i = budget.take(this, b, n);
    try {
      file.readInto(budget.view(i), at, n);
    } catch (err) {
      budget.release(i);
      throw err;
    }
    this.blocks.set(b, i);
    return i;
  }

  /** Forgets this file's windows (the pack was closed, replaced or removed); their slots are free again. */
  clear(): void {
    for (const i of this.blocks.values()) this.budget.release(i);
    this.blocks.clear();
  }
}
