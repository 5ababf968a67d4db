/**
 * EWAH-compressed bitmaps as git stores them in `.bitmap` files (git's
 * ewah/): a stream of 64-bit words where a "marker" (RLW) word says "R words
 * of all-0 or all-1 bits, then L literal words", followed by those L words.
 *
 * The writer reproduces git's encoder step for step (the same RLW splits,
 * the same trailing marker position, the same XOR output), because the
 * encoding of a set is not unique and git's `.bitmap` must match byte for
 * byte. Words are kept as two 32-bit halves (lo at 2i, hi at 2i+1) so that
 * no BigInt is needed.
 *
 * Marker layout (git's ewok_rlw.h): bit 0 the run bit, bits 1-32 the run
 * length (in words), bits 33-63 the number of literal words that follow.
 */

import { CorruptError } from '../../errors.js';

const MAX_RUN = 0xffffffff; // 2^32 - 1 words
const MAX_LITERALS = 0x7fffffff; // 2^31 - 1 words

export class Ewah {
  /** words as (lo, hi) pairs; only the first `size` words are meaningful */
  buf: Uint32Array;
  /** number of 64-bit words in the buffer (git's buffer_size) */
  size = 1;
  /** index of the current marker word */
  rlw = 0;
  /** number of bits the bitmap spans (git's bit_size) */
  bitSize = 0;

  constructor(capacity = 16) {
    this.buf = new Uint32Array(Math.max(2, capacity * 2));
  }

  // ------------------------------------------------------------ marker fields

  private runBit(w: number): number {
    return this.buf[2 * w] & 1;
  }
  private runLen(w: number): number {
    return ((this.buf[2 * w] >>> 1) | ((this.buf[2 * w + 1] & 1) << 31)) >>> 0;
  }
  private litWords(w: number): number {
    return this.buf[2 * w + 1] >>> 1;
  }
  private setRunBit(w: number, b: number): void {
    this.buf[2 * w] = (this.buf[2 * w] & ~1) | (b ? 1 : 0);
  }
  private setRunLen(w: number, l: number): void {
    this.buf[2 * w] = ((this.buf[2 * w] & 1) | ((l << 1) >>> 0)) >>> 0;
    this.buf[2 * w + 1] = (this.buf[2 * w + 1] & ~1) | (l >>> 31);
  }
  private setLitWords(w: number, l: number): void {
    this.buf[2 * w + 1] = ((l << 1) | (this.buf[2 * w + 1] & 1)) >>> 0;
  }

  // ------------------------------------------------------------ buffer

  private grow(words: number): void {
    if (2 * words <= this.buf.length) return;
    let cap = this.buf.length;
    while (cap < 2 * words) cap *= 2;
    const b = new Uint32Array(cap);
    b.set(this.buf.subarray(0, 2 * this.size));
    this.buf = b;
  }
  private push(lo: number, hi: number): void {
    this.grow(this.size + 1);
    this.buf[2 * this.size] = lo;
    this.buf[2 * this.size + 1] = hi;
    this.size++;
  }
  private pushRlw(): void {
    this.push(0, 0);
    this.rlw = this.size - 1;
  }

  // ------------------------------------------------------------ git's appenders

  /** git's add_empty_words (no bit_size update) */
  private emptyWords(v: number, n: number): void {
    const r = this.rlw;
    if (this.runBit(r) !== v && this.runLen(r) + this.litWords(r) === 0) {
      this.setRunBit(r, v);
    } else if (this.litWords(r) !== 0 || this.runBit(r) !== v) {
      this.pushRlw();
      if (v) this.setRunBit(this.rlw, v);
    }
    const run = this.runLen(this.rlw);
    const can = Math.min(n, MAX_RUN - run);
    this.setRunLen(this.rlw, run + can);
    n -= can;
    while (n >= MAX_RUN) {
      this.pushRlw();
      if (v) this.setRunBit(this.rlw, v);
      this.setRunLen(this.rlw, MAX_RUN);
      n -= MAX_RUN;
    }
    if (n > 0) {
      this.pushRlw();
      if (v) this.setRunBit(this.rlw, v);
      this.setRunLen(this.rlw, n);
    }
  }

