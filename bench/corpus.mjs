#!/usr/bin/env node
// Deterministic benchmark corpora: bare git repositories built with the system git.
//
//   node bench/corpus.mjs <kind> [dir] [--force] [--param=value ...]
//   kinds: many-packs | large | bigpack      (default dir: bench/corpus/<kind>)
//
// Every corpus is a bare repo plus three extra files in its root:
//   CORPUS       marker (written first; lets a rebuild delete an unfinished dir)
//   objects.txt  "<oid> <type> <size>" for every object (cat-file --batch-all-objects)
//   DONE         JSON {version, kind, params, stats}; present => build is complete
// No multi-pack-index is written; benchmarks add their own.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import crypto from 'node:crypto';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const CORPUS_ROOT = path.join(HERE, 'corpus');
export const KINDS = ['many-packs', 'large', 'history', 'bigpack'];
const GENERATOR_VERSION = 1; // bump whenever the generated content changes

export const DEFAULT_PARAMS = {
  // ~120 packs built by pack-objects (real delta search), ~30k objects, ~200 loose
  'many-packs': { seed: 1, packs: 120, commitsPerPack: 30, files: 300, looseCommits: 24, tagEvery: 30 },
  // >=500k small objects in ~60 fast-import packs (one `checkpoint` per pack)
  large: { seed: 2, packs: 60, targetObjects: 540000, topDirs: 24, subDirs: 16, filesPerDir: 24 },
  // a long history of source-like files edited a few lines at a time, then `git repack -adf --depth=50`:
  // one pack of deep delta chains over blobs and trees, as a real project's
  history: { seed: 4, commits: 6000, files: 400, dirs: 20, editsPerCommit: 4 },
  // one pack >1 GiB: 1 MiB incompressible blobs + small files
  bigpack: { seed: 3, bigBlobs: 1100, bigBlobSize: 1 << 20, commits: 40, smallPerCommit: 8 },
};

export function defaultCorpusDir(kind) {
  return path.join(CORPUS_ROOT, kind);
}

// ---------------------------------------------------------------- randomness

/** Seeded PRNG (sfc32, state from sha256 of the seed). Deterministic across platforms. */
export class Rng {
  constructor(seed) {
    const h = crypto.createHash('sha256').update(String(seed)).digest();
    this.a = h.readUInt32LE(0); this.b = h.readUInt32LE(4);
    this.c = h.readUInt32LE(8); this.d = h.readUInt32LE(12) | 1;
    for (let i = 0; i < 16; i++) this.u32();
  }
  u32() {
    const t = (((this.a + this.b) | 0) + this.d) | 0;
    this.d = (this.d + 1) | 0;
    this.a = this.b ^ (this.b >>> 9);
    this.b = (this.c + (this.c << 3)) | 0;
    this.c = (this.c << 21) | (this.c >>> 11);
    this.c = (this.c + t) | 0;
    return t >>> 0;
  }
  float() { return this.u32() / 4294967296; }
  /** integer in [lo, hi] */
  int(lo, hi) { return lo + Math.floor(this.float() * (hi - lo + 1)); }
  /** log-uniform integer in [lo, hi] */
  logInt(lo, hi) { return Math.min(hi, Math.round(Math.exp(Math.log(lo) + this.float() * (Math.log(hi) - Math.log(lo))))); }
  chance(p) { return this.float() < p; }
  pick(arr) { return arr[Math.floor(this.float() * arr.length)]; }
}

/** Seeded incompressible bytes (AES-128-CTR keystream). */
class ByteGen {
  constructor(seed) {
    const h = crypto.createHash('sha256').update(String(seed)).digest();
    this.cipher = crypto.createCipheriv('aes-128-ctr', h.subarray(0, 16), h.subarray(16, 32));
    this.zeros = Buffer.alloc(1 << 20);
  }
  bytes(n) {
    if (n > this.zeros.length) this.zeros = Buffer.alloc(n);
    return this.cipher.update(this.zeros.subarray(0, n));
  }
}

