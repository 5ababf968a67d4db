/**
 * Issue 9: memory stays bounded by what an object declares, not by what its
 * bytes would inflate to. Each read runs in a child process whose peak
 * resident set (VmHWM) is its own; git 2.55's `cat-file` reads the same bytes
 * for comparison (its peak from GNU time, when present).
 *
 * - zlib bombs: a loose object and a pack entry whose headers say 10 bytes and
 *   whose zlib streams inflate to 512 MiB. Inflation stops one byte past the
 *   declared size (node's zlib and pako alike): a CorruptError, not 512 MiB.
 *   (git's cat-file streams the declared 10 bytes of the blob and stops.)
 * - sizes no zlib stream can reach (more than 1,032 bytes per compressed byte)
 *   are refused before anything is allocated.
 * - a delta chain of 300 deltas of 1 MiB each (inflated; a few KiB compressed):
 *   at most ~16 MiB of inflated deltas are held while the chain is walked; the
 *   others are inflated again, one at a time, as they are applied.
 */

import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import { beforeAll, describe, expect, it } from 'vitest';
import { CorruptError, openOdb } from '../src/index.js';
import { git255, git255Bin } from './git255.js';
import { GIT_ENV, tmpdir } from './helpers.js';
import { buildPack, delta } from './packbuilder.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** the build the children load (MIDX_ODB_DIST: another build, to measure it the same way) */
const DIST = process.env.MIDX_ODB_DIST ?? path.join(ROOT, 'dist');
const MiB = 1024 * 1024;

interface ChildResult {
  ok: boolean;
  sha?: string;
  code?: string;
  message?: string;
  peak: number;
}

