// Drivers for the contenders (git itself, isomorphic-git) plus timing/memory helpers.
// Every reader returns {count, missing, bytes} so results can be compared across contenders.

import { spawn, spawnSync } from 'node:child_process';
import os from 'node:os';
import { once } from 'node:events';
import fs from 'node:fs';
import path from 'node:path';
import { GIT_ENV, Rng } from './corpus.mjs';

// ---------------------------------------------------------------- memory

/** Field of /proc/<pid>/status in bytes (VmHWM = peak RSS, VmRSS = current), or null. */
export function procStatusBytes(pid, field = 'VmHWM') {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'));
    return m ? Number(m[1]) * 1024 : null;
  } catch { return null; }
}

/** Samples process.memoryUsage().rss every intervalMs; stop() -> {startRss, peakRss, peakRssDelta}. */
export function startMemSampler(intervalMs = 20) {
  const startRss = process.memoryUsage().rss;
  let peakRss = startRss;
  const sample = () => { const r = process.memoryUsage().rss; if (r > peakRss) peakRss = r; };
  const timer = setInterval(sample, intervalMs);
  timer.unref();
  return {
    stop() {
      clearInterval(timer);
      sample();
      return { startRss, peakRss, peakRssDelta: peakRss - startRss };
    },
  };
}

/**
 * Time fn (awaited) with RSS sampling. ops: number of operations for ops/s; defaults to
 * result.count when fn returns {count}, else 1.
 * -> {label, ms, ops, opsPerSec, startRss, peakRss, peakRssDelta, result}
 */
export async function timeIt(label, fn, { ops, sampleMs = 20 } = {}) {
  const mem = startMemSampler(sampleMs);
  const t0 = performance.now();
  const result = await fn();
  const ms = performance.now() - t0;
  const m = mem.stop();
  const n = ops ?? (typeof result?.count === 'number' ? result.count : 1);
  return { label, ms, ops: n, opsPerSec: n / (ms / 1000), ...m, result };
}

// ---------------------------------------------------------------- sampling

const oidCache = new Map();
function loadObjectsTxt(file) {
  let v = oidCache.get(file);
  if (!v) {
    v = fs.readFileSync(file, 'latin1').split('\n').filter(Boolean).map((l) => {
      const [oid, type, size] = l.split(' ');
      return { oid, type, size: Number(size) };
    });
    oidCache.set(file, v);
  }
  return v;
}

/**
 * n object ids drawn deterministically from an objects.txt ("<oid> <type> <size>" lines).
 * Without replacement when n <= population, with replacement otherwise.
 * opts.types: e.g. ['blob'] to restrict the population.
 */