/** A pool of source-code-like text; blobs are slices of it, edits splice other slices in. */
function makeTextPool(rng, size) {
  const words = [];
  for (let i = 0; i < 4000; i++) {
    let w = '';
    for (let k = rng.int(1, 10); k > 0; k--) w += String.fromCharCode(97 + rng.int(0, 25));
    words.push(w);
  }
  const sym = ['(', ')', ' {', '}', ';', ' =', ' +', '.', ',', ' =>', ' //', ' &&', '[0]'];
  const lines = [];
  let total = 0;
  while (total < size) {
    let line = '  '.repeat(rng.int(0, 4));
    for (let n = rng.int(1, 12), k = 0; k < n; k++) {
      line += (k ? ' ' : '') + words[Math.floor(words.length * rng.float() ** 3)];
      if (rng.chance(0.2)) line += rng.pick(sym);
    }
    line += '\n';
    lines.push(line);
    total += line.length;
  }
  return Buffer.from(lines.join(''), 'latin1');
}

function textSlice(rng, pool, len) {
  let start = rng.int(0, pool.length - len - 200);
  const nl = pool.indexOf(10, start);
  if (nl >= 0 && nl < start + 200) start = nl + 1;
  return pool.subarray(start, start + len);
}

/** 1-3 line-aligned replace/insert/delete edits, then clamp to [minLen, maxLen]. */
function editText(rng, pool, buf, minLen, maxLen, chunk) {
  for (let ops = rng.int(1, 3); ops > 0; ops--) {
    let pos = rng.int(0, buf.length);
    pos = pos === 0 ? 0 : buf.lastIndexOf(10, pos - 1) + 1;
    const r = rng.float();
    let del = 0, ins = null;
    if (r < 0.5) { del = rng.int(1, chunk); ins = textSlice(rng, pool, rng.int(8, chunk)); }
    else if (r < 0.8) ins = textSlice(rng, pool, rng.int(8, chunk));
    else del = rng.int(1, chunk);
    del = Math.min(del, buf.length - pos);
    buf = Buffer.concat(ins ? [buf.subarray(0, pos), ins, buf.subarray(pos + del)] : [buf.subarray(0, pos), buf.subarray(pos + del)]);
  }
  if (buf.length > maxLen) buf = buf.subarray(0, maxLen);
  if (buf.length < minLen) buf = Buffer.concat([buf, textSlice(rng, pool, minLen - buf.length + rng.int(0, minLen))]);
  return buf;
}

// ---------------------------------------------------------------- git plumbing

export const GIT_ENV = (() => {
  const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C', GIT_TERMINAL_PROMPT: '0' };
  for (const k of ['GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES', 'GIT_CONFIG', 'GIT_CONFIG_PARAMETERS']) delete env[k];
  return env;
})();

/** Run git; resolves to stdout Buffer, rejects on non-zero exit. input: Buffer|string|undefined. */
export function git(args, { input, gitdir, stdout = 'pipe' } = {}) {
  const full = gitdir ? ['--git-dir=' + gitdir, ...args] : args;
  return new Promise((resolve, reject) => {
    const child = spawn('git', full, { env: GIT_ENV, stdio: ['pipe', stdout, 'pipe'] });
    const out = [], err = [];
    child.stdout?.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`git ${full.join(' ')} exited ${code}: ${Buffer.concat(err).toString().trim()}`));
    });
    child.stdin.on('error', () => {}); // EPIPE surfaces as exit code
    child.stdin.end(input);
  });
}

