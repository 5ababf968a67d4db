/**
 * isogitCacheSelfTest(git): does this isomorphic-git still read packed objects the way
 * createIsogitCache relies on? One readObject and one expandOid on an in-memory
 * repository whose only pack index is an empty file, answered by a stub database
 * through the adapter. Run by createIsogitCache when given `git`, and in CI.
 */

import { createIsogitCache, isogitCacheStats, type IsogitLike, type IsogitPackSource } from './cache.js';
import { enoent } from '../util.js';

export interface SelfTestResult {
  ok: boolean;
  /** what moved, in isomorphic-git's terms; '' when ok */
  reason: string;
  /** git.version() */
  version: string;
}

/** A tiny in-memory promise fs client: the files given, reads recorded. */
function probeFs(files: Map<string, Uint8Array>, reads: string[]) {
  const dirOf = (p: string) => p.slice(0, p.lastIndexOf('/')) || '/';
  const isDir = (p: string) => [...files.keys()].some((f) => f.startsWith(p.endsWith('/') ? p : p + '/'));
  const stat = async (p: string) => {
    if (files.has(p)) {
      const size = files.get(p)!.length;
      return { type: 'file', mode: 0o100644, size, ino: 1, mtimeMs: 0, ctimeMs: 0, uid: 0, gid: 0, dev: 0, isFile: () => true, isDirectory: () => false, isSymbolicLink: () => false };
    }
    if (isDir(p)) return { type: 'dir', mode: 0o040000, size: 0, ino: 1, mtimeMs: 0, ctimeMs: 0, uid: 0, gid: 0, dev: 0, isFile: () => false, isDirectory: () => true, isSymbolicLink: () => false };
    throw enoent(p);
  };
  return {
    async readFile(p: string, opts?: unknown) {
      if (p === undefined) throw new TypeError('path required');
      reads.push(p);
      const data = files.get(p);
      if (!data) throw enoent(p);
      const enc = typeof opts === 'string' ? opts : (opts as { encoding?: string } | undefined)?.encoding;
      return enc ? new TextDecoder().decode(data) : data;
    },
    async writeFile(p: string, data: Uint8Array | string) {
      files.set(p, typeof data === 'string' ? new TextEncoder().encode(data) : data);
    },
    async readdir(p: string) {
      const prefix = p.endsWith('/') ? p : p + '/';
      const names = new Set<string>();
      for (const f of files.keys()) if (f.startsWith(prefix)) names.add(f.slice(prefix.length).split('/')[0]);
      if (!names.size) throw enoent(p);
      return [...names];
    },
    stat,
    lstat: stat,
    async mkdir() {},
    async rmdir() {},
    async unlink(p: string) {
      files.delete(p);
    },
    async readlink(p: string): Promise<string> {
      throw enoent(p);
    },
    async symlink() {},
    dirOf,
  };
}

/**
 * Checks that isomorphic-git still reads packed objects the way the adapter relies
 * on: a readObject and an expandOid on an in-memory repository whose only pack index
 * is an empty file, answered by a stub database. Resolves `{ ok, reason, version }`;
 * `reason` says which internal moved. Never throws.
 */
export async function isogitCacheSelfTest(git: IsogitLike): Promise<SelfTestResult> {
  let version = '?';
  try {
    version = String(git.version());
  } catch {
    // reported below if anything else fails
  }
  const fail = (reason: string): SelfTestResult => ({ ok: false, reason, version });
  const gitdir = '/probe';
  const name = 'pack-' + '5e1f'.repeat(10) + '.idx';
  const oid = 'c0ffee' + '0'.repeat(34);
  const content = new TextEncoder().encode('midx-odb self-test\n');
  const files = new Map<string, Uint8Array>([
    [`${gitdir}/objects/pack/${name}`, new Uint8Array(0)],
    [`${gitdir}/objects/pack/${name.replace(/\.idx$/, '.pack')}`, new Uint8Array(0)],
    [`${gitdir}/HEAD`, new TextEncoder().encode('ref: refs/heads/main\n')],
    [`${gitdir}/config`, new TextEncoder().encode('[core]\n\tbare = true\n')],
  ]);
  const reads: string[] = [];
  const fs = probeFs(files, reads);
  const calls = { loaded: 0, packOf: 0, read: 0 };
  const warnings: string[] = [];
  const stub: IsogitPackSource = {
    gitdir,
    warn: (w) => warnings.push(w.reason),
    refresh: async () => false,
    loadPackIndexes: async () => {
      calls.loaded++;
    },
    findLoaded: (o) => {
      calls.packOf++;
      return o === oid ? name : null;
    },
    packListing: files,
    packState: (n) => (n === name ? 'served' : 'unknown'),
    oidsOfPack: (n) => (n === name ? [oid] : []),
    read: async (o) => {
      calls.read++;
      if (o !== oid) throw new Error(`stub asked for ${o}`);
      return { type: 'blob', data: content.slice() };
    },
  };
  const cache = createIsogitCache(stub);
  let result: Record<string, unknown>;
  try {
    result = (await git.readObject({ fs, gitdir, oid, cache, format: 'content' })) as Record<string, unknown>;
  } catch (err) {
    const stats = isogitCacheStats(cache)!;
    if (!stats.symbolRequests) return fail(`readObject threw (${(err as Error).message}) without asking the cache for Symbol(PackfileCache): the pack index cache moved`);
    if (!stats.hasCalls) return fail(`readObject threw (${(err as Error).message}) before calling packIndex.offsets.has`);
    return fail(`readObject threw: ${(err as Error).message}`);
  }
  const stats = isogitCacheStats(cache)!;
  const packRead = reads.filter((p) => /\.(idx|pack)$/.test(p));
  if (!stats.symbolRequests) return fail("readObject never asked the cache for Symbol('PackfileCache'): the pack index cache moved or was renamed");
  if (packRead.length) return fail(`isomorphic-git read ${packRead.join(', ')} itself: the stand-in index was not used`);
  if (!stats.hasCalls) return fail('packIndex.offsets.has(oid) was never called');
  if (!calls.read) return fail('packIndex.read({ oid }) was never called');
  if (warnings.length) return fail(warnings[0]);
  const source = `objects/pack/${name.replace(/\.idx$/, '.pack')}`;
  const got = result?.object as Uint8Array | undefined;
  const same = got instanceof Uint8Array && got.length === content.length && got.every((b, i) => b === content[i]);
  if (!same) return fail('readObject did not return the bytes packIndex.read() gave');
  if (result.type !== 'blob' || result.format !== 'content') return fail(`readObject returned type ${String(result.type)}, format ${String(result.format)} (expected blob, content)`);
  if (result.source !== source) return fail(`readObject reported source ${String(result.source)}, expected ${source}`);
  if (result.oid !== oid) return fail(`readObject reported oid ${String(result.oid)}`);
  if (git.expandOid) {
    try {
      const full = await git.expandOid({ fs, gitdir, oid: oid.slice(0, 8), cache });
      if (full !== oid) return fail(`expandOid gave ${full}: packIndex.offsets.keys() was not used`);
    } catch (err) {
      return fail(`expandOid threw: ${(err as Error).message} (packIndex.offsets.keys() not used?)`);
    }
  }
  if (warnings.length) return fail(warnings[0]);
  return { ok: true, reason: '', version };
}
