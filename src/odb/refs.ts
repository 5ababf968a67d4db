/**
 * The refs under `refs/` as git's refs_for_each_ref lists them (the files
 * backend): loose refs and packed-refs merged, a loose ref winning over a
 * packed one, sorted by name, symbolic refs followed (a dangling one is
 * reported and skipped), with the peeled object of each packed tag when
 * packed-refs records it. Used to choose the commits a bitmap covers.
 */

import { join } from '../io/fs.js';
import { compareBytewise, isHex } from '../oid.js';
import type { Fs } from '../io/fs.js';
import type { HashInfo } from '../oid.js';

export interface RefEntry {
  name: string;
  oid: string;
}

/** what reading refs needs of a database */
type RefSource = { fs: Fs; gitdir: string; hash: HashInfo };

const DEC = new TextDecoder('latin1');

async function looseRefs(odb: RefSource, dir: string, prefix: string, out: Map<string, string>): Promise<void> {
  const names = await odb.fs.readdir(dir);
  if (!names) return;
  for (const n of names) {
    const path = join(dir, n);
    const st = await odb.fs.stat(path);
    if (!st) continue;
    if (st.isDirectory) await looseRefs(odb, path, `${prefix}${n}/`, out);
    else if (st.isFile && !n.endsWith('.lock')) {
      const bytes = await odb.fs.tryReadFile(path);
      if (bytes) out.set(`${prefix}${n}`, DEC.decode(bytes).replace(/\r?\n$/, ''));
    }
  }
}

/** Every ref under refs/, sorted by name; `onDangling` hears of symbolic refs that lead nowhere. */
export async function listRefs(odb: RefSource, onDangling?: (name: string) => void): Promise<RefEntry[]> {
  const hexLen = odb.hash.hexLength;
  const raw = new Map<string, string>();
  const packed = await odb.fs.tryReadFile(join(odb.gitdir, 'packed-refs'));
  if (packed) {
    for (const line of DEC.decode(packed).split('\n')) {
      if (!line || line.startsWith('#') || line.startsWith('^')) continue;
      const sp = line.indexOf(' ');
      if (sp === hexLen) raw.set(line.slice(sp + 1).replace(/\r$/, ''), line.slice(0, sp).toLowerCase());
    }
  }
  await looseRefs(odb, join(odb.gitdir, 'refs'), 'refs/', raw);
  const resolve = async (value: string, depth: number): Promise<string | null> => {
    if (value.length === hexLen && isHex(value)) return value.toLowerCase();
    const m = /^ref:\s*(\S+)/.exec(value);
    if (!m || depth > 5) return null;
    const target = m[1];
    let next = raw.get(target);
    if (next === undefined && !target.startsWith('refs/')) {
      const b = await odb.fs.tryReadFile(join(odb.gitdir, target));
      if (b) next = DEC.decode(b).replace(/\r?\n$/, '');
    }
    return next === undefined ? null : resolve(next, depth + 1);
  };
  const out: RefEntry[] = [];
  for (const name of [...raw.keys()].sort(compareBytewise)) {
    const oid = await resolve(raw.get(name)!, 0);
    if (oid) out.push({ name, oid });
    else if (/^ref:/.test(raw.get(name)!)) onDangling?.(name);
  }
  return out;
}