/** Streaming writer for `git fast-import` with backpressure. */
class FastImport {
  constructor(gitdir, { unpackLimit = 0 } = {}) {
    this.child = spawn('git', ['-c', `fastimport.unpackLimit=${unpackLimit}`, '--git-dir=' + gitdir, 'fast-import', '--quiet', '--done'],
      { env: GIT_ENV, stdio: ['pipe', 'ignore', 'pipe'] });
    this.err = [];
    this.child.stderr.on('data', (c) => this.err.push(c));
    this.exited = new Promise((resolve) => this.child.on('close', resolve));
    this.child.stdin.on('error', () => {});
    this.parts = [];
    this.size = 0;
    this.mark = 0;
  }
  async write(x) {
    const b = typeof x === 'string' ? Buffer.from(x, 'utf8') : x;
    this.parts.push(b);
    this.size += b.length;
    if (this.size >= 1 << 20) await this.flush();
  }
  async flush() {
    if (!this.parts.length) return;
    const buf = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
    this.parts = []; this.size = 0;
    if (!this.child.stdin.write(buf)) {
      const code = await Promise.race([once(this.child.stdin, 'drain').then(() => null), this.exited]);
      if (code !== null) throw new Error(`fast-import died (${code}): ${Buffer.concat(this.err)}`);
    }
  }
  /** changes: [{path, data}] (modify) or [{path, del: true}] */
  async commit({ ref = 'refs/heads/main', when, message, from, changes }) {
    const mark = ++this.mark;
    const msg = Buffer.from(message);
    let h = `commit ${ref}\nmark :${mark}\n` +
      `author A U Thor <author@example.com> ${when} +0000\n` +
      `committer C O Mitter <committer@example.com> ${when} +0000\n` +
      `data ${msg.length}\n`;
    await this.write(h);
    await this.write(msg);
    await this.write(from ? `\nfrom ${from}\n` : '\n');
    for (const c of changes) {
      if (c.del) { await this.write(`D ${c.path}\n`); continue; }
      await this.write(`M 100644 inline ${c.path}\ndata ${c.data.length}\n`);
      await this.write(c.data);
      await this.write('\n');
    }
    return mark;
  }
  async tag(name, mark, when, message) {
    const msg = Buffer.from(message);
    await this.write(`tag ${name}\nfrom :${mark}\ntagger T Agger <tagger@example.com> ${when} +0000\ndata ${msg.length}\n`);
    await this.write(msg);
    await this.write('\n');
  }
  async checkpoint() { await this.write('checkpoint\n'); }
  async end() {
    await this.write('done\n');
    await this.flush();
    this.child.stdin.end();
    const code = await this.exited;
    if (code !== 0) throw new Error(`git fast-import exited ${code}: ${Buffer.concat(this.err).toString().trim()}`);
  }
}

function listPacks(gitdir) {
  const d = path.join(gitdir, 'objects', 'pack');
  return fs.existsSync(d) ? fs.readdirSync(d).filter((f) => f.endsWith('.pack')).sort() : [];
}

function idxOids(idxPath) {
  const b = fs.readFileSync(idxPath);
  const n = b.readUInt32BE(8 + 255 * 4);
  const out = [];
  for (let i = 0; i < n; i++) out.push(b.toString('hex', 1032 + i * 20, 1032 + i * 20 + 20));
  return out;
}

function idxObjectCount(idxPath) {
  const fd = fs.openSync(idxPath, 'r');
  try {
    const b = Buffer.alloc(4);
    fs.readSync(fd, b, 0, 4, 8 + 255 * 4); // v2: 8-byte header, fanout[255] = object count
    return b.readUInt32BE(0);
  } finally { fs.closeSync(fd); }
}

function countLoose(gitdir) {
  let n = 0;
  for (const d of fs.readdirSync(path.join(gitdir, 'objects'))) {
    if (/^[0-9a-f]{2}$/.test(d)) n += fs.readdirSync(path.join(gitdir, 'objects', d)).length;
  }
  return n;
}

async function duBytes(dir) {
  let total = 0;
  for (const e of await fsp.readdir(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) total += await duBytes(p);
    else if (e.isFile()) total += (await fsp.stat(p)).size;
  }
  return total;
}

const T0 = 1700000000; // fixed epoch for all dates

// ---------------------------------------------------------------- many-packs

