/**
 * The first bytes of a zlib stream, decoded in JavaScript when they are
 * literals of a stored or fixed-Huffman block (RFC 1950, RFC 1951 3.2.4 and
 * 3.2.6). A header lookup needs only the two size varints at the start of a
 * delta, and git's deltas nearly always start so (measured on the bench
 * corpora: 94% to 99.9% of delta entries open with a stored or fixed block),
 * so this spares the call into the codec, which costs more than the decoding.
 * Anything else (a dynamic block, a back-reference, a stream too short or not
 * zlib) answers -1, and the caller asks the codec.
 */

const END_OF_BLOCK = 256;

/**
 * Decodes into `out` the literals the stream `data[start, end)` starts with,
 * until `out` is full or, with `varints` > 0, once that many varints (bytes up
 * to one with its high bit clear) are complete. Returns how many bytes it
 * wrote (fewer when the stream ends first), or -1 when it cannot tell without
 * a full inflater. Allocates nothing (a header table's pass calls it once per
 * delta of a pack).
 */
export function literalPrefix(data: Uint8Array, out: Uint8Array, varints = 0, start = 0, end = data.length): number {
  const len = end - start;
  if (len < 3) return -1;
  const cmf = data[start];
  const flg = data[start + 1];
  // deflate, window at most 32 KiB, header check, no preset dictionary
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) return -1;
  // bit positions count from data[start]
  const limit = len * 8;
  const cap = out.length;
  let bit = 16;
  let n = 0;
  let ended = 0;
  for (;;) {
    if (bit + 3 > limit) return -1;
    const head = readBits(data, start, end, bit, 3);
    bit += 3;
    const final = head & 1;
    const type = head >> 1;
    if (type === 0) {
      bit = (bit + 7) & ~7;
      let at = start + (bit >> 3);
      if (at + 4 > end) return -1;
      const size = data[at] | (data[at + 1] << 8);
      if ((size ^ (data[at + 2] | (data[at + 3] << 8))) !== 0xffff) return -1;
      at += 4;
      // a block that goes on past the bytes given is decoded as far as they go
      const blockEnd = at + size;
      const stop = Math.min(blockEnd, end);
      for (; at < stop; at++) {
        const b = data[at];
        out[n++] = b;
        if ((varints > 0 && b < 0x80 && ++ended === varints) || n === cap) return n;
      }
      if (blockEnd > end) return -1;
      bit = (at - start) * 8;
    } else if (type === 1) {
      for (;;) {
        // a fixed code, read a bit at a time, most significant bit first: 7 bits
        // for symbols 256-279, 8 for 0-143 and 280-287, 9 for 144-255
        let code = 0;
        let bits = 0;
        let sym = -1;
        while (sym < 0) {
          if (bit >= limit) return -1;
          const at = start + (bit >> 3);
          code = (code << 1) | ((data[at] >> (bit & 7)) & 1);
          bit++;
          bits++;
          if (bits === 7 && code <= 0x17) sym = END_OF_BLOCK + code;
          else if (bits === 8 && code >= 0x30 && code <= 0xbf) sym = code - 0x30;
          else if (bits === 8 && code >= 0xc0 && code <= 0xc7) sym = 280 + code - 0xc0;
          else if (bits === 9) {
            if (code < 0x190) return -1;
            sym = 144 + code - 0x190;
          }
        }
        if (sym < END_OF_BLOCK) {
          out[n++] = sym;
          if ((varints > 0 && sym < 0x80 && ++ended === varints) || n === cap) return n;
          continue;
        }
        if (sym === END_OF_BLOCK) break;
        // a back-reference: left to the codec
        return -1;
      }
    } else return -1;
    if (final) return n;
  }
}

/** `count` (at most 8) bits from bit offset `bit` of data[start, end), least significant first, as deflate packs them */
function readBits(data: Uint8Array, start: number, end: number, bit: number, count: number): number {
  const at = start + (bit >> 3);
  const word = data[at] | ((at + 1 < end ? data[at + 1] : 0) << 8);
  return (word >> (bit & 7)) & ((1 << count) - 1);
}
