/**
 * Hostile and unlucky files: every kind of file the database reads (a MIDX, the
 * chain file, a chain layer, a pack's .idx, .pack and .rev, a loose object,
 * the config and objects/info files), each damaged or replaced in the ways
 * disks, crashes and people damage files: truncated at several points, empty,
 * a huge sparse file, a directory, a FIFO, a symlink loop, /dev/zero, the other
 * hash's length, garbage after the end, flipped bytes, gone.
 *
 * Each case runs in a child process (test/hostile-child.mjs: open, read every
 * object and re-hash it, exists, listOids, expandOid, stats, verify, an
 * incremental write, close) under a watchdog: at most 600 MiB resident and
 * 15 s. A case is handled when every operation gives the right bytes, or a
 * documented fallback (the right bytes, with a warning), or a typed error
 * (NotFoundError, CorruptError and its NotAFileError, LockError,
 * UnsupportedError): never an untyped error, wrong bytes, a hang or a crash.
 *
 * HOSTILE_DIST=<dir> runs the cases against another build (say main's dist/)
 * to count what it handles; the count is printed at the end.
 */

import { spawn, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { copyRepo, fixtures } from './helpers.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const DIST = process.env.HOSTILE_DIST ?? path.join(HERE, '..', 'dist');
const CHILD = path.join(HERE, 'hostile-child.mjs');
const RSS_LIMIT_KIB = 600 * 1024;
const TIME_LIMIT_MS = 15_000;
const GIB = 1024 * 1024 * 1024;

const chainFixture = fixtures().find((f) => f.name === 'sha1-chain')!;
const singleFixture = fixtures().find((f) => f.name === 'sha1-single')!;
const sha256Fixture = fixtures().find((f) => f.name === 'sha256-chain')!;

const LAYER_DIR = 'objects/pack/multi-pack-index.d';
const TIP_LAYER = `${LAYER_DIR}/multi-pack-index-33c837b1b499ae86a61a8ace228348abc3031025.midx`;
const ROOT_LAYER = `${LAYER_DIR}/multi-pack-index-8408d533f1de72aafeb63d4e4d56a9ef9f2f4a96.midx`;
const CHAIN = `${LAYER_DIR}/multi-pack-index-chain`;
const ROOT_PACK = 'objects/pack/pack-7dafa4bcdd3c208cf35332a73c2a3cab5547a3f0';
const OUTSIDE_PACK = 'objects/pack/pack-05eb0bb4d76bd9f3fd9f69ac65437cd9ae1a537b';
const LOOSE = 'objects/7a/36bc036cae8c6881bc4de8e46c0b8e69737eb3';

/** Deterministic bytes (the same garbage on every run). */
function noise(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, block = 0; i < n; block++) {
    const h = crypto.createHash('sha256').update(`${seed}:${block}`).digest();
    i += h.copy(out, i);
  }
  return out;
}

function replaceWith(file: string, make: () => void): void {
  fs.rmSync(file, { recursive: true, force: true });
  make();
}

function flip(file: string, at: (size: number) => number): void {
  const b = fs.readFileSync(file);
  const i = Math.max(0, Math.min(b.length - 1, at(b.length)));
  b[i] ^= 0xff;
  fs.writeFileSync(file, b);
}

/** The ways a file gets damaged or replaced; `file` is absolute. */
const SHAPES: Record<string, (file: string) => void> = {
  'truncated in the header': (f) => fs.truncateSync(f, Math.min(10, fs.statSync(f).size - 1)),
  'truncated in the middle': (f) => fs.truncateSync(f, Math.floor(fs.statSync(f).size / 2)),
  'truncated by one byte': (f) => fs.truncateSync(f, fs.statSync(f).size - 1),
  'zero-length': (f) => fs.truncateSync(f, 0),
  'huge sparse file (1 GiB, its bytes then a hole)': (f) => fs.truncateSync(f, GIB),
  'a directory': (f) => replaceWith(f, () => fs.mkdirSync(f)),
  'a FIFO': (f) => replaceWith(f, () => expect(spawnSync('mkfifo', [f]).status).toBe(0)),
  'a symlink loop': (f) => replaceWith(f, () => fs.symlinkSync(path.basename(f), f)),
  '/dev/zero': (f) => replaceWith(f, () => fs.symlinkSync('/dev/zero', f)),
  'garbage after the end': (f) => fs.appendFileSync(f, noise(4096, f)),
  'a byte flipped at the start': (f) => flip(f, () => 5),
  'a byte flipped in the middle': (f) => flip(f, (n) => n >> 1),
  'a byte flipped near the end': (f) => flip(f, (n) => n - 3),
  missing: (f) => fs.rmSync(f, { force: true }),
};

