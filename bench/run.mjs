// The benchmark suite: midx-odb beside git itself and isomorphic-git, on generated corpora
// and on any repository given by path. Prints a table and writes it to bench/results/.
//
//   node bench/run.mjs                      many-packs, large and history
//   node bench/run.mjs --bigpack            also the 1 GB pack
//   node bench/run.mjs /path/to/repo.git    a repository of yours (left untouched: hard-linked copies get the MIDX)
//   options: --n=<ids, default 20000> --rounds=<runs per contender, default 3> --only=<corpus,...>
//
// Method (the same for every contender):
// - the same ids, in the same order, the same count, for every contender of a metric;
// - every run in a fresh process; the pack files are read once beforehand so that every
//   contender finds them in the OS cache (warm disk, cold process);
// - rounds alternate the contenders (their order rotates every round), so that the load
//   of a shared machine falls on all of them; the value shown is the median of the rounds;
// - every answer is checked against git's (type and size of every object, and the id
//   recomputed from the content of every 50th): a wrong answer fails the run;
// - throughput: git's time is the wall time of its process (exec included; ids read from
//   a file, output written to a file, so no reader can slow it down); ours and
//   isomorphic-git's are in-process (from opening the repository; Node's start-up is in
//   "time to first object", where every contender is a fresh process timed from spawn to exit).
import { execFileSync, spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusDir, makeCorpus } from './corpus.mjs';
import { missingOids, runTimed, sampleOids } from './peers.mjs';
import { formatTable } from './util.mjs';
import { writeChart } from './chart.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => { const [k, v] = a.slice(2).split('='); return [k, v ?? true]; }));
const N = Number(opt.n ?? 20000);
const ROUNDS = Math.max(3, Number(opt.rounds ?? 3));
const targets = argv.filter((a) => !a.startsWith('--'));
if (!targets.length) targets.push('many-packs', 'large', 'history');
if (opt.bigpack) targets.push('bigpack');

function git(args, gitdir) {
  return execFileSync('git', ['--git-dir', gitdir, ...args], { maxBuffer: 1 << 30 });
}

/** A copy sharing the pack files (hard links) without any MIDX, for writes and for the MIDX-less runs. */
function linkedCopy(src, suffix) {
  const dst = `${src.replace(/\/$/, '')}.${suffix}`;
  fs.rmSync(dst, { recursive: true, force: true });
  execFileSync('cp', ['-al', src, dst]);
  const packDir = path.join(dst, 'objects', 'pack');
  for (const f of fs.readdirSync(packDir)) if (f.startsWith('multi-pack-index')) fs.rmSync(path.join(packDir, f), { recursive: true });
  return dst;
}

/** Reads every file under objects/ once: every contender then finds them in the OS cache. */
function warmDisk(gitdir) {
  const visit = (d) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) visit(p);
      else if (e.isFile()) {
        const fd = fs.openSync(p, 'r');
        const buf = Buffer.allocUnsafe(1 << 20);
        while (fs.readSync(fd, buf, 0, buf.length, null) > 0);
        fs.closeSync(fd);
      }
    }
  };
  visit(path.join(gitdir, 'objects'));
}

function worker(task, gitdir, oidsFile, extra) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'worker.mjs'), task, gitdir, oidsFile ?? '-', ...(extra ? [extra] : [])], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${task} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

/** `git cat-file --batch` or `--batch-check` over the ids, as one process: its wall time and peak RSS; the answers, checked. */
async function gitCatFile(gitdir, oids, check) {
  // ids from a file, output to a file: git is never throttled by a reader of its pipe
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-cat-file-'));
  const inFile = path.join(dir, 'in');
  const outFile = path.join(dir, 'out');
  fs.writeFileSync(inFile, oids.join('\n') + '\n');
  const r = await runTimed('sh', ['-c', 'exec git --git-dir "$1" cat-file "$2" < "$3" > "$4"', 'sh', gitdir, check ? '--batch-check' : '--batch', inFile, outFile]);
  if (r.code !== 0) throw new Error(`git cat-file failed: ${r.stderr}`);
  const out = fs.readFileSync(outFile);
  fs.rmSync(dir, { recursive: true, force: true });
  const lines = [];
  const kept = [];
  let at = 0;
  for (let i = 0; i < oids.length; i++) {
    const nl = out.indexOf(10, at);
    const [, type, size] = out.toString('latin1', at, nl).split(' ');
    lines.push(`${type} ${size}`);
    at = nl + 1;
    if (!check) {
      if (i % 50 === 0) kept.push({ oid: oids[i], type, data: out.subarray(at, at + Number(size)) });
      at += Number(size) + 1;
    }
  }
  const answers = crypto.createHash('sha1').update(lines.join('\n')).digest('hex');
  const badContent = kept.filter((k) => crypto.createHash('sha1').update(`${k.type} ${k.data.length}\0`).update(k.data).digest('hex') !== k.oid).map((k) => k.oid);
  return { ms: r.ms, count: oids.length, peakRss: r.peakRss, answers, badContent };
}