async function buildManyPacks(gitdir, p, log) {
  const rng = new Rng(`many-packs:${p.seed}`);
  const bytes = new ByteGen(`many-packs-bytes:${p.seed}`);
  const pool = makeTextPool(new Rng(`pool:${p.seed}`), 4 << 20);

  const dirs = [''];
  for (const top of ['src', 'lib', 'docs', 'test', 'assets', 'tools', 'config', 'scripts', 'vendor', 'examples', 'include', 'data']) {
    dirs.push(top);
    for (let j = rng.int(0, 3); j > 0; j--) dirs.push(`${top}/part${j}`);
  }
  const files = new Map(); // path -> {bin, data}
  const paths = [];        // for O(1) random choice; swap-remove keeps it deterministic
  let nextId = 0;
  const newFile = () => {
    const bin = rng.chance(0.25);
    const dir = rng.pick(dirs);
    const name = bin ? `blob${String(nextId++).padStart(4, '0')}.bin` : `file${String(nextId++).padStart(4, '0')}.${rng.pick(['txt', 'js', 'md', 'c'])}`;
    const fp = dir ? `${dir}/${name}` : name;
    const size = rng.logInt(100, 50000);
    const data = bin ? bytes.bytes(size) : textSlice(rng, pool, size);
    files.set(fp, { bin, data });
    paths.push(fp);
    return { path: fp, data };
  };
  const delFile = (touched) => {
    let i = rng.int(0, paths.length - 1);
    while (touched.has(paths[i])) i = (i + 1) % paths.length;
    const fp = paths[i];
    paths[i] = paths[paths.length - 1]; paths.pop();
    files.delete(fp);
    return { path: fp, del: true };
  };
  const modFile = (touched) => {
    let i = rng.int(0, paths.length - 1);
    while (touched.has(paths[i])) i = (i + 1) % paths.length;
    const fp = paths[i];
    const f = files.get(fp);
    if (f.bin) {
      if (rng.chance(0.5)) f.data = bytes.bytes(rng.logInt(100, 50000));
      else { // overwrite a window: deltifies against the previous version
        const d = Buffer.from(f.data);
        const len = Math.min(d.length, rng.int(1, 2048));
        bytes.bytes(len).copy(d, rng.int(0, d.length - len));
        f.data = d;
      }
    } else f.data = editText(rng, pool, f.data, 100, 50000, 600);
    return { path: fp, data: f.data };
  };
  const changesFor = () => {
    const ch = [];
    const touched = new Set(); // never touch a path twice in one commit (would leave unreachable blobs)
    for (let n = rng.int(1, 4); n > 0; n--) {
      const r = rng.float();
      if (r < 0.08) ch.push(newFile());
      else if (r < 0.11 && paths.length > 200) ch.push(delFile(touched));
      else ch.push(modFile(touched));
      touched.add(ch[ch.length - 1].path);
    }
    return ch;
  };

  let tip = null, commitNo = 0, tagNo = 0;
  const totalBatches = p.packs + (p.looseCommits > 0 ? 1 : 0);
  for (let b = 0; b < totalBatches; b++) {
    const loose = b === p.packs;
    const before = new Set(listPacks(gitdir));
    const fi = new FastImport(gitdir, { unpackLimit: loose ? 1e9 : 0 });
    const n = loose ? p.looseCommits : p.commitsPerPack;
    const tags = [];
    let mark = 0;
    for (let c = 0; c < n; c++) {
      const changes = b === 0 && c === 0 ? Array.from({ length: p.files }, newFile) : changesFor();
      const when = T0 + commitNo * 97;
      mark = await fi.commit({ when, message: `commit ${commitNo}\n\n${textSlice(rng, pool, rng.int(20, 300)).toString('latin1')}`, from: c === 0 ? tip : null, changes });
      commitNo++;
    }
    if (!loose && (b + 1) % p.tagEvery === 0) {
      const name = `v${++tagNo}.0`;
      await fi.tag(name, mark, T0 + commitNo * 97, `release ${name}\n`);
      tags.push(name);
    }
    await fi.end();
    const newTip = (await git(['rev-parse', 'refs/heads/main'], { gitdir })).toString().trim();
    if (!loose) {
      // Re-pack this batch's objects with a real delta search, drop fast-import's pack.
      const fiPacks = listPacks(gitdir).filter((f) => !before.has(f));
      if (fiPacks.length !== 1) throw new Error(`expected one fast-import pack, got ${fiPacks.length}`);
      const list = await git(['rev-list', '--objects', newTip, ...(tip ? ['^' + tip] : [])], { gitdir });
      const tagOids = tags.length ? (await git(['rev-parse', ...tags.map((t) => 'refs/tags/' + t)], { gitdir })).toString() : '';
      const out = await git(['pack-objects', '-q', '--window=10', '--depth=50', '--no-reuse-delta', '--delta-base-offset', '--threads=1',
        path.join(gitdir, 'objects', 'pack', 'pack')], { gitdir, input: Buffer.concat([list, Buffer.from(tagOids)]) });
      const name = `pack-${out.toString().trim()}`;
      const fiBase = path.join(gitdir, 'objects', 'pack', fiPacks[0].replace(/\.pack$/, ''));
      // Every object fast-import wrote must be in the new pack. The new pack may hold a few more
      // (objects fast-import deduplicated against older packs): harmless cross-pack duplicates.
      const got = new Set(idxOids(path.join(gitdir, 'objects', 'pack', name + '.idx')));
      const lost = idxOids(fiBase + '.idx').filter((o) => !got.has(o));
      if (lost.length) throw new Error(`batch ${b}: ${lost.length} objects of the fast-import pack are not in ${name}`);
      if (fiBase !== path.join(gitdir, 'objects', 'pack', name)) {
        for (const ext of ['.pack', '.idx']) fs.rmSync(fiBase + ext);
      }
    }
    tip = newTip;
    if ((b + 1) % 20 === 0) log(`  batch ${b + 1}/${totalBatches}`);
  }
}

