/**
 * What `git cat-file -p` prints for a tree (it runs `git ls-tree`):
 * `<mode> <type> <oid>\t<name>` per entry, the mode canonicalised as git's
 * tree walker does (100644/100755/120000/040000/160000) and printed as six
 * octal digits, the type derived from the mode (160000 is a submodule:
 * `commit`), and the name C-quoted when it holds special bytes
 * (core.quotePath, default true: bytes >= 0x80 are quoted too).
 */

import { treeEntries } from './names.js';

const S_IFMT = 0o170000;
const S_IFREG = 0o100000;
const S_IFDIR = 0o040000;
const S_IFLNK = 0o120000;
const S_IFGITLINK = 0o160000;

/** git's canon_mode (tree-walk.h). */
export function canonMode(mode: number): number {
  switch (mode & S_IFMT) {
    case S_IFREG:
      return S_IFREG | (mode & 0o100 ? 0o755 : 0o644);
    case S_IFLNK:
      return S_IFLNK;
    case S_IFDIR:
      return S_IFDIR;
    default:
      return S_IFGITLINK;
  }
}

function typeOfMode(mode: number): string {
  if ((mode & S_IFMT) === S_IFDIR) return 'tree';
  if ((mode & S_IFMT) === S_IFGITLINK) return 'commit';
  return 'blob';
}

/** quote.c's cq_lookup: 0 no quoting, 1 octal, else the letter after the backslash. */
const CQ: Array<number | string> = (() => {
  const t: Array<number | string> = new Array(256).fill(0);
  for (let c = 0; c < 0x20; c++) t[c] = 1;
  t[0x07] = 'a';
  t[0x08] = 'b';
  t[0x09] = 't';
  t[0x0a] = 'n';
  t[0x0b] = 'v';
  t[0x0c] = 'f';
  t[0x0d] = 'r';
  t[0x22] = '"';
  t[0x5c] = '\\';
  t[0x7f] = 1;
  return t;
})();

/** git's quote_c_style: the name itself when nothing needs quoting, else `"..."` with escapes. */
export function quoteCStyle(name: Uint8Array, quoteFully: boolean): Buffer {
  const must = (c: number) => (c >= 0x80 ? quoteFully : CQ[c] !== 0);
  let any = false;
  for (const c of name) {
    if (must(c)) {
      any = true;
      break;
    }
  }
  if (!any) return Buffer.from(name.buffer, name.byteOffset, name.byteLength);
  const parts: number[] = [0x22];
  for (const c of name) {
    if (!must(c)) {
      parts.push(c);
      continue;
    }
    parts.push(0x5c);
    const e = c < 0x80 ? CQ[c] : 1;
    if (typeof e === 'string') parts.push(e.charCodeAt(0));
    else for (const d of c.toString(8).padStart(3, '0')) parts.push(d.charCodeAt(0));
  }
  parts.push(0x22);
  return Buffer.from(parts);
}

/** The tree as `git cat-file -p` (ls-tree) prints it. */
export function formatTree(data: Uint8Array, rawLength: number, quotePath: boolean): Buffer {
  const out: Buffer[] = [];
  for (const e of treeEntries(data, rawLength)) {
    const mode = canonMode(e.mode);
    out.push(Buffer.from(`${mode.toString(8).padStart(6, '0')} ${typeOfMode(mode)} ${e.oid}\t`, 'latin1'));
    out.push(quoteCStyle(e.name, quotePath));
    out.push(Buffer.from('\n'));
  }
  return Buffer.concat(out);
}