  /** git's ewah_add_empty_words */
  addEmptyWords(v: number, n: number): void {
    if (n === 0) return;
    this.bitSize += n * 64;
    this.emptyWords(v, n);
  }

  /** git's add_literal */
  private literal(lo: number, hi: number): void {
    const cur = this.litWords(this.rlw);
    if (cur >= MAX_LITERALS) {
      this.pushRlw();
      this.setLitWords(this.rlw, 1);
      this.push(lo, hi);
      return;
    }
    this.setLitWords(this.rlw, cur + 1);
    this.push(lo, hi);
  }

  /** git's ewah_add_dirty_words: `n` words of `src` from word `at`, copied (or negated) as literals */
  addDirtyWords(src: Uint32Array, at: number, n: number, negate: boolean): void {
    for (;;) {
      const lits = this.litWords(this.rlw);
      const can = Math.min(n, MAX_LITERALS - lits);
      this.setLitWords(this.rlw, lits + can);
      this.grow(this.size + can);
      for (let i = 0; i < can; i++) {
        const lo = src[2 * (at + i)];
        const hi = src[2 * (at + i) + 1];
        this.buf[2 * this.size] = negate ? ~lo >>> 0 : lo;
        this.buf[2 * this.size + 1] = negate ? ~hi >>> 0 : hi;
        this.size++;
      }
      this.bitSize += can * 64;
      if (n - can === 0) break;
      this.pushRlw();
      at += can;
      n -= can;
    }
  }

  /** git's add_empty_word */
  private emptyWord(v: number): void {
    const r = this.rlw;
    const noLiteral = this.litWords(r) === 0;
    const run = this.runLen(r);
    if (noLiteral && run === 0) this.setRunBit(r, v);
    if (noLiteral && this.runBit(r) === v && run < MAX_RUN) {
      this.setRunLen(r, run + 1);
      return;
    }
    this.pushRlw();
    this.setRunBit(this.rlw, v);
    this.setRunLen(this.rlw, 1);
  }

  /** git's ewah_add: one whole word */
  add(lo: number, hi: number): void {
    this.bitSize += 64;
    if (lo === 0 && hi === 0) this.emptyWord(0);
    else if (lo === 0xffffffff && hi === 0xffffffff) this.emptyWord(1);
    else this.literal(lo, hi);
  }

  /** git's ewah_set: bits must be set in ascending order */
  set(i: number): void {
    if (i < this.bitSize) throw new RangeError('Ewah.set: bits must be set in ascending order');
    const dist = Math.ceil((i + 1) / 64) - Math.ceil(this.bitSize / 64);
    this.bitSize = i + 1;
    const bit = i % 64;
    const lo = bit < 32 ? (1 << bit) >>> 0 : 0;
    const hi = bit >= 32 ? (1 << (bit - 32)) >>> 0 : 0;
    if (dist > 0) {
      if (dist > 1) this.emptyWords(0, dist - 1);
      this.literal(lo, hi);
      return;
    }
    if (this.litWords(this.rlw) === 0) {
      this.setRunLen(this.rlw, this.runLen(this.rlw) - 1);
      this.literal(lo, hi);
      return;
    }
    const last = this.size - 1;
    this.buf[2 * last] = (this.buf[2 * last] | lo) >>> 0;
    this.buf[2 * last + 1] = (this.buf[2 * last + 1] | hi) >>> 0;
    if (this.buf[2 * last] === 0xffffffff && this.buf[2 * last + 1] === 0xffffffff) {
      this.size--;
      this.buf[2 * this.size] = 0;
      this.buf[2 * this.size + 1] = 0;
      this.setLitWords(this.rlw, this.litWords(this.rlw) - 1);
      this.emptyWord(1);
    }
  }

  // ------------------------------------------------------------ conversions

  /**
   * git's bitmap_to_ewah: a plain bitmap (32-bit words, bit j at
   * words[j >> 5] bit j & 31) compressed; trailing zero words are dropped.
   */
  static fromWords(words: Uint32Array): Ewah {
    const e = new Ewah();
    const n64 = Math.ceil(words.length / 2);
    let zeros = 0;
    let lastLo = 0;
    let lastHi = 0;
    for (let i = 0; i < n64; i++) {
      const lo = words[2 * i];
      const hi = 2 * i + 1 < words.length ? words[2 * i + 1] : 0;
      if (lo === 0 && hi === 0) {
        zeros++;
        continue;
      }
      if (lastLo !== 0 || lastHi !== 0) e.add(lastLo, lastHi);
      if (zeros > 0) {
        e.addEmptyWords(0, zeros);
        zeros = 0;
      }
      lastLo = lo;
      lastHi = hi;
    }
    e.add(lastLo, lastHi);
    return e;
  }