/** The answers git gives for `ids` (from the corpus's objects.txt, written by git cat-file --batch-all-objects). */
function expectedAnswers(objects, ids) {
  return crypto.createHash('sha1').update(ids.map((id) => { const o = objects.get(id); return `${o.type} ${o.size}`; }).join('\n')).digest('hex');
}

/** A run's result, checked: a wrong answer fails the whole benchmark. */
function checked(label, r, { answers, found } = {}) {
  if (answers !== undefined && r.answers !== answers) throw new Error(`${label}: wrong answers (type/size of some object differs from git's)`);
  if (r.badContent?.length) throw new Error(`${label}: wrong content for ${r.badContent.slice(0, 3).join(', ')}`);
  if (found !== undefined && r.found !== found) throw new Error(`${label}: found ${r.found} objects, expected ${found}`);
  return r;
}

/**
 * Runs every contender `ROUNDS` times, alternating (the order rotates each round);
 * contenders: [[name, () => Promise<result>]]. -> Map name -> [results]
 */
async function alternate(contenders) {
  const res = new Map(contenders.map(([name]) => [name, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (let k = 0; k < contenders.length; k++) {
      const [name, run] = contenders[(k + round) % contenders.length];
      res.get(name).push(await run());
    }
  }
  return res;
}

function median(list, key = 'ms') {
  const v = list.map((r) => r[key]).sort((a, b) => a - b);
  return v[Math.floor(v.length / 2)];
}

const MiB = 1048576;
const rows = [];
function row(corpus, metric, contender, value, unit, extra = {}) {
  rows.push({ corpus, metric, contender, value, unit, ...extra });
}

for (const target of targets) {
  if (opt.only && !String(opt.only).split(',').includes(target)) continue;
  let gitdir = target;
  if (!fs.existsSync(path.join(target, 'objects'))) {
    gitdir = defaultCorpusDir(target);
    await makeCorpus(target, gitdir);
  }
  const name = path.basename(gitdir);
  const objectsTxt = path.join(path.dirname(gitdir), `${name}.objects.txt`);
  const inCorpus = path.join(gitdir, 'objects.txt');
  const txt = fs.existsSync(inCorpus) ? inCorpus : objectsTxt;
  if (!fs.existsSync(txt)) fs.writeFileSync(txt, git(['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize)'], gitdir));
  const objects = new Map();
  for (const l of fs.readFileSync(txt, 'latin1').split('\n')) {
    if (!l) continue;
    const [oid, type, size] = l.split(' ');
    objects.set(oid, { type, size: Number(size) });
  }
  const packs = fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((f) => f.endsWith('.pack'));
  const packBytes = packs.reduce((n, f) => n + fs.statSync(path.join(gitdir, 'objects', 'pack', f)).size, 0);
  const n = Math.min(N, objects.size);
  const label = `${name} (${objects.size.toLocaleString('en-US')} objects, ${packs.length} packs, ${(packBytes / MiB).toFixed(0)} MiB)`;
  console.log(`\n== ${label}: ${n} random ids for every contender, median of ${ROUNDS} alternating rounds`);

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), `bench-${name}-`));
  const oids = sampleOids(txt, n, 7);
  const oidsFile = path.join(scratch, 'oids.txt');
  fs.writeFileSync(oidsFile, oids.join('\n') + '\n');
  const absent = missingOids(n, 7);
  const absentFile = path.join(scratch, 'absent.txt');
  fs.writeFileSync(absentFile, absent.join('\n') + '\n');
  const want = expectedAnswers(objects, oids);

  const plain = linkedCopy(gitdir, 'bench-plain');
  const withMidx = linkedCopy(gitdir, 'bench-midx');
  // the MIDX every contender reads: written by git (2.39 on this machine)
  git(['multi-pack-index', 'write'], withMidx);
  warmDisk(withMidx);

  // --- random reads
  const reads = await alternate([
    ['git cat-file --batch', async () => checked('git --batch', await gitCatFile(withMidx, oids, false), { answers: want })],
    ['midx-odb read (MIDX)', async () => checked('read (MIDX)', worker('ours-read', withMidx, oidsFile), { answers: want })],
    ['midx-odb read (packs, no MIDX)', async () => checked('read (packs)', worker('ours-read', plain, oidsFile), { answers: want })],
    ['isomorphic-git readObject', async () => checked('isomorphic-git', worker('isogit-read', plain, oidsFile), { answers: want })],
  ]);
  for (const [who, list] of reads) row(label, `random reads (${n} ids)`, who, (n / median(list)) * 1000, 'obj/s');

  // --- headers beside git's --batch-check; exists on its own
  const headers = await alternate([
    ['git cat-file --batch-check', async () => checked('git --batch-check', await gitCatFile(withMidx, oids, true), { answers: want })],
    ['midx-odb readHeader (MIDX)', async () => checked('readHeader', worker('ours-header', withMidx, oidsFile), { answers: want })],
  ]);
  for (const [who, list] of headers) row(label, `headers: type and size (${n} ids)`, who, (n / median(list)) * 1000, 'obj/s');
  const ex = await alternate([
    ['midx-odb exists, present ids', async () => checked('exists', worker('ours-exists', withMidx, oidsFile), { found: n })],
    ['midx-odb exists, absent ids', async () => checked('exists absent', worker('ours-exists-absent', withMidx, absentFile), { found: 0 })],
  ]);
  for (const [who, list] of ex) row(label, `exists (${n} ids; no git peer: git has no bare existence check)`, who, (n / median(list)) * 1000, 'ids/s');

  // --- memory of the read runs (the medians' rounds)
  const p = 'peak memory (VmHWM), random reads';
  const mem = (list) => median(list, 'peakRss') / MiB;
  row(label, p, 'git cat-file --batch', mem(reads.get('git cat-file --batch')), 'MiB');
  row(label, p, 'node process, library loaded, idle', worker('baseline', gitdir, null).peakRss / MiB, 'MiB');
  row(label, p, 'midx-odb read (MIDX)', mem(reads.get('midx-odb read (MIDX)')), 'MiB');
  row(label, p, 'isomorphic-git readObject', mem(reads.get('isomorphic-git readObject')), 'MiB');

  // --- time to first object: a fresh process each, from spawn to exit
  const wantFirst = expectedAnswers(objects, oids.slice(0, 1));
  const first = await alternate([
    ['git cat-file -p', async () => {
      const r = await runTimed('git', ['--git-dir', withMidx, 'cat-file', '-p', oids[0]]);
      if (r.code !== 0) throw new Error(`git cat-file -p: ${r.stderr}`);
      return r;
    }],
    ['midx-odb: node + import + open + read', async () => {
      const r = await runTimed(process.execPath, [path.join(HERE, 'worker.mjs'), 'ours-first', withMidx, oidsFile]);
      checked('first (ours)', JSON.parse(r.stdout.trim().split('\n').pop()), { answers: wantFirst });
      return r;
    }],
    ['isomorphic-git: node + import + readObject', async () => {
      const r = await runTimed(process.execPath, [path.join(HERE, 'worker.mjs'), 'isogit-first', plain, oidsFile]);
      checked('first (isomorphic-git)', JSON.parse(r.stdout.trim().split('\n').pop()), { answers: wantFirst });
      return r;
    }],
  ]);
  for (const [who, list] of first) row(label, 'time to first object (fresh process, spawn to exit)', who, median(list), 'ms');

  // --- prefix expansion (10 hex digits), 5000 ids for every contender
  const shortOids = oids.slice(0, Math.min(n, 5000));
  const shortFile = path.join(scratch, 'short.txt');
  fs.writeFileSync(shortFile, shortOids.join('\n') + '\n');
  const wantShort = expectedAnswers(objects, shortOids);
  const X = await alternate([
    ['git cat-file --batch-check <10 hex>', async () => checked('git short', await gitCatFile(withMidx, shortOids.map((o) => o.slice(0, 10)), true), { answers: wantShort })],
    ['midx-odb expandOid', async () => { const r = worker('ours-expand', withMidx, shortFile); if (r.ok !== shortOids.length) throw new Error('expandOid: wrong answers'); return r; }],
    ['isomorphic-git expandOid', async () => { const r = worker('isogit-expand', plain, shortFile); if (r.ok !== shortOids.length) throw new Error('isomorphic-git expandOid: wrong answers'); return r; }],
  ]);
  for (const [who, list] of X) row(label, `prefix expansion (${shortOids.length} ids)`, who, (shortOids.length / median(list)) * 1000, 'ids/s');

  // --- full MIDX writes: the same bytes as git's, or the run fails
  const W = await alternate([
    ['git multi-pack-index write', async () => {
      const a = linkedCopy(gitdir, 'bench-write-git');
      const r = await runTimed('git', ['--git-dir', a, 'multi-pack-index', 'write']);
      r.bytes = fs.readFileSync(path.join(a, 'objects/pack/multi-pack-index'));
      fs.rmSync(a, { recursive: true, force: true });
      return r;
    }],
    ['midx-odb writeMidx', async () => {
      const b = linkedCopy(gitdir, 'bench-write-ours');
      const r = worker('ours-write', b, null, '{}');
      r.bytes = fs.readFileSync(path.join(b, 'objects/pack/multi-pack-index'));
      fs.rmSync(b, { recursive: true, force: true });
      return r;
    }],
  ]);
  const gitBytes = W.get('git multi-pack-index write')[0].bytes;
  for (const r of W.get('midx-odb writeMidx')) if (Buffer.compare(r.bytes, gitBytes) !== 0) throw new Error('writeMidx: the MIDX differs from git\'s');
  for (const [who, list] of W) {
    row(label, 'MIDX full write', who, median(list), 'ms');
    row(label, 'peak memory (VmHWM), MIDX write', who, median(list, 'peakRss') / MiB, 'MiB');
  }
  {
    const c = linkedCopy(gitdir, 'bench-chain');
    const r = worker('ours-chain', c, null);
    fs.rmSync(c, { recursive: true, force: true });
    const a = `incremental append, chain of ${r.layers} layers, ${r.objects.toLocaleString('en-US')} objects (one run; git 2.39 cannot write chains)`;
    row(label, a, 'midx-odb: first appends (1 pack each)', r.firstAppends, 'ms');
    row(label, a, 'midx-odb: last appends (1 pack each)', r.lastAppends, 'ms');
    row(label, a, 'midx-odb: 10-object pack on top of the whole chain', r.smallOnTop, 'ms');
  }
  for (const d of [plain, withMidx, scratch]) fs.rmSync(d, { recursive: true, force: true });
}

