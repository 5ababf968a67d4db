/** A pack entry's header: type, inflated size, and its delta base reference (spec 1.1.1-1.1.3). */

import { CorruptError } from '../errors.js';
import type { GitObject } from '../types.js';

export const OBJ_COMMIT = 1;
export const OBJ_TREE = 2;
export const OBJ_BLOB = 3;
export const OBJ_TAG = 4;
export const OBJ_OFS_DELTA = 6;
export const OBJ_REF_DELTA = 7;

export const TYPE_NAMES = ['', 'commit', 'tree', 'blob', 'tag'] as const;

/** An object as the API gives it: its type by name (`type`: 1..4), its content. */
export function toGitObject(obj: { type: number; data: Uint8Array }): GitObject {
  return { type: TYPE_NAMES[obj.type] as GitObject['type'], data: obj.data };
}

export interface EntryHeader {
  /** 1..4, 6 (OFS_DELTA) or 7 (REF_DELTA) */
  type: number;
  /** inflated size of the entry's data (the object, or the delta) */
  size: number;
  /** bytes from the entry's start to its compressed data */
  headerLength: number;
  /** OFS_DELTA: the base entry's absolute offset */
  baseOffset: number;
  /** REF_DELTA: where in `bytes` the base's raw id starts */
  baseOidAt: number;
}

/**
 * Parses the header of the entry at pack offset `offset`, whose first bytes are
 * `bytes` (at least the header; callers read a few dozen bytes). Returns null
 * when `bytes` is too short to hold the whole header. With `into`, fills and
 * returns it (a walk down a delta chain reuses one object for every level).
 */
export function parseEntryHeader(bytes: Uint8Array, offset: number, hashLength: number, file: string, into?: EntryHeader): EntryHeader | null {
  let p = 0;
  if (bytes.length < 1) return null;
  let c = bytes[p++];
  const type = (c >> 4) & 7;
  let size = c & 15;
  let shift = 4;
  while (c & 0x80) {
    if (p >= bytes.length) return null;
    if (shift > 49) throw new CorruptError(file, `bad object header at offset ${offset}`);
    c = bytes[p++];
    size += (c & 0x7f) * 2 ** shift;
    shift += 7;
  }
  let baseOffset = -1;
  let baseOidAt = -1;
  if (type === OBJ_OFS_DELTA) {
    if (p >= bytes.length) return null;
    c = bytes[p++];
    let v = c & 0x7f;
    while (c & 0x80) {
      if (p >= bytes.length) return null;
      if (v > 2 ** 45) throw new CorruptError(file, `bad delta base offset at offset ${offset}`);
      c = bytes[p++];
      v = (v + 1) * 128 + (c & 0x7f);
    }
    baseOffset = offset - v;
    if (v <= 0 || baseOffset <= 0) throw new CorruptError(file, `delta base offset out of bound for entry at offset ${offset}`);
  } else if (type === OBJ_REF_DELTA) {
    if (p + hashLength > bytes.length) return null;
    baseOidAt = p;
    p += hashLength;
  } else if (type < OBJ_COMMIT || type > OBJ_TAG) {
    throw new CorruptError(file, `unknown object type ${type} at offset ${offset}`);
  }
  if (!into) return { type, size, headerLength: p, baseOffset, baseOidAt };
  into.type = type;
  into.size = size;
  into.headerLength = p;
  into.baseOffset = baseOffset;
  into.baseOidAt = baseOidAt;
  return into;
}
