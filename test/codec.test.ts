/** The zlib codecs: node's (with the reused engine) and pako's must agree, and refuse every broken stream. */

import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { loadCodec } from '../src/zlib/index.js';

const text = Buffer.from(Array.from({ length: 300 }, (_, i) => `line ${i} ${(i * 7919) % 1000}`).join('\n'));
const z = zlib.deflateSync(text);

describe.each([
  ['node zlib', false],
  ['pako', true],
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
});