interface Case {
  kind: string;
  name: string;
  fixture: typeof chainFixture;
  damage(gitdir: string): void;
}

const cases: Case[] = [];
function shapes(kind: string, fixture: typeof chainFixture, rel: string, skip: string[] = []): void {
  for (const [name, damage] of Object.entries(SHAPES)) {
    if (skip.includes(name)) continue;
    cases.push({ kind, name, fixture, damage: (g) => damage(path.join(g, rel)) });
  }
}
function extra(kind: string, name: string, fixture: typeof chainFixture, damage: (gitdir: string) => void): void {
  cases.push({ kind, name, fixture, damage });
}

/** A sha256 repository's file of the same kind, in place of a sha1 one. */
function otherHash(from: string, to: string) {
  return (g: string) => {
    const src = path.join(sha256Fixture.gitdir, from);
    fs.copyFileSync(src, path.join(g, to));
  };
}
function sha256File(dir: string, ext: string): string {
  const abs = path.join(sha256Fixture.gitdir, dir);
  return path.join(dir, fs.readdirSync(abs).filter((n) => n.endsWith(ext)).sort()[0]);
}

// the non-incremental MIDX
shapes('MIDX', singleFixture, 'objects/pack/multi-pack-index');
extra('MIDX', 'the other hash length (a sha256 layer)', singleFixture, otherHash(sha256File(LAYER_DIR, '.midx'), 'objects/pack/multi-pack-index'));
extra('MIDX', 'a pack it names is gone', singleFixture, (g) => {
  for (const ext of ['.idx', '.pack', '.rev']) fs.rmSync(path.join(g, 'objects/pack/pack-0d2caf0117b3508b8ed46f58075fbeb71ccc6602' + ext));
});
extra('MIDX', 'the .pack it names is gone (the .idx stays)', singleFixture, (g) => fs.rmSync(path.join(g, 'objects/pack/pack-0d2caf0117b3508b8ed46f58075fbeb71ccc6602.pack')));

// the chain file
shapes('chain file', chainFixture, CHAIN);
extra('chain file', 'the other hash length (64-digit lines)', chainFixture, (g) => fs.writeFileSync(path.join(g, CHAIN), 'ab'.repeat(32) + '\n'));
extra('chain file', 'its lines repeated 10,000 times', chainFixture, (g) => {
  const f = path.join(g, CHAIN);
  fs.writeFileSync(f, fs.readFileSync(f, 'utf8').repeat(10_000));
});
extra('chain file', 'one line repeated 10,000 times', chainFixture, (g) => {
  const f = path.join(g, CHAIN);
  fs.writeFileSync(f, (fs.readFileSync(f, 'utf8').split('\n')[0] + '\n').repeat(10_000));
});
extra('chain file', 'a NUL byte in a line', chainFixture, (g) => {
  const f = path.join(g, CHAIN);
  const b = fs.readFileSync(f);
  b[45] = 0;
  fs.writeFileSync(f, b);
});

// a chain layer
shapes('chain layer', chainFixture, TIP_LAYER);
extra('chain layer', 'the root layer is gone', chainFixture, (g) => fs.rmSync(path.join(g, ROOT_LAYER)));
extra('chain layer', 'the root layer is a FIFO', chainFixture, (g) => SHAPES['a FIFO'](path.join(g, ROOT_LAYER)));
extra('chain layer', 'the other hash length (a sha256 layer)', chainFixture, otherHash(sha256File(LAYER_DIR, '.midx'), TIP_LAYER));
extra('chain layer', 'a pack it names is gone', chainFixture, (g) => {
  for (const ext of ['.idx', '.pack', '.rev']) fs.rmSync(path.join(g, ROOT_PACK + ext));
});

// a pack index: one named by a layer, and the unindexed pack's
shapes('.idx', chainFixture, ROOT_PACK + '.idx');
extra('.idx', 'the other hash length (a sha256 .idx)', chainFixture, otherHash(sha256File('objects/pack', '.idx'), ROOT_PACK + '.idx'));
for (const name of ['huge sparse file (1 GiB, its bytes then a hole)', 'a FIFO', 'a directory', 'a symlink loop', '/dev/zero', 'truncated in the middle', 'garbage after the end']) {
  extra('.idx', `unindexed pack's .idx: ${name}`, chainFixture, (g) => SHAPES[name](path.join(g, OUTSIDE_PACK + '.idx')));
}