// ---------------------------------------------------------------- large

async function buildLarge(gitdir, p, log) {
  const rng = new Rng(`large:${p.seed}`);
  const pool = makeTextPool(new Rng(`pool:${p.seed}`), 4 << 20);
  const leafDirs = []; // {path, top, names: []}
  for (let t = 0; t < p.topDirs; t++) {
    for (let s = 0; s < p.subDirs; s++) leafDirs.push({ path: `mod${String(t).padStart(2, '0')}/sub${String(s).padStart(2, '0')}`, top: t, names: [], next: 0 });
  }
  const data = new Map();
  const size = () => rng.logInt(50, 2000);
  const add = (leaf) => {
    const fp = `${leaf.path}/f${String(leaf.next++).padStart(3, '0')}.${rng.pick(['c', 'h', 'txt', 'py'])}`;
    leaf.names.push(fp);
    const d = textSlice(rng, pool, size());
    data.set(fp, d);
    return { path: fp, data: d };
  };

  const fi = new FastImport(gitdir, { unpackLimit: 0 });
  const perPack = Math.ceil(p.targetObjects / p.packs);
  const tagStep = Math.ceil(p.targetObjects / 6);
  let est = 0, sinceCheckpoint = 0, commitNo = 0, nextTag = tagStep, tagNo = 0;

  // initial commit: full tree
  const init = [];
  for (const leaf of leafDirs) for (let k = 0; k < p.filesPerDir; k++) init.push(add(leaf));
  init.push({ path: 'README', data: textSlice(rng, pool, 1500) });
  await fi.commit({ when: T0, message: 'initial import\n', changes: init });
  est = init.length + leafDirs.length + p.topDirs + 2;
  sinceCheckpoint = est;
  commitNo++;

  while (est < p.targetObjects) {
    const tops = Array.from({ length: rng.int(1, 3) }, () => rng.int(0, p.topDirs - 1));
    const changes = [];
    const leaves = new Set();
    const touched = new Set(); // never touch a path twice in one commit (would leave unreachable blobs)
    for (let n = rng.int(2, 14); n > 0; n--) {
      const leaf = leafDirs[rng.pick(tops) * p.subDirs + rng.int(0, p.subDirs - 1)];
      leaves.add(leaf);
      const r = rng.float();
      const free = leaf.names.filter((f) => !touched.has(f));
      if (r < 0.10 || free.length < 4) changes.push(add(leaf));
      else if (r < 0.15) {
        const fp = rng.pick(free);
        leaf.names.splice(leaf.names.indexOf(fp), 1);
        data.delete(fp);
        changes.push({ path: fp, del: true });
      } else {
        const fp = rng.pick(free);
        const d = editText(rng, pool, data.get(fp), 50, 2000, 150);
        data.set(fp, d);
        changes.push({ path: fp, data: d });
      }
      touched.add(changes[changes.length - 1].path);
    }
    const when = T0 + commitNo * 61;
    const mark = await fi.commit({ when, message: `change ${commitNo}\n\n${textSlice(rng, pool, rng.int(20, 200)).toString('latin1')}`, changes });
    commitNo++;
    const objs = changes.filter((c) => !c.del).length + leaves.size + new Set([...leaves].map((l) => l.top)).size + 2;
    est += objs; sinceCheckpoint += objs;
    if (est >= nextTag) {
      const name = `v${++tagNo}.0`;
      await fi.tag(name, mark, when + 1, `release ${name}\n`);
      nextTag += tagStep; est++; sinceCheckpoint++;
    }
    if (sinceCheckpoint >= perPack && est < p.targetObjects) {
      await fi.checkpoint();
      sinceCheckpoint = 0;
    }
    if (commitNo % 5000 === 0) log(`  ${commitNo} commits, ~${est} objects`);
  }
  await fi.end();
}

