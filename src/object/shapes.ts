/**
 * The result shapes of isomorphic-git 1.44's `readObject`, `readCommit`, `readTag`,
 * `readTree` and `readBlob`, built from an object this database read.
 *
 * What isomorphic-git returns depends on where it found the object (its
 * `_readObject`, node_modules/isomorphic-git/index.js):
 *
 * - loose (`source` = 'objects/xx/yyyy…'): every format is honoured. 'deflated' is the
 *   loose file's bytes as read, 'wrapped' the inflated file ("<type> <size>\0" + content);
 *   for both, `type` is set to the format name ('deflated' / 'wrapped').
 * - packed (`source` = 'objects/pack/pack-<hash>.pack', the .pack beside the first .idx,
 *   in code point order of file names, that lists the object): a pack stores no
 *   per-object zlib stream, so 'deflated' and 'wrapped' come back as format 'content'
 *   with the real type.
 * - the SHA-1 empty tree 4b825dc…: hard-coded before any lookup, so it has no `source`
 *   and 'deflated' comes back as 'wrapped'.
 * - 'parsed': commits, trees and tags are parsed (./parse.ts); a blob stays bytes, as a
 *   plain Uint8Array copy, with format 'content' (isomorphic-git's .d.ts says 'parsed'
 *   and string; that is only true when an `encoding` is passed, which we do not take).
 *
 * Byte arrays (`object` of the non-parsed formats) are Buffers where a global Buffer
 * exists (node, or the polyfill isomorphic-git needs in browsers), as isomorphic-git's
 * are, else Uint8Arrays. Keys come in the order isomorphic-git creates them.
 */

import type { GitObject, ObjectType } from '../types.js';
import type { Codec } from '../zlib/index.js';
import { InvalidArgumentError } from '../errors.js';
import {
  commitPayload,
  parseCommit,
  parseTag,
  parseTree,
  tagPayload,
  type CommitObject,
  type TagObject,
  type TreeObject,
} from './parse.js';
import { asBuffer } from '../util.js';

export type ReadObjectFormat = 'deflated' | 'wrapped' | 'content' | 'parsed';

/** The id isomorphic-git answers without looking: the SHA-1 empty tree. */
export const EMPTY_TREE_SHA1 = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';

export interface DeflatedObject {
  oid: string;
  type: 'deflated';
  format: 'deflated';
  /** the loose file's zlib stream */
  object: Uint8Array;
  source?: string;
}

export interface WrappedObject {
  oid: string;
  type: 'wrapped';
  format: 'wrapped';
  /** "<type> <size>\0" + content */
  object: Uint8Array;
  source?: string;
}

export interface RawObject {
  oid: string;
  type: ObjectType;
  format: 'content';
  object: Uint8Array;
  source?: string;
}

/** A blob read with format 'parsed' and no encoding: its bytes, format 'content'. */
export interface ParsedBlobObject {
  oid: string;
  type: 'blob';
  format: 'content';
  object: Uint8Array;
  source?: string;
}

export interface ParsedCommitObject {
  oid: string;
  type: 'commit';
  format: 'parsed';
  object: CommitObject;
  source?: string;
}

export interface ParsedTreeObject {
  oid: string;
  type: 'tree';
  format: 'parsed';
  object: TreeObject;
  source?: string;
}

export interface ParsedTagObject {
  oid: string;
  type: 'tag';
  format: 'parsed';
  object: TagObject;
  source?: string;
}

export type ParsedObject = ParsedBlobObject | ParsedCommitObject | ParsedTreeObject | ParsedTagObject;
export type ReadObjectResult = DeflatedObject | WrappedObject | RawObject | ParsedObject;

/** `git.readCommit` */
export interface ReadCommitResult {
  oid: string;
  commit: CommitObject;
  /** the PGP signing payload: the commit without its gpgsig header */
  payload: string;
}

/** `git.readTag` */
export interface ReadTagResult {
  oid: string;
  tag: TagObject;
  /** the PGP signing payload: the tag without its signature */
  payload: string;
}

/** `git.readTree` */
export interface ReadTreeResult {
  oid: string;
  tree: TreeObject;
}

/** `git.readBlob` */
export interface ReadBlobResult {
  oid: string;
  blob: Uint8Array;
}

/**
 * An object as the database read it. A loose backend may add the file's own bytes
 * as `deflated`: format 'deflated' then returns them as they are, byte for byte what
 * isomorphic-git returns. Without them the wrapped object is deflated again with
 * `codec`, which inflates to the same bytes but equals git's file only when the codec
 * is zlib's reference implementation at git's level (pako at level 1, the default
 * `core.looseCompression`, reproduces git-written loose objects; node's zlib does not).
 */
export interface ReadableObject extends GitObject {
  deflated?: Uint8Array;
}




/** "<type> <size>\0" + data */
export function wrapObject(type: string, data: Uint8Array): Uint8Array {
  const header = `${type} ${data.length}\0`;
  const out = new Uint8Array(header.length + data.length);
  for (let i = 0; i < header.length; i++) out[i] = header.charCodeAt(i);
  out.set(data, header.length);
  return out;
}

function isPackSource(source: string | undefined): boolean {
  return source !== undefined && source.startsWith('objects/pack/');
}

/** Raw id length implied by a hex id: SHA-256 ids have 64 digits. */
function hashLengthOf(oid: string): number {
  return oid.length === 64 ? 32 : 20;
}

