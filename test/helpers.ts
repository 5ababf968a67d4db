/** Shared test helpers: the git-2.55 fixtures, temporary copies, the system git, and fs clients of every kind. */

import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'git');

export interface Fixture {
  name: string;
  dir: string;
  gitdir: string;
  algorithm: 'sha1' | 'sha256';
}

export function fixtures(): Fixture[] {
  return fs
    .readdirSync(FIXTURES)
    .filter((n) => fs.existsSync(path.join(FIXTURES, n, 'repo.git')))
    .sort()
    .map((name) => ({
      name,
      dir: path.join(FIXTURES, name),
      gitdir: path.join(FIXTURES, name, 'repo.git'),
      algorithm: name.startsWith('sha256') ? 'sha256' : 'sha1',
    }));
}

export interface ExpectedObject {
  oid: string;
  type: string;
  size: number;
}

export function expectedObjects(f: Fixture): ExpectedObject[] {
  const file = path.join(f.dir, 'expect', 'objects.txt');
  if (!fs.existsSync(file)) return [];
  return fs
    .readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => {
      const [oid, type, size] = l.split(' ');
      return { oid, type, size: Number(size) };
    });
}

export function gitHash(algorithm: string, type: string, data: Uint8Array): string {
  return crypto.createHash(algorithm).update(`${type} ${data.length}\0`).update(data).digest('hex');
}

const made: string[] = [];
let cleanupArmed = false;

/**
 * A fresh temporary directory. Every directory made here is removed when the
 * test worker exits (set MIDX_ODB_KEEP_TMP=1 to keep them for a post-mortem).
 */
export function tmpdir(prefix = 'midx-odb-'): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  made.push(d);
  if (!cleanupArmed) {
    cleanupArmed = true;
    process.once('exit', () => {
      if (process.env.MIDX_ODB_KEEP_TMP) return;
      for (const dir of made) fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
    });
  }
  return d;
}

/** The lines of a gitdir's incremental chain file (multi-pack-index-chain), [] when there is none. */
export function chainLines(gitdir: string): string[] {
  const f = path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/**
 * Copies a fixture's repo.git (or any gitdir) into a temporary directory: writable
 * copies of every file; with `preserveTimestamps`, mtimes kept (git orders packs by them).
 */
export function copyRepo(f: Fixture | string, options: { preserveTimestamps?: boolean } = {}): string {
  const dest = path.join(tmpdir(), 'repo.git');
  fs.cpSync(typeof f === 'string' ? f : f.gitdir, dest, { recursive: true, preserveTimestamps: !!options.preserveTimestamps });
  for (const file of walk(dest)) fs.chmodSync(file, 0o644);
  return dest;
}

export function walk(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p));
    else out.push(p);
  }
  return out;
}

export const GIT_ENV: Record<string, string | undefined> = {
  ...process.env,
  GIT_AUTHOR_NAME: 'A U Thor',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'C O Mitter',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000',
  GIT_COMMITTER_DATE: '1700000000 +0000',
  GIT_CONFIG_NOSYSTEM: '1',
  HOME: os.tmpdir(),
};

/** Runs the system git; returns stdout as a Buffer. Throws with stderr on failure. */
export function git(args: string[], opts: { cwd?: string; input?: string | Buffer; env?: Record<string, string> } = {}): Buffer {
  return execFileSync('git', args, { cwd: opts.cwd, input: opts.input, env: { ...GIT_ENV, ...opts.env }, maxBuffer: 1 << 30, stdio: ['pipe', 'pipe', 'pipe'] });
}

