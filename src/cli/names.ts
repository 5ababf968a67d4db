/**
 * Object names as git's get_oid_with_context reads them, for the common
 * forms: a full object id (taken as is, like git, whether or not the object
 * exists), a ref name (git's dwim rules: refs win over abbreviations), an
 * abbreviated id of at least 4 hex digits, `@` for HEAD, the suffixes `^{}`,
 * `^{<type>}`, `^`, `^<n>`, `~`, `~<n>`, and `<rev>:<path>`.
 * Not handled (such names do not resolve): reflogs (`@{...}`), `:/<text>`,
 * the index (`:<path>`, `:0:<path>`), `describe` output.
 *
 * Names are byte strings (each char one byte, latin1), so that input that is
 * not UTF-8 is echoed back byte for byte in `missing` lines and paths match
 * tree entry names exactly.
 */

import { AmbiguousError, NotFoundError } from '../errors.js';
import type { Odb } from '../index.js';
import type { RefResolver } from './repo.js';

type Reader = Pick<Odb, 'read' | 'expandOid'> & { hash: { hexLength: number } };

/** What a name resolved to; `null` when it names nothing. AmbiguousError escapes for an ambiguous abbreviation. */
export async function resolveName(odb: Reader, refs: RefResolver, name: string): Promise<string | null> {
  const colon = name.indexOf(':');
  if (colon === 0) return null; // the index, :/text: not supported
  if (colon > 0) {
    const treeish = await resolveRev(odb, refs, name.slice(0, colon));
    if (!treeish) return null;
    return treeEntry(odb, treeish, name.slice(colon + 1));
  }
  return resolveRev(odb, refs, name);
}

const HEX = /^[0-9a-fA-F]+$/;

async function resolveBase(odb: Reader, refs: RefResolver, base: string): Promise<string | null> {
  const hexLength = odb.hash.hexLength;
  if (base.length === hexLength && HEX.test(base)) return base.toLowerCase();
  const ref = refs.dwim(base === '@' ? 'HEAD' : base);
  if (ref) return ref;
  if (base.length >= 4 && base.length < hexLength && HEX.test(base)) {
    try {
      return await odb.expandOid(base);
    } catch (err) {
      if (err instanceof NotFoundError) return null;
      if (err instanceof AmbiguousError) throw err;
      throw err;
    }
  }
  return null;
}

async function readOrNull(odb: Reader, oid: string) {
  try {
    return await odb.read(oid);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

/** The oid in a `<field> <oid>` header line of a commit or tag (the first such line). */
function headerField(data: Uint8Array, field: string, nth = 0): string | null {
  const text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
  const end = text.indexOf('\n\n');
  const head = end >= 0 ? text.slice(0, end) : text;
  let seen = 0;
  for (const line of head.split('\n')) {
    if (line.startsWith(`${field} `)) {
      if (seen++ === nth) return line.slice(field.length + 1).trim();
    }
  }
  return null;
}

async function peel(odb: Reader, oid: string, want: string): Promise<string | null> {
  for (let depth = 0; depth < 64; depth++) {
    if (want === 'object') {
      return (await readOrNull(odb, oid)) ? oid : null;
    }
    const obj = await readOrNull(odb, oid);
    if (!obj) return null;
    if (want === '' && obj.type !== 'tag') return oid;
    if (obj.type === want) return oid;
    if (obj.type === 'tag') {
      const next = headerField(obj.data, 'object');
      if (!next) return null;
      oid = next;
      continue;
    }
    if (obj.type === 'commit' && want === 'tree') return headerField(obj.data, 'tree');
    return null;
  }
  return null;
}

async function resolveRev(odb: Reader, refs: RefResolver, rev: string): Promise<string | null> {
  const m = /[\^~]/.exec(rev);
  const base = m ? rev.slice(0, m.index) : rev;
  let suffix = m ? rev.slice(m.index) : '';
  if (!base) return null;
  let oid = await resolveBase(odb, refs, base);
  while (oid && suffix) {
    let t: RegExpExecArray | null;
    if ((t = /^\^\{([a-z]*)\}/.exec(suffix))) {
      const want = t[1];
      if (!['', 'commit', 'tree', 'blob', 'tag', 'object'].includes(want)) return null;
      oid = await peel(odb, oid, want);
    } else if ((t = /^\^(\d*)/.exec(suffix))) {
      const n = t[1] === '' ? 1 : Number(t[1]);
      const commit = await peel(odb, oid, 'commit');
      if (!commit) return null;
      if (n === 0) oid = commit;
      else {
        const obj = await readOrNull(odb, commit);
        oid = obj ? headerField(obj.data, 'parent', n - 1) : null;
      }
    } else if ((t = /^~(\d*)/.exec(suffix))) {
      let n = t[1] === '' ? 1 : Number(t[1]);
      oid = await peel(odb, oid, 'commit');
      while (oid && n-- > 0) {
        const obj = await readOrNull(odb, oid);
        oid = obj ? headerField(obj.data, 'parent', 0) : null;
      }
    } else {
      return null;
    }
    suffix = suffix.slice(t[0].length);
  }
  return oid;
}

/** Entries of a tree, raw: mode (octal text), name bytes, oid hex. */
export function* treeEntries(data: Uint8Array, rawLength: number): Generator<{ mode: number; name: Uint8Array; oid: string }> {
  let p = 0;
  while (p < data.length) {
    const sp = data.indexOf(0x20, p);
    const nul = sp < 0 ? -1 : data.indexOf(0, sp + 1);
    if (sp < 0 || nul < 0 || nul + 1 + rawLength > data.length) throw new Error('malformed tree object');
    let mode = 0;
    for (let i = p; i < sp; i++) {
      const d = data[i] - 0x30;
      if (d < 0 || d > 7) throw new Error('malformed mode in tree entry');
      mode = mode * 8 + d;
    }
    const name = data.subarray(sp + 1, nul);
    const oid = Buffer.from(data.buffer, data.byteOffset + nul + 1, rawLength).toString('hex');
    yield { mode, name, oid };
    p = nul + 1 + rawLength;
  }
}

async function treeEntry(odb: Reader, treeish: string, path: string): Promise<string | null> {
  let oid = await peel(odb, treeish, 'tree');
  if (!oid) return null;
  const parts = path.split('/').filter((s) => s.length > 0);
  if (parts.length === 0) return oid;
  const rawLength = odb.hash.hexLength / 2;
  for (let i = 0; i < parts.length; i++) {
    const tree = await readOrNull(odb, oid!);
    if (!tree || tree.type !== 'tree') return null;
    const want = Buffer.from(parts[i], 'latin1');
    let next: string | null = null;
    for (const e of treeEntries(tree.data, rawLength)) {
      if (Buffer.compare(Buffer.from(e.name.buffer, e.name.byteOffset, e.name.byteLength), want) === 0) {
        next = e.oid;
        break;
      }
    }
    if (!next) return null;
    oid = next;
  }
  return oid;
}