/** Reads `oid` in a fresh node process; its outcome and its peak resident set. */
function readInChild(gitdir: string, oid: string, codec: 'auto' | 'pako'): ChildResult {
  const script = `
    import fs from 'node:fs';
    import crypto from 'node:crypto';
    const { openOdb } = await import(${JSON.stringify(path.join(DIST, 'index.js'))});
    const odb = await openOdb({ fs, gitdir: ${JSON.stringify(gitdir)}, zlib: ${JSON.stringify(codec)} });
    let out;
    try {
      const o = await odb.read(${JSON.stringify(oid)});
      out = { ok: true, sha: crypto.createHash('sha1').update(o.type + ' ' + o.data.length + '\\0').update(o.data).digest('hex') };
    } catch (e) {
      out = { ok: false, code: e.code, message: e.message };
    }
    // VmHWM: the peak resident set of this process image
    out.peak = Number(/VmHWM:\\s*(\\d+) kB/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
    console.log(JSON.stringify(out));
  `;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`child failed (${r.status}): ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!);
}

/** git 2.55 `cat-file -p <oid>`: its exit status and peak resident set (null without GNU time). */
function gitCatFile(gitdir: string, oid: string): { status: number | null; peak: number | null } {
  const hasTime = fs.existsSync('/usr/bin/time');
  const args = ['--git-dir', gitdir, 'cat-file', '-p', oid];
  const r = hasTime
    ? spawnSync('/usr/bin/time', ['-f', '%M', git255Bin(), ...args], { env: GIT_ENV, maxBuffer: 1 << 30 })
    : spawnSync(git255Bin(), args, { env: GIT_ENV, maxBuffer: 1 << 30 });
  const last = hasTime ? r.stderr.toString().trim().split('\n').pop()! : '';
  return { status: r.status, peak: /^\d+$/.test(last) ? Number(last) * 1024 : null };
}

const mib = (n: number | null) => (n === null ? '?' : `${Math.round(n / MiB)} MiB`);

/** A zlib stream of `header` followed by `zeros` zero bytes, deflated in 1 MiB steps (never held whole). */
async function zlibBomb(header: Buffer, zeros: number): Promise<Buffer> {
  const d = zlib.createDeflate({ level: 9 });
  const out: Buffer[] = [];
  d.on('data', (c: Buffer) => out.push(c));
  const done = new Promise((resolve, reject) => {
    d.on('end', resolve);
    d.on('error', reject);
  });
  const zero = Buffer.alloc(MiB);
  d.write(header);
  for (let i = 0; i < zeros / MiB; i++) d.write(zero);
  d.end();
  await done;
  return Buffer.concat(out);
}

function sha1Object(type: string, data: Buffer): string {
  return crypto.createHash('sha1').update(`${type} ${data.length}\0`).update(data).digest('hex');
}

describe.runIf(process.platform === 'linux')('memory bounds (peak resident set of a child process)', () => {
  const BOMB = 512 * MiB;
  const BOMB_BOUND = 150 * MiB;
  let looseRepo: string;
  let packRepo: string;
  /** what the bombs' headers declare: 10 zero bytes */
  const bombId = sha1Object('blob', Buffer.alloc(10));

  beforeAll(async () => {
    looseRepo = path.join(tmpdir(), 'loose-bomb.git');
    git255(['init', '-q', '--bare', looseRepo]);
    const loose = await zlibBomb(Buffer.from('blob 10\0'), BOMB);
    fs.mkdirSync(path.join(looseRepo, 'objects', bombId.slice(0, 2)));
    fs.writeFileSync(path.join(looseRepo, 'objects', bombId.slice(0, 2), bombId.slice(2)), loose);

    packRepo = path.join(tmpdir(), 'pack-bomb.git');
    git255(['init', '-q', '--bare', packRepo]);
    const built = buildPack([{ type: 3, data: Buffer.alloc(10), compressed: await zlibBomb(Buffer.alloc(0), BOMB) }]);
    fs.writeFileSync(path.join(packRepo, 'objects', 'pack', 'pack-bomb.pack'), built.pack);
    fs.writeFileSync(path.join(packRepo, 'objects', 'pack', 'pack-bomb.idx'), built.idx);
    expect(built.oids[0].toString('hex')).toBe(bombId);
  });

  for (const codec of ['auto', 'pako'] as const) {
    it(`zlib bombs (10 bytes declared, 512 MiB inflated) are CorruptErrors costing far less than 512 MiB (${codec === 'auto' ? "node's zlib" : 'pako'})`, () => {
      const results = [looseRepo, packRepo].map((gitdir) => readInChild(gitdir, bombId, codec));
      ['loose object', 'pack entry'].forEach((what, i) => {
        const git = gitCatFile([looseRepo, packRepo][i], bombId);
        // (git's cat-file streams a loose blob to its output: it stops at the declared size and looks no further)
        console.log(`zlib bomb, ${what}, ${codec}: peak ${mib(results[i].peak)} (${results[i].ok ? 'read' : results[i].code}); git 2.55 cat-file: peak ${mib(git.peak)} (exit ${git.status})`);
      });
      for (const ours of results) {
        expect(ours.ok).toBe(false);
        expect(ours.code).toBe('ECORRUPT');
        expect(ours.peak).toBeLessThan(BOMB_BOUND);
      }
    }, 60_000);
  }

  it('a chain of 300 deltas of 1 MiB each is read with a bounded resident set, as git reads it', () => {
    const gitdir = path.join(tmpdir(), 'chain.git');
    git255(['init', '-q', '--bare', gitdir]);
    const LEVELS = 300;
    const object = (k: number) => {
      const b = Buffer.alloc(MiB, k % 251);
      b.write(`object ${k}\n`);
      return b;
    };
    /** a delta that inserts all of `result` (127 bytes an instruction): 1 MiB inflated, a few KiB deflated */
    const insertAll = (result: Buffer) => {
      const ops = Buffer.alloc(Math.ceil(result.length / 127) * 128);
      let o = 0;
      for (let i = 0; i < result.length; i += 127) {
        const n = Math.min(127, result.length - i);
        ops[o++] = n;
        result.copy(ops, o, i, i + n);
        o += n;
      }
      return delta(MiB, result.length, ops.subarray(0, o));
    };
    const entries = [];
    const base = object(0);
    entries.push({ type: 3, data: Buffer.alloc(0), claimSize: base.length, compressed: zlib.deflateSync(base), oid: Buffer.from(sha1Object('blob', base), 'hex') });
    let top = '';
    for (let k = 1; k <= LEVELS; k++) {
      const result = object(k);
      const d = insertAll(result);
      top = sha1Object('blob', result);
      entries.push({ type: 6, base: k - 1, data: Buffer.alloc(0), claimSize: d.length, compressed: zlib.deflateSync(d), oid: Buffer.from(top, 'hex') });
    }
    const built = buildPack(entries);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-chain.pack'), built.pack);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-chain.idx'), built.idx);

    const git = gitCatFile(gitdir, top);
    expect(git.status).toBe(0);
    const results = (['auto', 'pako'] as const).map((codec) => {
      const ours = readInChild(gitdir, top, codec);
      console.log(`300 x 1 MiB delta chain (${codec}): peak ${mib(ours.peak)}; git 2.55 cat-file: peak ${mib(git.peak)}; pack ${mib(built.pack.length)}`);
      return ours;
    });
    for (const ours of results) {
      expect(ours.ok, ours.message).toBe(true);
      expect(ours.sha).toBe(top);
      expect(ours.peak).toBeLessThan(260 * MiB);
    }
  }, 120_000);
});

describe('declared sizes beyond what zlib can inflate', () => {
  it('a loose object or pack entry declaring 4 GiB from a few bytes is a CorruptError, refused before inflating', async () => {
    const gitdir = path.join(tmpdir(), 'huge-claims.git');
    git255(['init', '-q', '--bare', gitdir]);
    // a loose object whose header claims 4 GiB
    const looseId = sha1Object('blob', Buffer.from('x'));
    fs.mkdirSync(path.join(gitdir, 'objects', looseId.slice(0, 2)));
    fs.writeFileSync(path.join(gitdir, 'objects', looseId.slice(0, 2), looseId.slice(2)), zlib.deflateSync(Buffer.from('blob 4294967296\0x')));
    // a pack entry whose header claims 4 GiB
    const built = buildPack([{ type: 3, data: Buffer.from('y'), claimSize: 2 ** 32 }]);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-claim.pack'), built.pack);
    fs.writeFileSync(path.join(gitdir, 'objects', 'pack', 'pack-claim.idx'), built.idx);
    for (const codec of ['auto', 'pako'] as const) {
      const odb = await openOdb({ fs, gitdir, zlib: codec });
      for (const oid of [looseId, built.oids[0].toString('hex')]) {
        const err = await odb.read(oid).then(
          () => null,
          (e) => e,
        );
        expect(err).toBeInstanceOf(CorruptError);
        expect(err.reason).toMatch(/more than its \d+ compressed bytes can inflate to/);
      }
      // the header alone is what it declares, as git's cat-file -s says
      expect(await odb.readHeader(looseId)).toEqual({ type: 'blob', size: 2 ** 32 });
      await odb.close();
    }
    expect(git255(['--git-dir', gitdir, 'cat-file', '-s', looseId]).toString().trim()).toBe(String(2 ** 32));
  });
});
