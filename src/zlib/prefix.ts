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
 * Decodes into `out` the literals the stream starts with, until `out` is full
 * or, with `varints` > 0, once that many varints (bytes up to one with its
 * high bit clear) are complete. Returns how many bytes it wrote (fewer when
 * the stream ends first), or -1 when it cannot tell without a full inflater.
 */
export function literalPrefix(data: Uint8Array, out: Uint8Array, varints = 0): number {
  const len = data.length;
  if (len < 3) return -1;
  const cmf = data[0];
  const flg = data[1];
  // deflate, window at most 32 KiB, header check, no preset dictionary
  if ((cmf & 0x0f) !== 8 || cmf >> 4 > 7 || ((cmf << 8) | flg) % 31 !== 0 || flg & 0x20) return -1;
  const limit = len * 8;
  let bit = 16;
  let n = 0;
  let ended = 0;
  const put = (b: number): boolean => {
    out[n++] = b;
    if (varints > 0 && b < 0x80 && ++ended === varints) return true;
    return n === out.length;
  };
  for (;;) {
    if (bit + 3 > limit) return -1;
    const head = readBits(data, bit, 3);
    bit += 3;
    const final = head & 1;
    const type = head >> 1;
    if (type === 0) {
      bit = (bit + 7) & ~7;
      let at = bit >> 3;
      if (at + 4 > len) return -1;
      const size = data[at] | (data[at + 1] << 8);
      if ((size ^ (data[at + 2] | (data[at + 3] << 8))) !== 0xffff) return -1;
      at += 4;
      if (at + size > len) {
        // the block goes on past the bytes given: decode what is here, if it is enough
        for (; at < len; at++) if (put(data[at])) return n;
        return -1;
      }
      for (let end = at + size; at < end; at++) if (put(data[at])) return n;
      bit = at * 8;
    } else if (type === 1) {
      for (;;) {
        // a fixed code, read a bit at a time, most significant bit first: 7 bits
        // for symbols 256-279, 8 for 0-143 and 280-287, 9 for 144-255
        let code = 0;
        let bits = 0;
        let sym = -1;
        while (sym < 0) {
          if (bit >= limit) return -1;
          code = (code << 1) | ((data[bit >> 3] >> (bit & 7)) & 1);
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
          if (put(sym)) return n;
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

/** `count` (at most 8) bits from bit offset `bit`, least significant first, as deflate packs them */
function readBits(data: Uint8Array, bit: number, count: number): number {
  const at = bit >> 3;
  const word = data[at] | ((at + 1 < data.length ? data[at + 1] : 0) << 8);
  return (word >> (bit & 7)) & ((1 << count) - 1);
}