// ---------------------------------------------------------------- bigpack

async function buildBigpack(gitdir, p, log) {
  const rng = new Rng(`bigpack:${p.seed}`);
  const bytes = new ByteGen(`bigpack-bytes:${p.seed}`);
  const pool = makeTextPool(new Rng(`pool:${p.seed}`), 1 << 20);
  const fi = new FastImport(gitdir, { unpackLimit: 0 });
  let big = 0, mark = 0;
  for (let c = 0; c < p.commits; c++) {
    const changes = [];
    const upto = Math.round((p.bigBlobs * (c + 1)) / p.commits);
    for (; big < upto; big++) changes.push({ path: `big/${String(big % 100).padStart(2, '0')}/blob${String(big).padStart(5, '0')}.bin`, data: bytes.bytes(p.bigBlobSize) });
    for (let k = 0; k < p.smallPerCommit; k++) changes.push({ path: `small/s${rng.int(0, 63)}.txt`, data: textSlice(rng, pool, rng.logInt(100, 4000)) });
    mark = await fi.commit({ when: T0 + c * 3600, message: `bulk ${c}\n`, changes });
    if (c % 10 === 9) log(`  ${c + 1}/${p.commits} commits`);
  }
  await fi.tag('v1.0', mark, T0 + p.commits * 3600, 'release v1.0\n');
  await fi.end();
}

/**
 * A history shaped like a real project's: `files` files in `dirs` directories,
 * each commit editing `editsPerCommit` of them a few lines at a time (lines
 * appended, replaced or deleted), written by fast-import, then repacked by git
 * with a full delta search (`repack -adf --depth=50 --window=50`), which chains
 * the versions of every file and tree deeply.
 */
async function buildHistory(gitdir, p, log) {
  const rng = new Rng(`history:${p.seed}`);
  const pool = makeTextPool(new Rng(`pool:${p.seed}`), 1 << 20);
  const line = () => textSlice(rng, pool, rng.int(10, 70)).toString('latin1').replace(/\n/g, ' ');
  const files = Array.from({ length: p.files }, (_, f) => ({
    path: `src/d${String(f % p.dirs).padStart(2, '0')}/file${String(f).padStart(4, '0')}.c`,
    lines: Array.from({ length: rng.int(20, 200) }, line),
  }));
  const fi = new FastImport(gitdir, { unpackLimit: 0 });
  const body = (f) => Buffer.from(f.lines.join('\n') + '\n', 'latin1');
  await fi.commit({ when: T0, message: 'initial import\n', changes: files.map((f) => ({ path: f.path, data: body(f) })) });
  for (let c = 1; c < p.commits; c++) {
    const changes = [];
    for (let e = 0; e < p.editsPerCommit; e++) {
      // a few files are hot, most are edited now and then: as in real projects
      const f = files[rng.int(0, 9) < 6 ? rng.int(0, Math.floor(p.files / 10)) : rng.int(0, p.files - 1)];
      const n = rng.int(1, 4);
      for (let k = 0; k < n; k++) {
        const at = rng.int(0, f.lines.length - 1);
        const op = rng.int(0, 9);
        if (op < 5) f.lines.splice(at, 0, line());
        else if (op < 8 || f.lines.length < 10) f.lines[at] = line();
        else f.lines.splice(at, 1);
      }
      changes.push({ path: f.path, data: body(f) });
    }
    await fi.commit({ when: T0 + c * 60, message: `commit ${c}\n`, changes });
    if (c % 1000 === 0) log(`  ${c} commits`);
  }
  await fi.end();
  log('  git repack -adf --depth=50 --window=50 ...');
  await git(['repack', '-adfq', '--depth=50', '--window=50'], { gitdir });
}

const BUILDERS = { 'many-packs': buildManyPacks, large: buildLarge, history: buildHistory, bigpack: buildBigpack };

// ---------------------------------------------------------------- driver

