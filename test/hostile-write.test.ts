/**
 * The write side under hostile conditions: a lock held by another writer, a
 * lock swapped for a symlink while the writer holds it, a directory it may not
 * write to, a disk that fills up, a pack directory that is missing or is not a
 * directory, temporary files left by a writer that died. In every case the
 * repository's data is never damaged: the MIDX files, chain and packs are byte
 * for byte what they were (or a complete new state), every object still reads,
 * no lock or temporary file is left behind, and the error is typed.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { LockError, MidxOdbError, NotAFileError, openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { copyRepo, fixtures, GIT_ENV, walk } from './helpers.js';
import { spawnSync } from 'node:child_process';
import { git255Bin } from './git255.js';

const fixture = fixtures().find((f) => f.name === 'sha1-chain')!;
const expected = fs.readFileSync(path.join(fixture.dir, 'expect', 'objects.txt'), 'utf8').trim().split('\n');

let gitdir: string;
let packDir: string;
let layerDir: string;
let victim: string;

beforeEach(() => {
  gitdir = copyRepo(fixture);
  packDir = path.join(gitdir, 'objects', 'pack');
  layerDir = path.join(packDir, 'multi-pack-index.d');
  victim = path.join(path.dirname(gitdir), 'victim.txt');
  fs.writeFileSync(victim, 'precious\n');
});

/** Every file under the git directory with its bytes (and the victim's). */
function snapshot(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of walk(gitdir).sort()) out.set(path.relative(gitdir, f), fs.readFileSync(f).toString('base64'));
  out.set('victim', fs.readFileSync(victim, 'utf8'));
  return out;
}

function leftovers(): string[] {
  return walk(packDir).filter((f) => f.endsWith('.lock') || path.basename(f).startsWith('tmp_midx_'));
}

async function readsEverything(): Promise<void> {
  const odb = await openOdb({ fs, gitdir });
  try {
    for (const line of expected) {
      const [oid, type, size] = line.split(' ');
      const h = await odb.readHeader(oid);
      expect(`${h.type} ${h.size}`).toBe(`${type} ${size}`);
    }
  } finally {
    await odb.close();
  }
}

async function write(client: any, incremental = true) {
  const odb = await openOdb({ fs: client, gitdir });
  try {
    return await odb.writeMidx({ incremental });
  } finally {
    await odb.close();
  }
}

/**
 * node's fs with hooks on the ways a file is created or written, sync and
 * promise-based alike (whatever path the database takes): `create` runs
 * before an exclusive create ('wx') and may throw, `created` after it, `write`
 * before any write of bytes and may throw.
 */
function hookedFs(hooks: { create?: (p: string) => void; created?: (p: string) => void; write?: () => void }): typeof fs {
  const isExcl = (flags: unknown) => flags === 'wx' || (typeof flags === 'number' && (flags & fs.constants.O_EXCL) !== 0);
  const wrapHandle = (fh: fs.promises.FileHandle) =>
    new Proxy(fh, {
      get(t, k, r) {
        const v = Reflect.get(t, k, r);
        if ((k === 'write' || k === 'writeFile') && hooks.write) return (...a: unknown[]) => (hooks.write!(), (v as any).apply(t, a));
        return typeof v === 'function' ? v.bind(t) : v;
      },
    });
  const promises = new Proxy(fs.promises, {
    get(t, k, r) {
      if (k === 'open') {
        return async (p: string, flags: any, mode?: any) => {
          if (isExcl(flags)) hooks.create?.(p);
          const fh = await fs.promises.open(p, flags, mode);
          if (isExcl(flags)) hooks.created?.(p);
          return wrapHandle(fh);
        };
      }
      if (k === 'writeFile') return async (...a: any[]) => (hooks.write?.(), fs.promises.writeFile(a[0], a[1], a[2]));
      return Reflect.get(t, k, r);
    },
  });
  return new Proxy(fs, {
    get(t, k, r) {
      if (k === 'promises') return promises;
      if (k === 'openSync') {
        return (p: string, flags: any, mode?: any) => {
          if (isExcl(flags)) hooks.create?.(p);
          const fd = fs.openSync(p, flags, mode);
          if (isExcl(flags)) hooks.created?.(p);
          return fd;
        };
      }
      if (k === 'writeSync' || k === 'writeFileSync') return (...a: any[]) => (hooks.write?.(), (fs as any)[k](...a));
      return Reflect.get(t, k, r);
    },
    getOwnPropertyDescriptor(t, k) {
      const d = Reflect.getOwnPropertyDescriptor(t, k);
      return k === 'promises' && d ? { configurable: true, enumerable: d.enumerable, writable: false, value: promises } : d;
    },
  });
}

/** A client that swaps the lock file `name` for a symlink to the victim right after creating it. */
function swappingFs(name: string): typeof fs {
  return hookedFs({
    created(p) {
      if (path.basename(p) === name) {
        fs.unlinkSync(p);
        fs.symlinkSync(victim, p);
      }
    },
  });
}

