/**
 * Commit, tree and tag bodies parsed into the objects isomorphic-git 1.44 returns
 * (`readObject({ format: 'parsed' })`, `readCommit`, `readTag`, `readTree`).
 *
 * The target is isomorphic-git's observable result, quirks included, not git's own
 * reading of the object: a caller that swaps isomorphic-git's reader for ours must
 * see the same values. The quirks kept on purpose are marked "as isomorphic-git".
 * Where isomorphic-git throws, we throw a CorruptError instead (its error classes
 * are internal to it).
 */

import { CorruptError } from '../errors.js';
import { toHex } from '../oid.js';

/** An author, committer or tagger line. */
export interface GitIdentity {
  name: string;
  email: string;
  /** seconds since the epoch (NaN when the line's timestamp is not a number, as isomorphic-git) */
  timestamp: number;
  /**
   * minutes *behind* UTC, JavaScript's `Date#getTimezoneOffset` sign: `+0200` is -120.
   * `-0000` gives -0 and `+0000` gives 0, as isomorphic-git.
   */
  timezoneOffset: number;
}

/** A parsed commit (isomorphic-git's CommitObject). */
export interface CommitObject {
  message: string;
  tree: string;
  parent: string[];
  author: GitIdentity;
  committer: GitIdentity;
  /** the signature, continuation lines joined with '\n' (no leading space) */
  gpgsig?: string;
  /** any other header (`mergetag`, `encoding`, ...): its first occurrence, continuation lines joined */
  [header: string]: unknown;
}

/** A parsed annotated tag (isomorphic-git's TagObject). */
export interface TagObject {
  object: string;
  type: 'blob' | 'tree' | 'commit' | 'tag';
  tag: string;
  tagger: GitIdentity;
  message: string;
  /** the PGP signature block; the key is always present, undefined when unsigned */
  gpgsig?: string;
  [header: string]: unknown;
}

export type TreeEntryType = 'commit' | 'blob' | 'tree';

/** One tree entry (isomorphic-git's TreeEntry). */
export interface TreeEntry {
  /** six digits: '040000' | '100644' | '100755' | '120000' | '160000' */
  mode: string;
  path: string;
  oid: string;
  /** 'commit' for a submodule (gitlink, mode 160000) */
  type: TreeEntryType;
}

export type TreeObject = TreeEntry[];

/** Options shared by the parsers. */
export interface ParseOptions {
  /** named in errors, e.g. the object id */
  oid?: string;
}

const PGP_BEGIN = '-----BEGIN PGP SIGNATURE-----';
const PGP_END = '-----END PGP SIGNATURE-----';

// ignoreBOM: keep a leading U+FEFF, as Buffer#toString('utf8') does. Invalid UTF-8
// becomes U+FFFD in both decoders, the same way.
const decoder = new TextDecoder('utf-8', { ignoreBOM: true });