export function sampleOids(objectsTxtPath, n, seed = 1, { types } = {}) {
  let all = loadObjectsTxt(objectsTxtPath);
  if (types) all = all.filter((o) => types.includes(o.type));
  const rng = new Rng(`sample:${seed}`);
  if (n > all.length) return Array.from({ length: n }, () => all[rng.int(0, all.length - 1)].oid);
  const idx = Array.from({ length: all.length }, (_, i) => i);
  for (let i = 0; i < n; i++) { // partial Fisher-Yates
    const j = rng.int(i, idx.length - 1);
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  return idx.slice(0, n).map((i) => all[i].oid);
}

/** n deterministic random ids that are (with overwhelming probability) absent. */
export function missingOids(n, seed = 1, hexLen = 40) {
  const rng = new Rng(`missing:${seed}`);
  return Array.from({ length: n }, () => {
    let s = '';
    while (s.length < hexLen) s += rng.u32().toString(16).padStart(8, '0');
    return s.slice(0, hexLen);
  });
}

// ---------------------------------------------------------------- git cat-file

/**
 * Long-lived `git cat-file` child.
 *   check:  false -> --batch (header + content), true -> --batch-check (header only)
 *   buffer: false -> plain --batch / --batch-check (git flushes after every object)
 *           true  -> --batch-command --buffer with `contents|info <oid>` and one `flush` per readMany
 * readMany writes stdin and parses stdout concurrently, so output size never deadlocks.
 */
export class GitCatFile {
  constructor(gitdir, { check = false, buffer = false, gitBin = 'git' } = {}) {
    this.gitdir = gitdir;
    this.check = check;
    this.buffer = buffer;
    const mode = buffer ? ['--batch-command', '--buffer'] : [check ? '--batch-check' : '--batch'];
    this.child = spawn(gitBin, ['--git-dir=' + gitdir, 'cat-file', ...mode], { env: GIT_ENV, stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.stderr = [];
    this.child.stderr.on('data', (c) => this.stderr.push(c));
    this.child.stdin.on('error', () => {});
    this.exited = new Promise((resolve) => this.child.on('close', (code) => {
      this.exitCode = code;
      if (this.cur) this.cur.reject(new Error(`git cat-file exited ${code}: ${Buffer.concat(this.stderr)}`));
      resolve(code);
    }));
    this.child.stdout.on('data', (c) => this._onData(c));
    this.cur = null;        // in-flight request
    this.lock = Promise.resolve();
    this.hdr = [];          // partial header line
    this.need = 0;          // body bytes (+1 trailing LF) still to consume
    this.body = null;       // body chunks when collecting
    this.obj = null;        // {oid, type, size} of the current body
  }

  _onData(chunk) {
    let i = 0;
    while (i < chunk.length) {
      if (this.need > 0) {
        const take = Math.min(this.need, chunk.length - i);
        if (this.body) this.body.push(chunk.subarray(i, i + take));
        this.need -= take;
        i += take;
        if (this.need === 0) {
          if (chunk[i - 1] !== 10) return this._fail(new Error('cat-file: object not followed by LF'));
          let data;
          if (this.body) { data = Buffer.concat(this.body); data = data.subarray(0, data.length - 1); this.body = null; }
          this._done(this.obj, data);
        }
        continue;
      }
      const nl = chunk.indexOf(10, i);
      if (nl < 0) { this.hdr.push(Buffer.from(chunk.subarray(i))); break; }
      let line = chunk.toString('latin1', i, nl);
      if (this.hdr.length) { line = Buffer.concat(this.hdr).toString('latin1') + line; this.hdr = []; }
      i = nl + 1;
      this._onHeader(line);
    }
  }

  _onHeader(line) {
    const r = this.cur;
    if (!r) return this._fail(new Error(`cat-file: unexpected output ${JSON.stringify(line)}`));
    const sp2 = line.lastIndexOf(' ');
    const tail = line.slice(sp2 + 1);
    if (tail === 'missing' || tail === 'ambiguous') {
      r.missing++;
      return this._done(null);
    }
    const sp1 = line.indexOf(' ');
    const size = Number(tail);
    if (sp1 < 0 || sp1 === sp2 || !Number.isInteger(size)) return this._fail(new Error(`cat-file: bad header ${JSON.stringify(line)}`));
    this.obj = { oid: line.slice(0, sp1), type: line.slice(sp1 + 1, sp2), size };
    r.bytes += size;
    if (this.check) return this._done(this.obj);
    this.need = size + 1;
    if (r.onObject) this.body = [];
  }

  _done(obj, data) {
    const r = this.cur;
    if (obj) { r.count++; if (r.onObject) r.onObject(obj.oid, obj.type, obj.size, data); }
    if (--r.pending === 0) { this.cur = null; r.resolve({ count: r.count, missing: r.missing, bytes: r.bytes }); }
  }

  _fail(err) {
    const r = this.cur;
    this.cur = null;
    this.child.kill();
    if (r) r.reject(err);
  }

  /**
   * Look up oids in order. opts.onObject(oid, type, size, data?) is called per found object
   * (data: Buffer in --batch mode, undefined in check mode). -> {count, missing, bytes}
   */
  readMany(oids, { onObject } = {}) {
    const run = this.lock.then(() => this._readMany(oids, onObject));
    this.lock = run.catch(() => {});
    return run;
  }

  async _readMany(oids, onObject) {
    if (this.exitCode !== undefined) throw new Error('git cat-file has exited');
    if (!oids.length) return { count: 0, missing: 0, bytes: 0 };
    const done = new Promise((resolve, reject) => {
      this.cur = { pending: oids.length, count: 0, missing: 0, bytes: 0, onObject, resolve, reject };
    });
    const prefix = this.buffer ? (this.check ? 'info ' : 'contents ') : '';
    const stdin = this.child.stdin;
    for (let i = 0; i < oids.length && this.cur; i += 2048) {
      let s = '';
      for (const o of oids.slice(i, i + 2048)) s += prefix + o + '\n';
      if (i + 2048 >= oids.length && this.buffer) s += 'flush\n';
      if (!stdin.write(s)) await Promise.race([once(stdin, 'drain'), done.catch(() => {})]);
    }
    return done;
  }

  /** Peak RSS of the git child so far (bytes); read before close(). */
  peakRss() { return procStatusBytes(this.pid, 'VmHWM'); }

  /** Ends the child; -> {peakRss, code}. */
  async close() {
    const peakRss = this.peakRss();
    this.child.stdin.end();
    const code = await this.exited;
    return { peakRss, code };
  }
}

// ---------------------------------------------------------------- other git commands

let gnuTime; // /usr/bin/time (GNU) gives an exact max RSS; polling /proc is the fallback
function hasGnuTime() {
  if (gnuTime === undefined) {
    try { gnuTime = spawnSync('/usr/bin/time', ['-f', '%M', 'true'], { encoding: 'utf8' }).status === 0; } catch { gnuTime = false; }
  }
  return gnuTime;
}

/**
 * Run a command and measure its wall time and peak RSS: exact via GNU /usr/bin/time when
 * installed, else by polling /proc/<pid>/status VmHWM every pollMs (misses runs < pollMs).
 * -> {ms, code, stdout, stdoutBuffer, stderr, peakRss, peakRssSource: 'time'|'poll'}
 */
export function runTimed(cmd, args, { pollMs = 20, env = GIT_ENV, input } = {}) {
  const useTime = hasGnuTime();
  const timeFile = useTime ? path.join(os.tmpdir(), `bench-time-${process.pid}-${Math.random().toString(36).slice(2)}`) : null;
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = useTime
      ? spawn('/usr/bin/time', ['-f', '%M', '-o', timeFile, cmd, ...args], { env, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(cmd, args, { env, stdio: ['pipe', 'pipe', 'pipe'] });
    let peakRss = null;
    const poll = () => { const v = procStatusBytes(child.pid, 'VmHWM'); if (v !== null) peakRss = Math.max(peakRss ?? 0, v); };
    const timer = useTime ? null : setInterval(poll, pollMs);
    const out = [], err = [];
    child.stdout.on('data', (c) => out.push(c));
    child.stderr.on('data', (c) => err.push(c));
    child.on('error', (e) => { clearInterval(timer); reject(e); });
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      clearInterval(timer);
      if (useTime) {
        try {
          const lines = fs.readFileSync(timeFile, 'utf8').trim().split('\n');
          peakRss = Number(lines[lines.length - 1]) * 1024;
          if (lines.length > 1 && /exit status/.test(lines[0])) code = code || Number(lines[0].match(/(\d+)\s*$/)?.[1] ?? code);
        } catch { /* leave null */ }
        fs.rmSync(timeFile, { force: true });
      }
      const stdoutBuffer = Buffer.concat(out);
      resolve({ ms, code, stdout: stdoutBuffer.toString(), stdoutBuffer, stderr: Buffer.concat(err).toString(), peakRss, peakRssSource: useTime ? 'time' : 'poll' });
    });
    child.stdin.on('error', () => {});
    child.stdin.end(input);
  });
}

/**
 * `git multi-pack-index write` (git 2.39 has no --incremental). opts.bitmap adds --bitmap
 * (needs refs + reachability). -> {ms, peakRss, peakRssSource, path, bytes}
 */
export async function gitMultiPackIndexWrite(gitdir, { bitmap = false, args = [] } = {}) {
  const r = await runTimed('git', ['--git-dir=' + gitdir, 'multi-pack-index', 'write', ...(bitmap ? ['--bitmap'] : []), ...args]);
  if (r.code !== 0) throw new Error(`git multi-pack-index write exited ${r.code}: ${r.stderr.trim()}`);
  const p = path.join(gitdir, 'objects', 'pack', 'multi-pack-index');
  return { ms: r.ms, peakRss: r.peakRss, peakRssSource: r.peakRssSource, path: p, bytes: fs.statSync(p).size };
}

/** Delete objects/pack/multi-pack-index and its .bitmap/.rev companions (and a midx chain dir). */
export function removeMultiPackIndex(gitdir) {
  const d = path.join(gitdir, 'objects', 'pack');
  for (const f of fs.readdirSync(d)) {
    if (f === 'multi-pack-index' || /^multi-pack-index-[0-9a-f]+\.(bitmap|rev)$/.test(f)) fs.rmSync(path.join(d, f));
  }
  fs.rmSync(path.join(d, 'multi-pack-index.d'), { recursive: true, force: true });
}

// ---------------------------------------------------------------- isomorphic-git

let isogit;
/**
 * Sequential git.readObject({format: 'content'}) with one shared cache object.
 * Missing objects (NotFoundError) are counted, other errors thrown. -> {count, missing, bytes}
 */
export async function isogitReadMany(fs_, gitdir, oids, cache = {}) {
  isogit ??= (await import('isomorphic-git')).default;
  let count = 0, missing = 0, bytes = 0;
  for (const oid of oids) {
    try {
      const { object } = await isogit.readObject({ fs: fs_, dir: gitdir, gitdir, oid, cache, format: 'content' });
      count++;
      bytes += object.length;
    } catch (e) {
      if (e?.code === 'NotFoundError') missing++;
      else throw e;
    }
  }
  return { count, missing, bytes };
}