describe('hostile writes: the data is never damaged', () => {
  it('a held chain lock: LockError with git 2.55 words, nothing changed', async () => {
    const lock = path.join(layerDir, 'multi-pack-index-chain.lock');
    fs.writeFileSync(lock, '');
    const before = snapshot();
    const err = await write(fs).catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    // git 2.55 on the same repository says the same
    const r = spawnSync(git255Bin(), ['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental'], { env: GIT_ENV });
    expect(r.status).not.toBe(0);
    expect(r.stderr.toString()).toContain(err.message);
    expect(snapshot()).toEqual(before);
    fs.rmSync(lock);
    await readsEverything();
  });

  it('a chain lock swapped for a symlink while held: LockError, never written through, nothing committed', async () => {
    const before = snapshot();
    const err = await write(swappingFs('multi-pack-index-chain.lock')).catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    expect(err.message).toContain('replaced');
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    // the chain file is untouched (the new layer file may exist, unreferenced, as after a crash)
    const after = snapshot();
    for (const [k, v] of before) if (!k.endsWith('.lock')) expect(after.get(k), k).toBe(v);
    // the swapped-in symlink is not ours: it is left alone, not followed
    expect(fs.lstatSync(path.join(layerDir, 'multi-pack-index-chain.lock')).isSymbolicLink()).toBe(true);
    fs.rmSync(path.join(layerDir, 'multi-pack-index-chain.lock'));
    await readsEverything();
  });

  it('a MIDX lock swapped for a symlink while held: LockError, the victim and the MIDX untouched', async () => {
    const before = snapshot();
    const err = await write(swappingFs('multi-pack-index.lock'), false).catch((e) => e);
    expect(err).toBeInstanceOf(LockError);
    expect(fs.readFileSync(victim, 'utf8')).toBe('precious\n');
    expect(fs.existsSync(path.join(packDir, 'multi-pack-index'))).toBe(false);
    fs.rmSync(path.join(packDir, 'multi-pack-index.lock'));
    expect(snapshot()).toEqual(before);
    await readsEverything();
  });

  it('a directory it may not write to: LockError (Permission denied), nothing changed', async () => {
    const denied = hookedFs({
      create(p) {
        throw Object.assign(new Error(`EACCES: permission denied, open '${p}'`), { code: 'EACCES' });
      },
    });
    const before = snapshot();
    for (const incremental of [true, false]) {
      const err = await write(denied, incremental).catch((e) => e);
      expect(err).toBeInstanceOf(LockError);
      expect(err.message).toContain('Permission denied');
    }
    expect(snapshot()).toEqual(before);
    expect(leftovers()).toEqual([]);
    await readsEverything();
  });

  it('a disk that fills up while the lock is written: the error, no lock or temporary file left, the old state intact', async () => {
    const full = hookedFs({
      write() {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' });
      },
    });
    const before = snapshot();
    for (const incremental of [true, false]) {
      const err = await write(full, incremental).catch((e) => e);
      expect(err?.code).toBe('ENOSPC');
    }
    expect(leftovers()).toEqual([]);
    const after = snapshot();
    // an incremental write may leave its finished layer file, unreferenced (git's own crash state)
    for (const [k, v] of before) expect(after.get(k), k).toBe(v);
    for (const k of after.keys()) if (!before.has(k)) expect(k).toMatch(/multi-pack-index\.d\/multi-pack-index-[0-9a-f]{40}\.midx$/);
    await readsEverything();
  });

  it('a missing pack directory: nothing to write, as git 2.55 (no error for --incremental)', async () => {
    fs.rmSync(packDir, { recursive: true });
    expect(await write(fs)).toBe(null);
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    await readsEverything().catch((e) => expect(e).toBeInstanceOf(MidxOdbError));
  });

  it('a pack directory that is a file or a FIFO: a typed error, nothing created', async () => {
    fs.rmSync(packDir, { recursive: true });
    fs.writeFileSync(packDir, 'not a directory');
    const err = await write(fs).catch((e) => e);
    expect(err).toBeInstanceOf(NotAFileError);
    fs.rmSync(packDir);
    expect(spawnSync('mkfifo', [packDir]).status).toBe(0);
    const err2 = await write(fs).catch((e) => e);
    expect(err2).toBeInstanceOf(NotAFileError);
    expect(fs.statSync(packDir).isFIFO()).toBe(true);
  });

  it('temporary files left by a writer that died are cleared by the next write once an hour old', async () => {
    const old = path.join(layerDir, 'tmp_midx_OLDone');
    const oldInPackDir = path.join(packDir, 'tmp_midx_OLDtwo');
    const fresh = path.join(layerDir, 'tmp_midx_NEWone');
    for (const f of [old, oldInPackDir, fresh]) fs.writeFileSync(f, 'half a layer');
    const twoHoursAgo = (Date.now() - 2 * 3600 * 1000) / 1000;
    fs.utimesSync(old, twoHoursAgo, twoHoursAgo);
    fs.utimesSync(oldInPackDir, twoHoursAgo, twoHoursAgo);
    expect(await write(fs)).toMatch(/^[0-9a-f]{40}$/);
    expect(fs.existsSync(old)).toBe(false);
    expect(fs.existsSync(oldInPackDir)).toBe(false);
    // a writer may be working on this one right now
    expect(fs.existsSync(fresh)).toBe(true);
    await readsEverything();
  });
});
