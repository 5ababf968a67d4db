/**
 * EWAH against git's own `.bitmap` files (every fixture that has one): each
 * bitmap read and written back gives git's bytes; the type bitmaps rebuilt
 * bit by bit (git's ewah_set), the plain commit bitmaps re-compressed from
 * their set (git's bitmap_to_ewah), and the XOR-ed ones re-XOR-ed from their
 * base (git's ewah_xor) all give git's bytes again.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ewah } from '../src/midx/bitmap/ewah.js';
import { BITMAP_SIGNATURE } from '../src/midx/bitmap/read.js';
import { FIXTURES, walk } from './helpers.js';

function bitmapFiles(): string[] {
  return walk(FIXTURES).filter((p) => p.endsWith('.bitmap') && p.includes('/repo.git/'));
}

function hex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

describe('EWAH byte-exact with git 2.55', () => {
  const files = bitmapFiles();
  let totalXored = 0;
  it('finds git-written bitmaps', () => expect(files.length).toBeGreaterThanOrEqual(8));
  for (const file of files) {
    it(path.relative(FIXTURES, file), () => {
      const bytes = new Uint8Array(fs.readFileSync(file));
      const dv = new DataView(bytes.buffer, bytes.byteOffset);
      expect(dv.getUint32(0)).toBe(BITMAP_SIGNATURE);
      const H = file.includes('sha256') ? 32 : 20;
      const entries = dv.getUint32(8);
      let at = 12 + H;
      // type bitmaps: ewah_set in ascending order
      for (let t = 0; t < 4; t++) {
        const { ewah, end } = Ewah.read(bytes, at);
        expect(hex(ewah.toBytes())).toBe(hex(bytes.subarray(at, end)));
        const rebuilt = new Ewah();
        ewah.forEachBit((p) => rebuilt.set(p));
        expect(hex(rebuilt.toBytes())).toBe(hex(bytes.subarray(at, end)));
        at = end;
      }
      const full: Uint32Array[] = [];
      let xored = 0;
      for (let i = 0; i < entries; i++) {
        const xor = bytes[at + 4];
        const { ewah, end } = Ewah.read(bytes, at + 6);
        const stored = bytes.subarray(at + 6, end);
        expect(hex(ewah.toBytes())).toBe(hex(stored));
        const own = ewah.toWords(1 << 16);
        const words = own.slice();
        if (xor) {
          xored++;
          const base = full[i - xor];
          for (let w = 0; w < words.length; w++) words[w] ^= base[w];
          const again = Ewah.xor(Ewah.fromWords(base), Ewah.fromWords(words));
          expect(hex(again.toBytes())).toBe(hex(stored));
        } else {
          expect(hex(Ewah.fromWords(words).toBytes())).toBe(hex(stored));
        }
        full.push(words);
        at = end;
      }
      totalXored += xored;
    });
  }

  it('some of those bitmaps are XOR-ed against an earlier one', () => expect(totalXored).toBeGreaterThan(0));

  it('long runs and marker overflow round-trip', () => {
    const e = new Ewah();
    const bits = [0, 1, 63, 64, 200, 4096, 4097, 100000, 100063];
    for (let b = 5000; b < 5000 + 64 * 3; b++) bits.push(b);
    bits.sort((a, b) => a - b);
    for (const b of [...new Set(bits)]) e.set(b);
    const seen: number[] = [];
    Ewah.read(e.toBytes(), 0).ewah.forEachBit((p) => seen.push(p));
    expect(seen).toEqual([...new Set(bits)]);
  });
});