function decode(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

function corrupt(options: ParseOptions | undefined, what: string, reason: string): CorruptError {
  return new CorruptError(options?.oid ? `${what} ${options.oid}` : what, reason);
}

/**
 * A message as isomorphic-git normalises it: every CR removed, leading and trailing
 * LFs dropped, exactly one LF appended.
 */
export function normalizeMessage(text: string): string {
  const s = text.includes('\r') ? text.split('\r').join('') : text;
  let start = 0;
  let end = s.length;
  while (start < end && s.charCodeAt(start) === 10) start++;
  while (end > start && s.charCodeAt(end - 1) === 10) end--;
  return s.slice(start, end) + '\n';
}

/**
 * The header block: everything before the first blank line. Without a blank line
 * isomorphic-git takes `slice(0, -1)`, i.e. all but the last character; kept.
 */
function headerBlock(text: string): string {
  return text.slice(0, text.indexOf('\n\n'));
}

/** The body after the first blank line; without one, everything after the first character (as isomorphic-git). */
function bodyAfterHeaders(text: string): string {
  return text.slice(text.indexOf('\n\n') + 2);
}

/** Header lines with continuation lines (leading space) folded into the line above. */
function unfoldHeaders(block: string): string[] {
  const lines: string[] = [];
  for (const line of block.split('\n')) {
    if (line.charCodeAt(0) === 32) {
      // a continuation before any header has nowhere to go: isomorphic-git drops it too
      if (lines.length > 0) lines[lines.length - 1] += '\n' + line.slice(1);
    } else {
      lines.push(line);
    }
  }
  return lines;
}

/**
 * Key and value of a header line split at the first space. A line without a space
 * gives key = the line minus its last character and value = the whole line, as
 * isomorphic-git (`slice(0, -1)` / `slice(0)`).
 */
function headerKey(line: string): string {
  return line.slice(0, line.indexOf(' '));
}

function headerValue(line: string): string {
  return line.slice(line.indexOf(' ') + 1);
}

const IDENTITY = /^(.*) <(.*)> (.*) (.*)$/;
const ZONE = /([+-])(\d\d)(\d\d)/;

/** `Name <email> 1700000000 +0100` → GitIdentity. */
export function parseIdentity(line: string, options?: ParseOptions): GitIdentity {
  const m = IDENTITY.exec(line);
  if (!m) throw corrupt(options, 'object', `cannot parse identity line: ${JSON.stringify(line)}`);
  const zone = ZONE.exec(m[4]);
  if (!zone) throw corrupt(options, 'object', `cannot parse time zone: ${JSON.stringify(m[4])}`);
  const east = (zone[1] === '+' ? 1 : -1) * (Number(zone[2]) * 60 + Number(zone[3]));
  // negate, except that a zero keeps its sign: '-0000' → -0, '+0000' → 0
  const timezoneOffset = east === 0 ? east : -east;
  return { name: m[1], email: m[2], timestamp: Number(m[3]), timezoneOffset };
}

/**
 * Parses a commit body. `tree` must be the first header and `parent`s are the run of
 * lines right after it (later `tree`/`parent` lines are ignored); every other header
 * keeps its first occurrence as a string. `author`/`committer` become GitIdentity.
 * Key order is that of isomorphic-git: message, parent, tree, then headers in order.
 */
export function parseCommit(data: Uint8Array, options?: ParseOptions): CommitObject {
  const text = decode(data);
  const lines = unfoldHeaders(headerBlock(text));
  if (headerKey(lines[0]) !== 'tree') {
    throw corrupt(options, 'commit', `first header is ${JSON.stringify(headerKey(lines[0]))}, not tree`);
  }
  const headers: Record<string, unknown> = { parent: [] as string[] };
  headers.tree = headerValue(lines[0]);
  let i = 1;
  for (; i < lines.length && headerKey(lines[i]) === 'parent'; i++) {
    (headers.parent as string[]).push(headerValue(lines[i]));
  }
  const seen = new Set(['tree', 'parent']);
  for (; i < lines.length; i++) {
    const key = headerKey(lines[i]);
    if (seen.has(key)) continue;
    seen.add(key);
    headers[key] = headerValue(lines[i]);
  }
  // truthiness, as isomorphic-git: an empty `author ` line stays ''
  if (headers.author) headers.author = parseIdentity(headers.author as string, options);
  if (headers.committer) headers.committer = parseIdentity(headers.committer as string, options);
  return Object.assign({ message: normalizeMessage(bodyAfterHeaders(text)) }, headers) as CommitObject;
}

/**
 * The PGP signing payload of a commit (isomorphic-git's `readCommit().payload`):
 * the normalised commit with the `gpgsig` header and its signature removed.
 */
export function commitPayload(data: Uint8Array): string {
  const text = normalizeMessage(decode(data));
  const sigAt = text.indexOf('\ngpgsig');
  if (sigAt < 0) return text;
  const endAt = text.indexOf(PGP_END + '\n');
  // endAt = -1 resumes at index PGP_END.length, as isomorphic-git
  const rest = text.slice(endAt + PGP_END.length + 1);
  return normalizeMessage(text.slice(0, sigAt) + '\n' + rest);
}

/** The tag text cut before its last PGP signature block (normalised first). */
function tagWithoutSignature(text: string): string {
  const normal = normalizeMessage(text);
  const at = normal.lastIndexOf('\n' + PGP_BEGIN);
  return at < 0 ? normal : normal.slice(0, at);
}

/**
 * Parses an annotated tag body: every header keeps its first occurrence, `tagger`
 * (and a `committer`, if any) become GitIdentity, then `message` and `gpgsig`
 * (the key always present) are added in that order.
 */
export function parseTag(data: Uint8Array, options?: ParseOptions): TagObject {
  const text = decode(data);
  const headers: Record<string, unknown> = {};
  const seen = new Set<string>();
  for (const line of unfoldHeaders(headerBlock(text))) {
    const key = headerKey(line);
    if (seen.has(key)) continue;
    seen.add(key);
    headers[key] = headerValue(line);
  }
  if (headers.tagger) headers.tagger = parseIdentity(headers.tagger as string, options);
  if (headers.committer) headers.committer = parseIdentity(headers.committer as string, options);
  const unsigned = tagWithoutSignature(text);
  const message = unsigned.slice(unsigned.indexOf('\n\n') + 2);
  let gpgsig: string | undefined;
  if (text.includes('\n' + PGP_BEGIN)) {
    // from the first BEGIN to the first END, in the raw (un-normalised) text
    gpgsig = normalizeMessage(text.slice(text.indexOf(PGP_BEGIN), text.indexOf(PGP_END) + PGP_END.length));
  }
  return Object.assign(headers, { message, gpgsig }) as TagObject;
}

/** The PGP signing payload of a tag (isomorphic-git's `readTag().payload`). */
export function tagPayload(data: Uint8Array): string {
  return tagWithoutSignature(decode(data)) + '\n';
}

/** The type isomorphic-git gives a (normalised) mode; undefined for a mode it rejects. */
export function treeEntryType(mode: string): TreeEntryType | undefined {
  switch (mode) {
    case '040000':
      return 'tree';
    case '100644':
    case '100755':
    case '120000':
      return 'blob';
    case '160000':
      return 'commit';
    default:
      return undefined;
  }
}

// Code points that HFS+ ignores in names (zero-width joiners, directional marks, BOM):
// git strips them before comparing a name with ".git".
const HFS_IGNORED = /[\u200C-\u200F\u202A-\u202E\u206A-\u206F\uFEFF]/g;

/**
 * Whether a tree entry name is one git's verify_path() refuses and isomorphic-git's
 * tree parser therefore rejects: a separator, '.', '..', or any spelling of '.git'
 * that HFS+ or NTFS would resolve to it (case, trailing dots and spaces, an
 * alternate-data-stream suffix, the 8.3 short names git~1..git~9).
 */
export function isUnsafeEntryName(name: string): boolean {
  if (name.includes('/') || name.includes('\\')) return true;
  const hfs = name.replace(HFS_IGNORED, '');
  if (hfs === '.' || hfs === '..') return true;
  const colon = hfs.indexOf(':');
  let ntfs = (colon < 0 ? hfs : hfs.slice(0, colon)).toLowerCase();
  let end = ntfs.length;
  while (end > 0 && (ntfs.charCodeAt(end - 1) === 46 || ntfs.charCodeAt(end - 1) === 32)) end--;
  ntfs = ntfs.slice(0, end);
  return ntfs === '.git' || /^\.?git~[1-9]$/.test(ntfs);
}

/** Rank of a UTF-16 unit ≥ 0xD800 in code point order: surrogates sort above U+FFFF. */
function highUnitRank(unit: number): number {
  return unit >= 0xe000 ? unit - 0x800 : unit + 0x2000;
}

/**
 * Code point order of two strings (the order of their UTF-8 bytes), which is how
 * isomorphic-git sorts the entries it returns. Decoded names hold no lone surrogates.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800 && y >= 0xd800) {
      x = highUnitRank(x);
      y = highUnitRank(y);
    }
    return x < y ? -1 : 1;
  }
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

/**
 * Parses a tree body into isomorphic-git's entries: mode '40000' written as '040000',
 * a type from the mode (gitlinks are 'commit'), sorted by path in code point order
 * (not git's tree order, where 'a/' sorts after 'a.b'), stable for equal paths.
 *
 * `hashLength` is the raw id length: 20 (SHA-1, the only one isomorphic-git knows)
 * or 32 (SHA-256). A truncated last id gives a short hex string, as isomorphic-git.
 */
export function parseTree(data: Uint8Array, hashLength = 20, options?: ParseOptions): TreeObject {
  const entries: TreeEntry[] = [];
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space < 0) throw corrupt(options, 'tree', `no space after the mode at byte ${pos}`);
    // searched from the entry start, not from the space, as isomorphic-git
    const nul = data.indexOf(0, pos);
    if (nul < 0) throw corrupt(options, 'tree', `no NUL after the name at byte ${pos}`);
    let mode = decode(data.subarray(pos, space));
    if (mode === '40000') mode = '040000';
    const type = treeEntryType(mode);
    if (!type) throw corrupt(options, 'tree', `unexpected entry mode ${JSON.stringify(mode)} at byte ${pos}`);
    const path = decode(data.subarray(space + 1, nul));
    if (isUnsafeEntryName(path)) throw corrupt(options, 'tree', `unsafe entry name ${JSON.stringify(path)}`);
    const idStart = nul + 1;
    const oid = toHex(data, idStart, Math.max(0, Math.min(hashLength, data.length - idStart)));
    pos = idStart + hashLength;
    entries.push({ mode, path, oid, type });
  }
  entries.sort((a, b) => compareCodePoints(a.path, b.path));
  return entries;
}