async function writeObjectsTxt(gitdir, file) {
  const fd = fs.openSync(file, 'w');
  try {
    await git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], { gitdir, stdout: fd });
  } finally { fs.closeSync(fd); }
  const counts = {};
  let n = 0;
  const text = await fsp.readFile(file, 'latin1');
  for (const line of text.split('\n')) {
    if (!line) continue;
    n++;
    const t = line.split(' ')[1];
    counts[t] = (counts[t] || 0) + 1;
  }
  return { objects: n, byType: counts };
}

/**
 * Build (or reuse) a corpus. Returns the DONE record: {version, kind, params, stats}.
 * opts: {force?: boolean, log?: (msg)=>void, ...param overrides (see DEFAULT_PARAMS)}
 */
export async function makeCorpus(kind, dir = defaultCorpusDir(kind), opts = {}) {
  if (!BUILDERS[kind]) throw new Error(`unknown corpus kind ${kind} (expected ${KINDS.join(', ')})`);
  const { force = false, log = (m) => console.error(m), ...overrides } = opts;
  const params = { ...DEFAULT_PARAMS[kind] };
  for (const [k, v] of Object.entries(overrides)) {
    if (!(k in params)) throw new Error(`unknown parameter ${k} for ${kind}`);
    params[k] = Number(v);
  }
  dir = path.resolve(dir);
  const key = JSON.stringify({ version: GENERATOR_VERSION, kind, params });
  const doneFile = path.join(dir, 'DONE');
  if (!force && fs.existsSync(doneFile)) {
    const done = JSON.parse(fs.readFileSync(doneFile, 'utf8'));
    if (JSON.stringify({ version: done.version, kind: done.kind, params: done.params }) === key) return done;
  }
  if (fs.existsSync(dir) && fs.readdirSync(dir).length) {
    if (!fs.existsSync(path.join(dir, 'CORPUS'))) throw new Error(`${dir} exists and is not a corpus directory; refusing to delete it`);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'CORPUS'), key + '\n');
  log(`building ${kind} corpus in ${dir} ...`);
  const t0 = performance.now();
  await git(['init', '-q', '--bare', '--initial-branch=main', dir]);
  await git(['config', 'gc.auto', '0'], { gitdir: dir });
  await BUILDERS[kind](dir, params, log);
  const buildMs = performance.now() - t0;
  const { objects, byType } = await writeObjectsTxt(dir, path.join(dir, 'objects.txt'));
  const packs = listPacks(dir);
  let packBytes = 0, packedObjects = 0;
  for (const f of packs) {
    packBytes += fs.statSync(path.join(dir, 'objects', 'pack', f)).size;
    packedObjects += idxObjectCount(path.join(dir, 'objects', 'pack', f.replace(/\.pack$/, '.idx')));
  }
  const stats = {
    buildSeconds: +(buildMs / 1000).toFixed(1),
    objects, byType, packs: packs.length, packedObjects, looseObjects: countLoose(dir),
    packBytes, diskBytes: await duBytes(dir),
  };
  stats.duplicates = stats.packedObjects + stats.looseObjects - objects; // same object stored twice
  const done = { version: GENERATOR_VERSION, kind, params, stats };
  fs.writeFileSync(doneFile, JSON.stringify(done, null, 2) + '\n');
  log(`built ${kind} in ${stats.buildSeconds}s: ${objects} objects (${packedObjects} packed in ${packs.length} packs, ${stats.looseObjects} loose), packs ${(packBytes / 2 ** 20).toFixed(1)} MiB, disk ${(stats.diskBytes / 2 ** 20).toFixed(1)} MiB`);
  return done;
}

// ---------------------------------------------------------------- CLI

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const pos = args.filter((a) => !a.startsWith('--'));
  const opts = {};
  for (const a of args.filter((a) => a.startsWith('--'))) {
    const [k, v] = a.slice(2).split('=');
    if (k === 'force') opts.force = true;
    else opts[k] = v;
  }
  const [kind, dir] = pos;
  if (!kind || !KINDS.includes(kind)) {
    console.error(`usage: node bench/corpus.mjs <${KINDS.join('|')}> [dir] [--force] [--param=value]`);
    process.exit(2);
  }
  makeCorpus(kind, dir || defaultCorpusDir(kind), opts).then(
    (done) => console.log(JSON.stringify(done.stats)),
    (e) => { console.error(e.stack || e); process.exit(1); },
  );
}
