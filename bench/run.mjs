// The benchmark suite: midx-odb beside isomorphic-git and git itself, on generated corpora
// and on any repository given by path. Prints a table and writes it to bench/results/.
//
//   node bench/run.mjs                      many-packs and large
//   node bench/run.mjs --bigpack            also the 1 GB pack
//   node bench/run.mjs /path/to/repo.git    a repository of yours (left untouched: a hard-linked copy gets the MIDX)
//   options: --n=<random reads> --isogit-n=<reads for isomorphic-git> --rounds=<2>
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultCorpusDir, makeCorpus } from './corpus.mjs';
import { GitCatFile, runTimed, sampleOids } from './peers.mjs';
import { formatTable } from './util.mjs';
import { writeChart } from './chart.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const opt = Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => { const [k, v] = a.slice(2).split('='); return [k, v ?? true]; }));
const N = Number(opt.n ?? 20000);
const ISO_N = Number(opt['isogit-n'] ?? 2000);
const ROUNDS = Number(opt.rounds ?? 2);
const targets = argv.filter((a) => !a.startsWith('--'));
if (!targets.length) targets.push('many-packs', 'large');
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

function worker(task, gitdir, oidsFile, extra) {
  const r = spawnSync(process.execPath, [path.join(HERE, 'worker.mjs'), task, gitdir, oidsFile ?? '-', ...(extra ? [extra] : [])], { encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`${task} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop());
}

async function gitBatch(gitdir, oids, check) {
  const cat = new GitCatFile(gitdir, { check });
  const t = performance.now();
  const res = await cat.readMany(oids);
  const ms = performance.now() - t;
  const { peakRss } = await cat.close();
  return { ms, count: res.count, peakRss };
}

const MiB = 1048576;
const rows = [];
function row(corpus, metric, contender, value, unit) {
  rows.push({ corpus, metric, contender, value, unit });
}
/** best of the rounds */
function best(list, key = 'ms') {
  return list.reduce((a, b) => (b[key] < a[key] ? b : a));
}

for (const target of targets) {
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
  const packs = fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((f) => f.endsWith('.pack'));
  const packBytes = packs.reduce((n, f) => n + fs.statSync(path.join(gitdir, 'objects', 'pack', f)).size, 0);
  const objectCount = fs.readFileSync(txt, 'utf8').split('\n').filter(Boolean).length;
  const n = Math.min(N, objectCount);
  const label = `${name} (${objectCount.toLocaleString('en-US')} objects, ${packs.length} packs, ${(packBytes / MiB).toFixed(0)} MiB)`;
  console.log(`\n== ${label}: ${n} random objects, isomorphic-git ${Math.min(ISO_N, n)}, best of ${ROUNDS} rounds`);

  const oids = sampleOids(txt, n, 7);
  const oidsFile = path.join(path.dirname(gitdir), `${name}.bench-oids.txt`);
  fs.writeFileSync(oidsFile, oids.join('\n') + '\n');
  const isoFile = path.join(path.dirname(gitdir), `${name}.bench-oids-iso.txt`);
  fs.writeFileSync(isoFile, oids.slice(0, Math.min(ISO_N, n)).join('\n') + '\n');

  const plain = linkedCopy(gitdir, 'bench-plain');
  const withMidx = linkedCopy(gitdir, 'bench-midx');
  // the MIDX both contenders read: written by git (2.39 on this machine)
  git(['multi-pack-index', 'write'], withMidx);

  // --- reads, existence checks, headers: alternating contenders
  const R = { gitRead: [], oursRead: [], oursPlain: [], gitCheck: [], oursExists: [], oursHeader: [] };
  for (let round = 0; round < ROUNDS; round++) {
    R.gitRead.push(await gitBatch(withMidx, oids, false));
    R.oursRead.push(worker('ours-read', withMidx, oidsFile));
    R.oursPlain.push(worker('ours-read', plain, oidsFile));
    R.gitCheck.push(await gitBatch(withMidx, oids, true));
    R.oursExists.push(worker('ours-exists', withMidx, oidsFile));
    R.oursHeader.push(worker('ours-header', withMidx, oidsFile));
  }
  const iso = worker('isogit-read', plain, isoFile);
  const ops = (r) => (r.count / r.ms) * 1000;
  const m = 'random reads';
  row(label, m, 'git cat-file --batch', ops(best(R.gitRead)), 'obj/s');
  row(label, m, 'midx-odb (MIDX)', ops(best(R.oursRead)), 'obj/s');
  row(label, m, 'midx-odb (packs, no MIDX)', ops(best(R.oursPlain)), 'obj/s');
  row(label, m, 'isomorphic-git readObject', ops(iso), 'obj/s');
  const e = 'existence checks';
  row(label, e, 'git cat-file --batch-check', ops(best(R.gitCheck)), 'obj/s');
  row(label, e, 'midx-odb exists (MIDX)', ops(best(R.oursExists)), 'obj/s');
  row(label, e, 'midx-odb readHeader (MIDX)', ops(best(R.oursHeader)), 'obj/s');
  const p = 'peak memory, random reads';
  row(label, p, 'git cat-file --batch', best(R.gitRead).peakRss / MiB, 'MiB');
  row(label, p, 'node process, library loaded, idle', worker('baseline', gitdir, null).peakRss / MiB, 'MiB');
  row(label, p, 'midx-odb (MIDX)', best(R.oursRead).peakRss / MiB, 'MiB');
  row(label, p, 'isomorphic-git readObject', iso.peakRss / MiB, 'MiB');

  // --- time to first object: a fresh process each time (in-process time; git's includes its exec)
  const F = { ours: [], iso: [], git: [] };
  for (let round = 0; round < ROUNDS; round++) {
    F.git.push(await runTimed('git', ['--git-dir', withMidx, 'cat-file', '-p', oids[0]]));
    F.ours.push(worker('ours-first', withMidx, oidsFile));
    F.iso.push(worker('isogit-first', plain, oidsFile));
  }
  const f = 'time to first object';
  row(label, f, 'git cat-file -p (process)', best(F.git).ms, 'ms');
  row(label, f, 'midx-odb open + read', best(F.ours).ms, 'ms');
  row(label, f, 'isomorphic-git readObject', best(F.iso).ms, 'ms');

  // --- prefix expansion (10 hex digits)
  const shortOids = oids.slice(0, Math.min(n, 5000));
  const shortFile = path.join(path.dirname(gitdir), `${name}.bench-short.txt`);
  fs.writeFileSync(shortFile, shortOids.join('\n') + '\n');
  const X = { ours: [], git: [] };
  for (let round = 0; round < ROUNDS; round++) {
    X.git.push(await gitBatch(withMidx, shortOids.map((o) => o.slice(0, 10)), true));
    X.ours.push(worker('ours-expand', withMidx, shortFile));
  }
  const isoX = worker('isogit-expand', plain, isoFile);
  const x = 'prefix expansion';
  row(label, x, 'git cat-file --batch-check <10 hex>', ops(best(X.git)), 'ids/s');
  row(label, x, 'midx-odb expandOid', ops(best(X.ours)), 'ids/s');
  row(label, x, 'isomorphic-git expandOid', ops(isoX), 'ids/s');

  // --- MIDX writes (when the library has them)
  const { Odb } = await import('../dist/index.js');
  if (typeof Odb.prototype.writeMidx === 'function') {
    const W = { ours: [], git: [] };
    for (let round = 0; round < ROUNDS; round++) {
      const a = linkedCopy(gitdir, 'bench-write-git');
      W.git.push(await runTimed('git', ['--git-dir', a, 'multi-pack-index', 'write']));
      const b = linkedCopy(gitdir, 'bench-write-ours');
      W.ours.push(worker('ours-write', b, null, '{}'));
      const same = Buffer.compare(fs.readFileSync(path.join(a, 'objects/pack/multi-pack-index')), fs.readFileSync(path.join(b, 'objects/pack/multi-pack-index'))) === 0;
      if (!same) console.log('  warning: the two MIDX files differ');
      fs.rmSync(a, { recursive: true, force: true });
      fs.rmSync(b, { recursive: true, force: true });
    }
    const w = 'MIDX full write';
    row(label, w, 'git multi-pack-index write', best(W.git).ms, 'ms');
    row(label, w, 'midx-odb writeMidx', best(W.ours).ms, 'ms');
    row(label, 'peak memory, MIDX write', 'git multi-pack-index write', best(W.git).peakRss / MiB, 'MiB');
    row(label, 'peak memory, MIDX write', 'midx-odb writeMidx', best(W.ours).peakRss / MiB, 'MiB');
  }
  if (typeof Odb.prototype.writeMidx === 'function') {
    const c = linkedCopy(gitdir, 'bench-chain');
    const r = worker('ours-chain', c, null);
    fs.rmSync(c, { recursive: true, force: true });
    const a = `incremental append, chain of ${r.layers} layers, ${r.objects.toLocaleString('en-US')} objects (git 2.39 cannot write chains)`;
    row(label, a, 'midx-odb: first appends (1 pack each)', r.firstAppends, 'ms');
    row(label, a, 'midx-odb: last appends (1 pack each)', r.lastAppends, 'ms');
    row(label, a, 'midx-odb: 10-object pack on top of the whole chain', r.smallOnTop, 'ms');
  }
  for (const d of [plain, withMidx]) fs.rmSync(d, { recursive: true, force: true });
}

// --- report
const byCorpus = new Map();
for (const r of rows) {
  if (!byCorpus.has(r.corpus)) byCorpus.set(r.corpus, []);
  byCorpus.get(r.corpus).push(r);
}
const stamp = new Date().toISOString().replace(/[:T]/g, '-').slice(0, 16);
const md = [`# midx-odb benchmarks, ${new Date().toISOString()}`, '', `node ${process.version}, ${execFileSync('git', ['--version']).toString().trim()}; ratios are against git within each metric, from this one run (best of ${ROUNDS} rounds, contenders alternating).`, ''];
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
