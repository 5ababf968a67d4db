/**
 * literalPrefix (src/zlib/prefix.ts), the JavaScript decoding of a delta's
 * first bytes that header walks use instead of a call into the codec: on
 * every kind of stream node's zlib writes (stored, fixed and dynamic blocks,
 * several blocks, streams cut short, damaged headers), it either answers
 * exactly the bytes zlib inflates or says it cannot (-1). Never a wrong byte.
 */
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { literalPrefix } from '../src/zlib/prefix.js';

/** deterministic bytes: a linear congruential generator, masked to `mask` */
function bytes(n: number, seed: number, mask = 0xff): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0;
  for (let i = 0; i < n; i++) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    out[i] = (x >>> 24) & mask;
  }
  return out;
}

/** a delta's opening: two size varints, then instruction bytes */
function deltaStart(base: number, result: number, rest: Uint8Array): Uint8Array {
  const out: number[] = [];
  for (const v of [base, result]) {
    let x = v;
    while (x >= 0x80) {
      out.push((x & 0x7f) | 0x80);
      x = Math.floor(x / 128);
    }
    out.push(x);
  }
  return Uint8Array.from([...out, ...rest]);
}

function check(stream: Uint8Array, want: number, varints = 0): number {
  const out = new Uint8Array(want);
  const n = literalPrefix(stream, out, varints);
  // the same stream as a range of a larger buffer (bytes before and after it): the same answer
  const framed = new Uint8Array(stream.length + 14).fill(0x5a);
  framed.set(stream, 7);
  const out2 = new Uint8Array(want);
  expect(literalPrefix(framed, out2, varints, 7, 7 + stream.length), 'as a range').toBe(n);
  if (n > 0) expect(Buffer.from(out2.subarray(0, n)).equals(Buffer.from(out.subarray(0, n)))).toBe(true);
  if (n >= 0) {
    const full = zlib.inflateSync(stream, { finishFlush: zlib.constants.Z_SYNC_FLUSH });
    expect(Buffer.from(out.subarray(0, n)).equals(full.subarray(0, n)), 'the bytes zlib inflates').toBe(true);
    expect(n === want || n === full.length || varints > 0, 'stops only when full, at the end, or after the varints').toBe(true);
  }
  return n;
}

describe('literalPrefix against node zlib', () => {
  it('stored blocks (level 0): every prefix, across block boundaries, and streams cut short', () => {
    for (const size of [0, 1, 5, 31, 32, 100, 70000]) {
      const data = bytes(size, size + 1);
      const stream = zlib.deflateSync(data, { level: 0 });
      expect(check(stream, 32), `size ${size}`).toBe(Math.min(32, size));
      // a stream cut inside its first stored block still gives the bytes that are there
      if (size >= 32) expect(check(stream.subarray(0, 2 + 5 + 40), 32)).toBe(32);
    }
    // 70000 bytes make two stored blocks: a prefix that spans them
    const big = bytes(70000, 9);
    const stream = zlib.deflateSync(big, { level: 0 });
    const out = new Uint8Array(65540);
    expect(literalPrefix(stream, out)).toBe(65540);
    expect(Buffer.from(out).equals(Buffer.from(big.subarray(0, 65540)))).toBe(true);
  });

  it('fixed-Huffman blocks: literals of 8 and 9 bits decode; a back-reference asks the codec', () => {
    let decoded = 0;
    for (let seed = 1; seed <= 200; seed++) {
      const data = deltaStart(seed * 977, seed * 131071, bytes(24, seed, 0x7f));
      const stream = zlib.deflateSync(data, { strategy: zlib.constants.Z_FIXED });
      expect((stream[2] >> 1) & 3, 'a fixed block').toBe(1);
      const n = check(stream, 32);
      if (n >= 0) decoded++;
      // the two varints alone
      const v = check(stream, 32, 2);
      const varintBytes = deltaStart(seed * 977, seed * 131071, new Uint8Array(0)).length;
      if (v >= 0) expect(v, 'stops after the two varints').toBe(varintBytes);
    }
    expect(decoded, 'random literals decode').toBeGreaterThan(150);
    // repeats make back-references: never decoded here
    const repeated = zlib.deflateSync(new Uint8Array(64).fill(7), { strategy: zlib.constants.Z_FIXED });
    expect(check(repeated, 32)).toBe(-1);
    // a stream shorter than the prefix asked: what it holds, then its end
    expect(check(zlib.deflateSync(Uint8Array.from([1, 200, 3]), { strategy: zlib.constants.Z_FIXED }), 32)).toBe(3);
  });

  it('dynamic blocks, cut streams, damaged and foreign headers: -1, never a guess', () => {
    // a skewed alphabet without repeats: Huffman codes of its own pay
    const dynamic = zlib.deflateSync(bytes(4000, 3, 0x0f), { level: 9 });
    expect((dynamic[2] >> 1) & 3).toBe(2);
    expect(check(dynamic, 32)).toBe(-1);
    const fixed = zlib.deflateSync(bytes(40, 5, 0x7f), { strategy: zlib.constants.Z_FIXED });
    expect((fixed[2] >> 1) & 3).toBe(1);
    expect(literalPrefix(fixed.subarray(0, 6), new Uint8Array(32))).toBe(-1);
    const bad = Uint8Array.from(fixed);
    bad[1] ^= 1; // header checksum
    expect(literalPrefix(bad, new Uint8Array(32))).toBe(-1);
    expect(literalPrefix(zlib.deflateRawSync(bytes(40, 5)), new Uint8Array(32))).toBe(-1);
    expect(literalPrefix(new Uint8Array(2), new Uint8Array(32))).toBe(-1);
    const withDict = zlib.deflateSync(bytes(40, 5), { dictionary: Buffer.from('dict') });
    expect(literalPrefix(withDict, new Uint8Array(32))).toBe(-1);
    // a stored block whose NLEN does not match its LEN
    const stored = Uint8Array.from(zlib.deflateSync(bytes(40, 5), { level: 0 }));
    stored[5] ^= 1;
    expect(literalPrefix(stored, new Uint8Array(32))).toBe(-1);
  });
});