export function gitRun(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) {
  const r = spawnSync('git', args, { cwd: opts.cwd, input: opts.input, env: GIT_ENV, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** Parses `git cat-file --batch` output into a map oid → {type, data}. */
export function parseBatch(out: Buffer): Map<string, { type: string; data: Buffer }> {
  const map = new Map<string, { type: string; data: Buffer }>();
  let p = 0;
  while (p < out.length) {
    const nl = out.indexOf(10, p);
    const [oid, type, size] = out.subarray(p, nl).toString().split(' ');
    const n = Number(size);
    map.set(oid, { type, data: out.subarray(nl + 1, nl + 1 + n) });
    p = nl + 1 + n + 1;
  }
  return map;
}

/** A LightningFS-like client: promise readFile/readdir/stat/writeFile... only, no open(), no sync calls. */
export function readFileOnlyFs() {
  const p = fs.promises;
  return {
    readFile: (f: string) => p.readFile(f),
    writeFile: (f: string, d: Uint8Array | string) => p.writeFile(f, d),
    readdir: (d: string) => p.readdir(d),
    stat: (f: string) => p.stat(f),
    lstat: (f: string) => p.lstat(f),
    mkdir: (d: string) => p.mkdir(d),
    rmdir: (d: string) => p.rmdir(d),
    unlink: (f: string) => p.unlink(f),
    rename: (a: string, b: string) => p.rename(a, b),
    readlink: (f: string) => p.readlink(f),
    symlink: (a: string, b: string) => p.symlink(a, b),
  };
}

/** Counts calls to a client's methods (to prove that no .pack is read whole, say). */
export function countingFs<T extends object>(client: T): { fs: T; calls: Array<{ method: string; path: string }> } {
  const calls: Array<{ method: string; path: string }> = [];
  const wrap = (obj: any): any =>
    new Proxy(obj, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (prop === 'promises' && v && typeof v === 'object') return wrap(v);
        if (typeof v !== 'function') return v;
        return (...args: unknown[]) => {
          calls.push({ method: String(prop), path: String(args[0]) });
          return v.apply(target, args);
        };
      },
      getOwnPropertyDescriptor(target, prop) {
        return Reflect.getOwnPropertyDescriptor(target, prop);
      },
    });
  return { fs: wrap(client), calls };
}

/** Loads a directory tree from disk into a memfs volume at the same path. */
export async function memfsCopy(root: string) {
  const { Volume } = await import('memfs');
  const vol = new Volume();
  for (const file of walk(root)) {
    vol.mkdirSync(path.dirname(file), { recursive: true });
    vol.writeFileSync(file, fs.readFileSync(file));
  }
  return vol;
}

/** A callback-style client (no promises, no sync calls), as older isomorphic-git users pass. */
export function callbackFs() {
  const out: Record<string, unknown> = {};
  for (const name of ['readFile', 'writeFile', 'readdir', 'stat', 'lstat', 'unlink', 'rename', 'mkdir', 'rmdir', 'readlink', 'symlink', 'open', 'read', 'fstat', 'write', 'close', 'chmod', 'link']) {
    out[name] = (fs as any)[name].bind(fs);
  }
  return out;
}

/**
 * isomorphic-git 1.44 cannot read an `.idx` v1 (sha1-single has one): returns
 * `gitdir` itself, or a copy in `parent` where such packs are indexed again by
 * isomorphic-git's own indexPack. Pack names (and so `source`) do not change.
 */
export async function isogitReadableGitdir(gitdir: string, parent: string): Promise<string> {
  const git = (await import('isomorphic-git')).default;
  const packDir = path.join(gitdir, 'objects/pack');
  const v1 = fs
    .readdirSync(packDir)
    .filter((f) => f.endsWith('.idx'))
    .filter((f) => fs.readFileSync(path.join(packDir, f)).readUInt32BE(0) !== 0xff744f63);
  if (v1.length === 0) return gitdir;
  const copy = path.join(parent, 'repo.git');
  fs.cpSync(gitdir, copy, { recursive: true });
  for (const idx of v1) fs.rmSync(path.join(copy, 'objects/pack', idx));
  for (const idx of v1) await git.indexPack({ fs, dir: copy, gitdir: copy, filepath: `objects/pack/${idx.replace(/\.idx$/, '.pack')}` });
  return copy;
}