/** The parsed form of an object, as readObject's 'parsed' puts it in `object`. */
function parsedBody(oid: string, type: ObjectType, data: Uint8Array): CommitObject | TreeObject | TagObject {
  switch (type) {
    case 'commit':
      return parseCommit(data, { oid });
    case 'tree':
      return parseTree(data, hashLengthOf(oid), { oid });
    case 'tag':
      return parseTag(data, { oid });
    default:
      throw new InvalidArgumentError(`object ${oid}: cannot parse type ${String(type)}`);
  }
}

function emptyTreeResult(format: ReadObjectFormat): ReadObjectResult {
  if (format === 'deflated' || format === 'wrapped') {
    return { format: 'wrapped', object: asBuffer(wrapObject('tree', new Uint8Array(0))), oid: EMPTY_TREE_SHA1, type: 'wrapped' };
  }
  if (format === 'content') {
    return { format: 'content', object: asBuffer(new Uint8Array(0)), type: 'tree', oid: EMPTY_TREE_SHA1 };
  }
  return { format: 'parsed', object: [], type: 'tree', oid: EMPTY_TREE_SHA1 };
}

/**
 * What `git.readObject({ fs, gitdir, oid, format })` returns for an object this
 * database read from `source` (the gitdir-relative file: 'objects/pack/pack-….pack'
 * or 'objects/xx/yyyy'; without one, the object is treated as loose and the result
 * has no `source` key). Throws CorruptError where isomorphic-git's parser throws.
 */
export function toReadObjectResult(oid: string, obj: ReadableObject, format: 'deflated', codec: Codec, source?: string): DeflatedObject | WrappedObject | RawObject;
export function toReadObjectResult(oid: string, obj: ReadableObject, format: 'wrapped', codec: Codec, source?: string): WrappedObject | RawObject;
export function toReadObjectResult(oid: string, obj: ReadableObject, format: 'content', codec: Codec, source?: string): RawObject;
export function toReadObjectResult(oid: string, obj: ReadableObject, format: 'parsed', codec: Codec, source?: string): ParsedObject;
export function toReadObjectResult(oid: string, obj: ReadableObject, format: ReadObjectFormat, codec: Codec, source?: string): ReadObjectResult;
export function toReadObjectResult(
  oid: string,
  obj: ReadableObject,
  format: ReadObjectFormat,
  codec: Codec,
  source?: string,
): ReadObjectResult {
  if (format !== 'deflated' && format !== 'wrapped' && format !== 'content' && format !== 'parsed') {
    throw new InvalidArgumentError(`invalid readObject format ${JSON.stringify(format)}`);
  }
  if (oid === EMPTY_TREE_SHA1) return emptyTreeResult(format);
  const { type, data } = obj;

  if (isPackSource(source)) {
    // packed: always 'content' unless parsed; keys {type, format, object, source, oid}
    if (format === 'parsed') {
      if (type === 'blob') return { type, format: 'content', object: new Uint8Array(data), source, oid } as ParsedBlobObject;
      return { type, format: 'parsed', object: parsedBody(oid, type, data), source, oid } as ParsedObject;
    }
    return { type, format: 'content', object: asBuffer(data.slice()), source, oid } as RawObject;
  }

  // loose: keys {object, format, source, ...}; `source` omitted when unknown
  const withSource = <T extends object>(fields: T): T => {
    if (source !== undefined) (fields as Record<string, unknown>).source = source;
    return fields;
  };
  if (format === 'deflated' || format === 'wrapped') {
    let object: Uint8Array;
    if (format === 'deflated') object = obj.deflated ?? codec.deflate(wrapObject(type, data), 1);
    else object = wrapObject(type, data);
    const result = withSource({ object: asBuffer(object), format }) as Record<string, unknown>;
    result.oid = oid;
    result.type = format;
    return result as unknown as DeflatedObject | WrappedObject;
  }
  const result = withSource({ object: asBuffer(data.slice()) as unknown, format: 'content' as string }) as Record<string, unknown>;
  result.type = type;
  result.oid = oid;
  if (format === 'parsed') {
    if (type === 'blob') {
      result.object = new Uint8Array(data);
    } else {
      result.format = 'parsed';
      result.object = parsedBody(oid, type, data);
    }
  }
  return result as unknown as ReadObjectResult;
}

function expectType(oid: string, obj: GitObject, want: ObjectType): void {
  if (obj.type !== want) {
    throw new InvalidArgumentError(`object ${oid} is a ${obj.type}, not a ${want} (peel it first)`);
  }
}

/** `git.readCommit` for a commit object (peeling tags is the caller's job). */
export function toReadCommitResult(oid: string, obj: GitObject): ReadCommitResult {
  expectType(oid, obj, 'commit');
  return { oid, commit: parseCommit(obj.data, { oid }), payload: commitPayload(obj.data) };
}

/** `git.readTag` for an annotated tag object. */
export function toReadTagResult(oid: string, obj: GitObject): ReadTagResult {
  expectType(oid, obj, 'tag');
  return { oid, tag: parseTag(obj.data, { oid }), payload: tagPayload(obj.data) };
}

/** `git.readTree` for a tree object (after peeling commits and tags to it). */
export function toReadTreeResult(oid: string, obj: GitObject): ReadTreeResult {
  if (oid === EMPTY_TREE_SHA1) return { oid, tree: [] };
  expectType(oid, obj, 'tree');
  return { oid, tree: parseTree(obj.data, hashLengthOf(oid), { oid }) };
}

/** `git.readBlob` for a blob object: a plain Uint8Array copy, as isomorphic-git. */
export function toReadBlobResult(oid: string, obj: GitObject): ReadBlobResult {
  expectType(oid, obj, 'blob');
  return { oid, blob: new Uint8Array(obj.data) };
}
