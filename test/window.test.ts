import { describe, expect, it } from 'vitest';
import fs from 'node:fs';
import { openOdb } from '../src/index.js';
import { WINDOW_SIZE, WindowBudget } from '../src/pack/window.js';

/** a deterministic "file" of `n` bytes and a readInto over it that counts reads */
function file(n: number, seed: number) {
  const data = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
  const f = {
    data,
    size: n,
    reads: 0,
    readInto: (t: Uint8Array, p: number, l: number) => {
      f.reads++;
      if (p < 0 || p + l > n) throw new Error(`read outside the file: ${p}+${l}`);
      t.set(data.subarray(p, p + l), 0);
    },
  };
  return f;
}

function rng(seed: number) {
  let x = seed;
  return (n: number) => {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0;
    return x % n;
  };
}

describe('pack windows', () => {
  it('answer the bytes of every range, across window boundaries and files, with a budget smaller than the files', () => {
    const budget = new WindowBudget(8 * WINDOW_SIZE);
    const files = [file(10 * WINDOW_SIZE + 123, 1), file(3 * WINDOW_SIZE - 7, 2)];
    const wins = files.map(() => budget.forFile());
    const r = rng(7);
    for (let k = 0; k < 5000; k++) {
      const i = r(2);
      const f = files[i];
      const len = 1 + r(WINDOW_SIZE);
      const pos = r(f.data.length - len + 1);
      const b = wins[i].bytes(f, pos, len);
      if (b === null) continue; // not loading (low hit rate): the caller reads the file
      expect(b.length).toBe(len);
      expect(Buffer.compare(b, f.data.subarray(pos, pos + len))).toBe(0);
    }
    // the budget is a bound: never more than its slots held
    expect(budget.size).toBeLessThanOrEqual(8 * WINDOW_SIZE);
  });

  it('read each block once while it is held, and the last block of a file only as far as the file goes', () => {
    const budget = new WindowBudget(64 * WINDOW_SIZE);
    const f = file(4 * WINDOW_SIZE + 100, 3);
    const w = budget.forFile();
    for (let round = 0; round < 3; round++)
      for (let pos = 0; pos + 50 <= f.data.length; pos += 50) {
        const b = w.bytes(f, pos, 50)!;
        expect(Buffer.compare(b, f.data.subarray(pos, pos + 50))).toBe(0);
      }
    expect(f.reads).toBe(5);
    expect(budget.size).toBe(f.data.length);
    w.clear();
    expect(budget.size).toBe(0);
    w.bytes(f, 0, 10);
    expect(f.reads).toBe(6);
  });

  it('stop loading while few lookups hit (random reads over far more than the budget), held windows still answering, and try again later', () => {
    const budget = new WindowBudget(4 * WINDOW_SIZE);
    const f = file(4096 * WINDOW_SIZE, 4);
    const w = budget.forFile();
    const r = rng(11);
    let nulls = 0;
    for (let k = 0; k < 3 * 2048; k++) {
      const pos = r(f.data.length - 64);
      const b = w.bytes(f, pos, 64);
      if (b === null) nulls++;
      else expect(Buffer.compare(b, f.data.subarray(pos, pos + 64))).toBe(0);
    }
    expect(budget.loading).toBe(false);
    expect(nulls).toBeGreaterThan(2048);
    const readsBefore = f.reads;
    // a block still held answers though nothing is loaded
    const heldBlock = [...w.blocks.keys()][0];
    const at = heldBlock * WINDOW_SIZE + 10;
    const b = w.bytes(f, at, 20);
    expect(b && Buffer.compare(b, f.data.subarray(at, at + 20))).toBe(0);
    expect(f.reads).toBe(readsBefore);
    // lookups that hit (the same block over and over) turn loading back on after the pause
    for (let k = 0; k < 2048 * 40 && !budget.loading; k++) w.bytes(f, at, 20);
    expect(budget.loading).toBe(true);
  });

  it('a failed read gives its slot back and holds nothing', () => {
    const budget = new WindowBudget(4 * WINDOW_SIZE);
    const w = budget.forFile();
    const failing = () => {
      throw Object.assign(new Error('EIO'), { code: 'EIO' });
    };
    expect(() => w.bytes({ size: 10 * WINDOW_SIZE, readInto: failing }, 5, 10)).toThrow('EIO');
    expect(w.blocks.size).toBe(0);
    expect(budget.size).toBe(0);
  });

  it('below two windows of budget, none are kept', () => {
    expect(new WindowBudget(WINDOW_SIZE).enabled).toBe(false);
    expect(new WindowBudget(0).enabled).toBe(false);
    expect(new WindowBudget(2 * WINDOW_SIZE).enabled).toBe(true);
  });

  it('openOdb refuses a packWindowBytes that is not a byte count from 0 to 1 GiB, with a TypeError', async () => {
    for (const bad of [NaN, -1, Infinity, 2 ** 40, '8M' as unknown as number]) {
      await expect(openOdb({ fs, gitdir: '/nonexistent-gitdir', packWindowBytes: bad })).rejects.toThrow(/packWindowBytes/);
    }
    for (const good of [0, 4096, 1024 * 1024 * 1024]) {
      const odb = await openOdb({ fs, gitdir: '/nonexistent-gitdir', packWindowBytes: good });
      await odb.close();
    }
  });
});