// --- report
const byCorpus = new Map();
for (const r of rows) {
  if (!byCorpus.has(r.corpus)) byCorpus.set(r.corpus, []);
  byCorpus.get(r.corpus).push(r);
}
const stamp = new Date().toISOString().replace(/[:T]/g, '-').slice(0, 16);
const cpus = os.cpus();
const md = [
  `# midx-odb benchmarks, ${new Date().toISOString()}`,
  '',
  `node ${process.version}, ${execFileSync('git', ['--version']).toString().trim()}, ${cpus.length} cores (${cpus[0]?.model ?? 'unknown'}), load average at the end ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}.`,
  `Every value is the median of ${ROUNDS} runs, contenders alternating, each run a fresh process on the same ids with answers checked against git's; ratios are against the git row of each table.`,
  '',
];
for (const [corpus, list] of byCorpus) {
  const metrics = [...new Set(list.map((r) => r.metric))];
  for (const metric of metrics) {
    const mr = list.filter((r) => r.metric === metric);
    const baseline = mr.find((r) => r.contender.startsWith('git'))?.contender;
    const t = formatTable(mr.map((r) => ({ contender: r.contender, metric: r.metric, value: r.value, unit: r.unit })), { baseline, title: `${corpus}: ${metric}` });
    console.log('\n' + t.text);
    md.push(t.markdown, '');
  }
}
const outDir = path.join(HERE, 'results');
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(path.join(outDir, `${stamp}.md`), md.join('\n'));
fs.writeFileSync(path.join(outDir, 'latest.md'), md.join('\n'));
fs.writeFileSync(path.join(outDir, 'latest.json'), JSON.stringify(rows, null, 1));
writeChart(path.join(outDir, 'latest.svg'), rows);
console.log(`\nwritten: bench/results/latest.md, bench/results/${stamp}.md, bench/results/latest.svg`);