  /** Calls `fn` for every set bit, ascending (git's ewah_each_bit). */
  forEachBit(fn: (pos: number) => void): void {
    let pos = 0;
    let p = 0;
    while (p < this.size) {
      const rl = this.runLen(p);
      const lw = this.litWords(p);
      if (this.runBit(p)) for (let k = 0; k < rl * 64; k++) fn(pos++);
      else pos += rl * 64;
      p++;
      for (let k = 0; k < lw && p < this.size; k++, p++) {
        for (let half = 0; half < 2; half++) {
          let w = this.buf[2 * p + half];
          while (w) {
            const b = 31 - Math.clz32(w & -w);
            fn(pos + 32 * half + b);
            w &= w - 1;
          }
        }
        pos += 64;
      }
    }
  }

  /**
   * The set as a plain bitmap of `maxBits` bits (32-bit words); a set bit at
   * or past `maxBits` is corruption (never a giant allocation).
   */
  toWords(maxBits: number, file = '.bitmap'): Uint32Array {
    const limitWords = Math.ceil(maxBits / 64);
    const out = new Uint32Array(2 * limitWords);
    let w64 = 0;
    let p = 0;
    const bad = () => new CorruptError(file, `EWAH bitmap sets bits past the ${maxBits} objects it may cover`);
    while (p < this.size) {
      const rl = this.runLen(p);
      const lw = this.litWords(p);
      if (this.runBit(p) && rl) {
        if (w64 + rl > limitWords) throw bad();
        out.fill(0xffffffff, 2 * w64, 2 * (w64 + rl));
      }
      w64 += rl;
      p++;
      for (let k = 0; k < lw && p < this.size; k++, p++, w64++) {
        const lo = this.buf[2 * p];
        const hi = this.buf[2 * p + 1];
        if (!lo && !hi) continue;
        if (w64 >= limitWords) throw bad();
        out[2 * w64] = lo;
        out[2 * w64 + 1] = hi;
      }
    }
    for (let b = maxBits; b < 64 * limitWords; b++) if (out[b >>> 5] & (1 << (b & 31))) throw bad();
    return out.subarray(0, Math.ceil(maxBits / 32));
  }

  // ------------------------------------------------------------ XOR (git's ewah_xor)

  static xor(a: Ewah, b: Ewah): Ewah {
    const out = new Ewah();
    const i = new RlwIterator(a);
    const j = new RlwIterator(b);
    while (i.wordSize() > 0 && j.wordSize() > 0) {
      while (i.runningLen > 0 || j.runningLen > 0) {
        const [prey, predator] = i.runningLen < j.runningLen ? [i, j] : [j, i];
        const negate = predator.runningBit !== 0;
        const index = prey.discharge(out, predator.runningLen, negate);
        out.addEmptyWords(negate ? 1 : 0, predator.runningLen - index);
        predator.discardFirstWords(predator.runningLen);
      }
      const lits = Math.min(i.literalWords, j.literalWords);
      if (lits) {
        for (let k = 0; k < lits; k++) {
          const x = 2 * (i.literalStart + k);
          const y = 2 * (j.literalStart + k);
          out.add((a.buf[x] ^ b.buf[y]) >>> 0, (a.buf[x + 1] ^ b.buf[y + 1]) >>> 0);
        }
        i.discardFirstWords(lits);
        j.discardFirstWords(lits);
      }
    }
    if (i.wordSize() > 0) i.discharge(out, Infinity, false);
    else j.discharge(out, Infinity, false);
    out.bitSize = Math.max(a.bitSize, b.bitSize);
    return out;
  }

  // ------------------------------------------------------------ bytes

  /** Serialized length: bit size, word count, words, marker position. */
  get byteLength(): number {
    return 12 + 8 * this.size;
  }