// a pack
shapes('.pack', chainFixture, ROOT_PACK + '.pack');
extra('.pack', "unindexed pack's .pack: a FIFO", chainFixture, (g) => SHAPES['a FIFO'](path.join(g, OUTSIDE_PACK + '.pack')));
extra('.pack', "unindexed pack's .pack: huge sparse file", chainFixture, (g) => SHAPES['huge sparse file (1 GiB, its bytes then a hole)'](path.join(g, OUTSIDE_PACK + '.pack')));

// a pack's reverse index
shapes('.rev', chainFixture, ROOT_PACK + '.rev', ['missing']);

// a loose object
shapes('loose object', chainFixture, LOOSE);
extra('loose object', 'a file with the other hash length in a fan-out directory', chainFixture, (g) =>
  fs.writeFileSync(path.join(g, 'objects/7a', 'ab'.repeat(31)), fs.readFileSync(path.join(g, LOOSE))),
);
extra('loose object', 'its fan-out directory is a FIFO', chainFixture, (g) => {
  fs.rmSync(path.join(g, 'objects/7a'), { recursive: true });
  expect(spawnSync('mkfifo', [path.join(g, 'objects/7a')]).status).toBe(0);
});

// config and objects/info
for (const name of ['zero-length', 'huge sparse file (1 GiB, its bytes then a hole)', 'a directory', 'a FIFO', 'a symlink loop', '/dev/zero', 'garbage after the end', 'truncated in the middle']) {
  extra('config and objects/info', `config: ${name}`, chainFixture, (g) => SHAPES[name](path.join(g, 'config')));
}
extra('config and objects/info', 'config: an unknown object format', chainFixture, (g) => fs.appendFileSync(path.join(g, 'config'), '[extensions]\n\tobjectFormat = sha512\n'));
const ALTERNATES = 'objects/info/alternates';
for (const name of ['huge sparse file (1 GiB, its bytes then a hole)', 'a directory', 'a FIFO', 'a symlink loop', '/dev/zero', 'garbage after the end']) {
  extra('config and objects/info', `alternates: ${name}`, chainFixture, (g) => {
    fs.writeFileSync(path.join(g, ALTERNATES), '../../elsewhere/objects\n');
    SHAPES[name](path.join(g, ALTERNATES));
  });
}
extra('config and objects/info', 'alternates: a line with a NUL byte', chainFixture, (g) => fs.writeFileSync(path.join(g, ALTERNATES), '/tmp/a\0b\n'));
extra('config and objects/info', 'alternates: a line longer than any path', chainFixture, (g) => fs.writeFileSync(path.join(g, ALTERNATES), '/' + 'x'.repeat(100_000) + '\n'));
extra('config and objects/info', 'alternates: a name longer than a file name may be', chainFixture, (g) => fs.writeFileSync(path.join(g, ALTERNATES), '/tmp/' + 'x'.repeat(300) + '\n'));
extra('config and objects/info', 'alternates: a symlink loop as a directory', chainFixture, (g) => {
  fs.symlinkSync('loop', path.join(g, 'loop'));
  fs.writeFileSync(path.join(g, ALTERNATES), `${path.join(g, 'loop')}\n`);
});
extra('config and objects/info', 'alternates: itself, and a cycle through another', chainFixture, (g) => {
  const other = path.join(path.dirname(g), 'other.git', 'objects');
  fs.mkdirSync(path.join(other, 'info'), { recursive: true });
  fs.writeFileSync(path.join(other, 'info', 'alternates'), `${path.join(g, 'objects')}\n`);
  fs.writeFileSync(path.join(g, ALTERNATES), `${path.join(g, 'objects')}\n${other}\n`);
});
extra('config and objects/info', 'alternates: nested 20 deep', chainFixture, (g) => {
  let dir = path.join(g, 'objects');
  for (let i = 0; i < 20; i++) {
    const next = path.join(path.dirname(g), `alt${i}`, 'objects');
    fs.mkdirSync(path.join(next, 'info'), { recursive: true });
    fs.mkdirSync(path.join(dir, 'info'), { recursive: true });
    fs.writeFileSync(path.join(dir, 'info', 'alternates'), `${next}\n`);
    dir = next;
  }
});
extra('config and objects/info', 'alternates: 10,000 lines naming one directory', chainFixture, (g) => {
  const other = path.join(path.dirname(g), 'other.git', 'objects');
  fs.mkdirSync(other, { recursive: true });
  fs.writeFileSync(path.join(g, ALTERNATES), `${other}\n`.repeat(10_000));
});
extra('config and objects/info', 'objects/info/packs: a FIFO', chainFixture, (g) => SHAPES['a FIFO'](path.join(g, 'objects/info/packs')));
extra('config and objects/info', 'objects/pack is a FIFO', chainFixture, (g) => {
  fs.rmSync(path.join(g, 'objects/pack'), { recursive: true });
  expect(spawnSync('mkfifo', [path.join(g, 'objects/pack')]).status).toBe(0);
});

