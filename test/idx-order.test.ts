/** Pack order from a .idx: the radix sort (past 8,192 entries) and the native one agree with a plain sort, and every lookup by offset finds its entry. */

import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PackIndex } from '../src/pack/idx.js';
import { SHA1 } from '../src/oid.js';
import { buildPack } from './packbuilder.js';

function check(count: number) {
  const entries = Array.from({ length: count }, (_, i) => ({ type: 3, data: Buffer.concat([Buffer.from(`object ${i}\n`), crypto.randomBytes(i % 7)]) }));
  const built = buildPack(entries);
  const idx = PackIndex.parse('test.idx', built.idx, SHA1);
  const plain = built.offsets.slice().sort((a, b) => a - b);
  expect(Array.from(idx.sortedOffsets())).toEqual(plain);
  const order = idx.packOrder();
  for (let k = 0; k < count; k++) expect(idx.offsetAt(order[k])).toBe(plain[k]);
  for (let i = 0; i < count; i++) {
    const at = built.offsets[i];
    const pos = idx.positionAtOffset(at);
    expect(idx.oidBytes(pos).equals(built.oids[i])).toBe(true);
    expect(idx.entryEnd(at, built.pack.length - 20)).toBe(i + 1 < count ? built.offsets[i + 1] : built.pack.length - 20);
    expect(idx.positionAtOffset(at + 1)).toBe(-1);
  }
  expect(idx.entryEnd(built.offsets[1] + 1, built.pack.length - 20)).toBe(-1);
}

describe('pack order from a .idx', () => {
  it('a small pack (native sort)', () => check(300));
  it('a pack past the radix sort threshold', () => check(9000));
});
