/**
 * Git's delta format (spec 1.1.4): two size varints, then copy and insert
 * instructions. Every instruction is validated before the output is allocated,
 * so a corrupt delta can neither overrun a buffer nor ask for a giant one.
 */

import { CorruptError } from '../errors.js';

/** where the last varint read ended (varint returns its value alone: no array per call on the header path) */
let varintEnd = 0;

/** Reads the little-endian base-128 varint at delta[pos], setting varintEnd; -1 when truncated or too large. */
function varint(delta: Uint8Array, pos: number): number {
  let v = 0;
  let shift = 0;
  for (;;) {
    if (pos >= delta.length || shift > 49) return -1;
    const c = delta[pos++];
    v += (c & 0x7f) * 2 ** shift;
    shift += 7;
    if (!(c & 0x80)) {
      varintEnd = pos;
      return v;
    }
  }
}

/** The base and result sizes a delta declares, from its first bytes (which may be a prefix of the delta). */
function deltaSizes(delta: Uint8Array): { baseSize: number; resultSize: number } | null {
  const baseSize = varint(delta, 0);
  if (baseSize < 0) return null;
  const resultSize = varint(delta, varintEnd);
  if (resultSize < 0) return null;
  return { baseSize, resultSize };
}

/** The result size a delta declares (its second varint), from its first bytes (which may be a prefix of the delta); -1 when they do not hold it. */
export function deltaResultSize(delta: Uint8Array): number {
  return varint(delta, 0) < 0 ? -1 : varint(delta, varintEnd);
}

/** Applies `delta` to `base`, with git's checks; a bad delta is a CorruptError naming `file`. */
export function applyDelta(base: Uint8Array, delta: Uint8Array, file: string): Uint8Array {
  const out = new Uint8Array(checkedResultSize(base, delta, file));
  applyDeltaInto(base, delta, out, file);
  return out;
}

/** Results above this size have every instruction checked before their buffer is allocated. */
const PRECHECK_ABOVE = 1 << 20;

/**
 * The result size `delta` declares, to allocate its output. A result above
 * 1 MiB is believed only once every instruction has been checked and counted
 * (a damaged delta must not ask for a giant buffer); smaller ones are checked
 * as they are applied.
 */
export function checkedResultSize(base: Uint8Array, delta: Uint8Array, file: string): number {
  const gone = (why: string) => new CorruptError(file, `delta replay has gone wild: ${why}`);
  const sizes = deltaSizes(delta);
  if (!sizes) throw gone('bad delta header');
  if (sizes.baseSize !== base.length) throw gone(`base size ${sizes.baseSize} does not match the base's ${base.length} bytes`);
  const resultSize = sizes.resultSize;
  if (resultSize <= PRECHECK_ABOVE) return resultSize;
  replay(base, delta, null, file);
  return resultSize;
}

/**
 * Applies `delta` to `base` into out[0, resultSize), in one pass: every
 * instruction is checked before it writes (a copy inside the base, an insert
 * inside the delta, the output inside its declared size), so a bad delta can
 * neither overrun nor leave a short result. `out` may be longer than the
 * result (a reused buffer). Returns the result size.
 */
export function applyDeltaInto(base: Uint8Array, delta: Uint8Array, out: Uint8Array, file: string): number {
  return replay(base, delta, out, file);
}

/** The one walk over a delta's instructions (applyDeltaInto); with `out` null they are checked and counted, nothing is written (checkedResultSize). */
function replay(base: Uint8Array, delta: Uint8Array, out: Uint8Array | null, file: string): number {
  const gone = (why: string) => new CorruptError(file, `delta replay has gone wild: ${why}`);
  if (delta.length < 4) throw gone('delta shorter than 4 bytes');
  const baseSize = varint(delta, 0);
  if (baseSize < 0) throw gone('bad base size');
  let pos = varintEnd;
  if (baseSize !== base.length) throw gone(`base size ${baseSize} does not match the base's ${base.length} bytes`);
  const resultSize = varint(delta, pos);
  if (resultSize < 0) throw gone('bad result size');
  pos = varintEnd;
  if (out && out.length < resultSize) throw gone(`output buffer of ${out.length} bytes for ${resultSize}`);
  const end = delta.length;
  let o = 0;
  while (pos < end) {
    const cmd = delta[pos++];
    if (cmd & 0x80) {
      let off = 0;
      let size = 0;
      if (cmd & 0x01) off = delta[pos++];
      if (cmd & 0x02) off |= delta[pos++] << 8;
      if (cmd & 0x04) off |= delta[pos++] << 16;
      if (cmd & 0x08) off = (off | 0) + delta[pos++] * 0x1000000;
      if (cmd & 0x10) size = delta[pos++];
      if (cmd & 0x20) size |= delta[pos++] << 8;
      if (cmd & 0x40) size |= delta[pos++] << 16;
      if (pos > end) throw gone('truncated copy instruction');
      if (size === 0) size = 0x10000;
      if (off + size > baseSize) throw gone(`copy of ${size} bytes at ${off} outside the ${baseSize}-byte base`);
      if (o + size > resultSize) throw gone(`output exceeds the declared ${resultSize} bytes`);
      if (!out) {
        // checked and counted only
      } else if (size < 128) {
        for (let i = 0; i < size; i++) out[o + i] = base[off + i];
      } else {
        out.set(base.subarray(off, off + size), o);
      }
      o += size;
    } else if (cmd) {
      if (pos + cmd > end) throw gone('insert past the end of the delta');
      if (o + cmd > resultSize) throw gone(`output exceeds the declared ${resultSize} bytes`);
      if (!out) {
        // checked and counted only
      } else if (cmd < 32) {
        for (let i = 0; i < cmd; i++) out[o + i] = delta[pos + i];
      } else {
        out.set(delta.subarray(pos, pos + cmd), o);
      }
      pos += cmd;
      o += cmd;
    } else {
      throw gone('unexpected delta opcode 0');
    }
  }
  if (o !== resultSize) throw gone(`output is ${o} bytes, the delta declares ${resultSize}`);
  return resultSize;
}