interface Outcome {
  handled: boolean;
  why: string;
}

function expectedObjects(f: typeof chainFixture): string {
  return fs.readFileSync(path.join(f.dir, 'expect', 'objects.txt'), 'utf8');
}

/** Peak resident set of a running process, KiB (0 once it is gone). */
function rssKiB(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function runCase(c: Case): Promise<Outcome> {
  const gitdir = copyRepo(c.fixture);
  const top = path.dirname(gitdir);
  try {
    c.damage(gitdir);
  } catch (err) {
    fs.rmSync(top, { recursive: true, force: true });
    throw err;
  }
  const arg = JSON.stringify({ dist: DIST, gitdir, objects: expectedObjects(c.fixture), write: true });
  return new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, [CHILD, arg], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let killed = '';
    let peak = 0;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d).length > 4000 && (stderr = stderr.slice(-4000)));
    const watch = setInterval(() => {
      peak = Math.max(peak, rssKiB(child.pid!));
      if (peak > RSS_LIMIT_KIB && !killed) {
        killed = `over ${RSS_LIMIT_KIB >> 10} MiB resident`;
        child.kill('SIGKILL');
      }
    }, 20);
    const timer = setTimeout(() => {
      killed = `still running after ${TIME_LIMIT_MS / 1000} s`;
      child.kill('SIGKILL');
    }, TIME_LIMIT_MS);
    child.on('close', (code, signal) => {
      clearInterval(watch);
      clearTimeout(timer);
      fs.rmSync(top, { recursive: true, force: true });
      if (killed) return resolve({ handled: false, why: killed });
      if (code !== 0) return resolve({ handled: false, why: `crashed (${signal ?? code}): ${stderr.trim().split('\n').slice(-3).join(' | ')}` });
      let out;
      try {
        out = JSON.parse(stdout);
      } catch {
        return resolve({ handled: false, why: `no report: ${stdout.slice(0, 200)}` });
      }
      const peakKiB = Math.max(peak, out.maxRssKiB);
      if (peakKiB > RSS_LIMIT_KIB) return resolve({ handled: false, why: `peak ${peakKiB >> 10} MiB resident` });
      const bad: string[] = [];
      for (const [op, r] of Object.entries(out.ops)) {
        const results = typeof r === 'string' ? { [r]: 1 } : (r as Record<string, number>);
        for (const [k, n] of Object.entries(results)) if (k.startsWith('untyped') || k.startsWith('wrong')) bad.push(`${op}: ${k} (x${n})`);
      }
      resolve(bad.length ? { handled: false, why: bad.join('; ') } : { handled: true, why: JSON.stringify(out.ops) });
    });
  });
}

async function pool<T, R>(items: T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: n }, async () => {
      while (next < items.length) {
        const i = next++;
        out[i] = await fn(items[i]);
      }
    }),
  );
  return out;
}

const tally = { handled: 0, total: 0, failures: [] as string[] };

afterAll(() => {
  console.log(`hostile cases handled: ${tally.handled}/${tally.total} (${DIST})`);
  for (const f of tally.failures) console.log(`  not handled: ${f}`);
});

describe('hostile and unlucky files', () => {
  const kinds = [...new Set(cases.map((c) => c.kind))];
  for (const kind of kinds) {
    it(`${kind}: every case is a correct read, a fallback with a warning, or a typed error, within 600 MiB and 15 s`, async () => {
      const mine = cases.filter((c) => c.kind === kind);
      const outcomes = await pool(mine, 2, runCase);
      const failures: string[] = [];
      mine.forEach((c, i) => {
        tally.total++;
        if (outcomes[i].handled) tally.handled++;
        else failures.push(`${c.kind} / ${c.name}: ${outcomes[i].why}`);
      });
      tally.failures.push(...failures);
      expect(failures).toEqual([]);
    }, 300_000);
  }
});