  /** git's ewah_serialize_to */
  writeTo(out: Uint8Array, at: number): number {
    const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
    dv.setUint32(at, this.bitSize >>> 0);
    dv.setUint32(at + 4, this.size);
    at += 8;
    for (let w = 0; w < this.size; w++, at += 8) {
      dv.setUint32(at, this.buf[2 * w + 1]);
      dv.setUint32(at + 4, this.buf[2 * w]);
    }
    dv.setUint32(at, this.rlw);
    return at + 4;
  }

  toBytes(): Uint8Array {
    const out = new Uint8Array(this.byteLength);
    this.writeTo(out, 0);
    return out;
  }

  /**
   * git's ewah_read_mmap, bounds-checked: the bitmap at `at` and the offset
   * just past it. Throws CorruptError (naming `file`) when it does not fit.
   */
  static read(bytes: Uint8Array, at: number, file = '.bitmap'): { ewah: Ewah; end: number } {
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (at + 4 > bytes.length) throw new CorruptError(file, 'corrupt ewah bitmap: eof before bit size');
    const bitSize = dv.getUint32(at);
    if (at + 8 > bytes.length) throw new CorruptError(file, 'corrupt ewah bitmap: eof before length');
    const size = dv.getUint32(at + 4);
    const dataLen = 8 * size;
    if (dataLen > bytes.length - at - 8) throw new CorruptError(file, `corrupt ewah bitmap: eof in data (${dataLen - (bytes.length - at - 8)} bytes short)`);
    if (at + 12 + dataLen > bytes.length) throw new CorruptError(file, 'corrupt ewah bitmap: eof before rlw');
    const e = new Ewah(size || 1);
    let p = at + 8;
    for (let w = 0; w < size; w++, p += 8) {
      e.buf[2 * w + 1] = dv.getUint32(p);
      e.buf[2 * w] = dv.getUint32(p + 4);
    }
    e.size = size;
    e.bitSize = bitSize;
    e.rlw = dv.getUint32(p);
    if (size === 0 || e.rlw >= size) throw new CorruptError(file, 'corrupt ewah bitmap: marker position out of range');
    return { ewah: e, end: p + 4 };
  }
}

/** git's rlw_iterator over an EWAH bitmap (ewah_rlw.c), used by XOR. */
class RlwIterator {
  private pointer = 0;
  literalStart = 0;
  literalWords = 0;
  runningLen = 0;
  runningBit = 0;
  private readonly buf: Uint32Array;
  private readonly size: number;

  constructor(e: Ewah) {
    this.buf = e.buf;
    this.size = e.size;
    this.next();
    this.literalStart = this.pointer - this.literalWords;
  }

  private next(): boolean {
    if (this.pointer >= this.size) return false;
    const w = this.pointer;
    const lo = this.buf[2 * w];
    const hi = this.buf[2 * w + 1];
    this.literalWords = hi >>> 1;
    this.runningLen = ((lo >>> 1) | ((hi & 1) << 31)) >>> 0;
    this.runningBit = lo & 1;
    this.pointer += this.literalWords + 1;
    return true;
  }

  wordSize(): number {
    return this.runningLen + this.literalWords;
  }

  discardFirstWords(x: number): void {
    while (x > 0) {
      if (this.runningLen > x) {
        this.runningLen -= x;
        return;
      }
      x -= this.runningLen;
      this.runningLen = 0;
      const discard = x > this.literalWords ? this.literalWords : x;
      this.literalStart += discard;
      this.literalWords -= discard;
      x -= discard;
      if (x > 0 || this.wordSize() === 0) {
        if (!this.next()) break;
        this.literalStart = this.pointer - this.literalWords;
      }
    }
  }

  discharge(out: Ewah, max: number, negate: boolean): number {
    let index = 0;
    while (index < max && this.wordSize() > 0) {
      let pl = this.runningLen;
      if (index + pl > max) pl = max - index;
      out.addEmptyWords(this.runningBit ^ (negate ? 1 : 0), pl);
      index += pl;
      let pd = this.literalWords;
      if (pd + index > max) pd = max - index;
      out.addDirtyWords(this.buf, this.literalStart, pd, negate);
      this.discardFirstWords(pd + pl);
      index += pd;
    }
    return index;
  }
}
