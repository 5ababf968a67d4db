/** The zlib codecs: node's (with the reused engine) and pako's must agree, and refuse every broken stream. */

import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadCodec } from '../src/zlib/index.js';

const text = Buffer.from(Array.from({ length: 300 }, (_, i) => `line ${i} ${(i * 7919) % 1000}`).join('\n'));
const z = zlib.deflateSync(text);

describe.each([
  ['node zlib', false],
  ['js (fflate)', true],
] as const)('%s', (_label, forcePako) => {
  it('inflates exactly, again and again, and after errors', async () => {
    const c = await loadCodec({ forcePako });
    expect(c.native).toBe(!forcePako);
    for (let i = 0; i < 3; i++) expect(Buffer.from(c.inflateExact(z, text.length)).equals(text)).toBe(true);
    expect(() => c.inflateExact(z.subarray(0, z.length >> 1), text.length)).toThrow();
    expect(() => c.inflateExact(z.subarray(0, z.length - 2), text.length)).toThrow(); // checksum cut
    expect(() => c.inflateExact(Buffer.from([1, 2, 3, 4, 5, 6]), 10)).toThrow();
    expect(() => c.inflateExact(z, text.length - 5)).toThrow();
    expect(() => c.inflateExact(z, text.length + 5)).toThrow();
    expect(Buffer.from(c.inflateExact(z, text.length)).equals(text)).toBe(true);
    expect(Buffer.from(c.inflateExact(zlib.deflateSync(Buffer.alloc(0)), 0)).length).toBe(0);
    expect(Buffer.from(c.inflate(z)).equals(text)).toBe(true);
    // the start of a stream: enough for a delta's size header
    expect(Buffer.from(c.inflatePrefix(z.subarray(0, 300), 16)).subarray(0, 16).equals(text.subarray(0, 16))).toBe(true);
    expect(Buffer.from(c.inflate(c.deflate(text))).equals(text)).toBe(true);
  });

  it('checks the zlib header and the Adler-32 trailer (fflate does not: the codec does)', async () => {
    const c = await loadCodec({ forcePako });
    // a damaged checksum, then damaged data that still decodes (a literal byte of a stored block)
    const badSum = Buffer.from(z);
    badSum[badSum.length - 1] ^= 1;
    const stored = zlib.deflateSync(text, { level: 0 });
    const badData = Buffer.from(stored);
    badData[100] ^= 1;
    for (const bad of [badSum, badData]) {
      expect(() => c.inflateExact(bad, text.length)).toThrow(/check/);
      expect(() => c.inflate(bad)).toThrow(/check/);
    }
    expect(Buffer.from(c.inflateExact(stored, text.length)).equals(text)).toBe(true);
    const badHeader = Buffer.from(z);
    badHeader[1] ^= 1;
    expect(() => c.inflateExact(badHeader, text.length)).toThrow(/header/);
  });
});
