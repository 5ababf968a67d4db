#!/usr/bin/env node
// Fetch-like rounds with and without maintenance (README "Maintenance").
//
//   node bench/maintain.mjs [--rounds=1000] [--threshold=<repack.midxNewLayerThreshold>] [--out=bench/results/maintain-latest]
//
// A source history (git 2.55 fast-import) is fetched round by round: each
// round a pack of the next 1-4 commits (every 97th round 40 commits) arrives
// in two repositories, the same bytes in both.
//   plain:      a layer per fetch (odb.writeMidx({ incremental: true }), as withMidxHook does)
//   maintained: odb.maintain() per fetch (as withMidxHook(fs, { maintain: true }) does):
//               the new pack joins the chain by git 2.55's rules, packs merge geometrically
// At checkpoints: layers, packs, bytes under objects/pack, the time to open a
// database and read the first object, read and miss throughput. Every round:
// the time spent writing the layer or maintaining. Every tenth round git 2.55
// runs `multi-pack-index verify` and `fsck` on the maintained repository, and
// its layers and packs are checked against log2(rounds) + 8.
// Needs `npx tsc` first (reads dist/).

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOdb } from 'midx-odb';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const args = Object.fromEntries(process.argv.slice(2).map((a) => a.replace(/^--/, '').split('=')));
const ROUNDS = Number(args.rounds ?? 1000);
const THRESHOLD = args.threshold === undefined ? undefined : Number(args.threshold);
const OUT = args.out ?? path.join(HERE, 'results', `maintain-latest${THRESHOLD ? `-t${THRESHOLD}` : ''}`);
const GIT_DIR255 = execFileSync('bash', [path.join(HERE, '..', '..', 'shared', 'git-2.55', 'setup.sh')], { encoding: 'utf8' }).trim().split('\n').pop();
const GIT = path.join(GIT_DIR255, 'git', 'bin', 'git');
const ENV = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', GIT_CONFIG_GLOBAL: '/dev/null', LC_ALL: 'C' };

function git(argv, input) {
  const r = spawnSync(GIT, argv, { input, env: ENV, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`git ${argv.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-maint-bench-'));
const log = (...a) => console.log(new Date().toISOString().slice(11, 19), ...a);

// ---- the source history
const rounds = Array.from({ length: ROUNDS }, (_, i) => (i === 0 ? 200 : i % 97 === 0 ? 40 : 1 + ((i * 7) % 4)));
const totalCommits = rounds.reduce((a, b) => a + b, 0);
const src = path.join(root, 'src.git');
git(['init', '-q', '--bare', src]);
{
  const out = [];
  let t = 1700000000;
  for (let c = 1; c <= totalCommits; c++) {
    const msg = `commit ${c}\n`;
    out.push(`commit refs/heads/main\nmark :${c}\ncommitter C O Mitter <c@example.com> ${t++} +0000\ndata ${msg.length}\n${msg}`);
    if (c > 1) out.push(`from :${c - 1}\n`);
    for (let k = 0; k < 3; k++) {
      const f = (c * 7 + k * 13) % 300;
      const body = `file ${f} at commit ${c}.${k}\n${'line of text\n'.repeat(5 + ((c * 31 + k) % 60))}`;
      out.push(`M 100644 inline dir${f % 12}/file${f}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    out.push('\n');
  }
  git(['--git-dir', src, 'fast-import', '--quiet', `--export-marks=${path.join(root, 'marks')}`], out.join(''));
}
const commits = [];
for (const line of fs.readFileSync(path.join(root, 'marks'), 'utf8').split('\n')) {
  const m = /^:(\d+) ([0-9a-f]+)$/.exec(line);
  if (m) commits[Number(m[1]) - 1] = m[2];
}
log(`source: ${totalCommits} commits for ${ROUNDS} rounds`);

const stage = path.join(root, 'stage');
fs.mkdirSync(stage);
const repos = { plain: path.join(root, 'plain.git'), maintained: path.join(root, 'maintained.git') };
for (const r of Object.values(repos)) {
  git(['init', '-q', '--bare', r]);
  git(['--git-dir', r, 'config', 'maintenance.auto', 'false']);
  git(['--git-dir', r, 'config', 'gc.auto', '0']);
}

function idxOids(file) {
  const b = fs.readFileSync(file);
  const n = b.readUInt32BE(8 + 255 * 4);
  const out = [];
  for (let i = 0; i < n; i++) out.push(b.subarray(8 + 1024 + i * 20, 8 + 1024 + i * 20 + 20).toString('hex'));
  return out;
}

function dirBytes(dir) {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? dirBytes(p) : fs.statSync(p).size;
  }
  return n;
}

function shapeOf(gitdir) {
  const pd = path.join(gitdir, 'objects', 'pack');
  const chain = path.join(pd, 'multi-pack-index.d', 'multi-pack-index-chain');
  const layers = fs.existsSync(chain) ? fs.readFileSync(chain, 'utf8').split('\n').filter(Boolean).length : 0;
  const packs = fs.readdirSync(pd).filter((n) => n.endsWith('.idx')).length;
  return { layers, packs, bytes: dirBytes(pd) };
}

// a deterministic sample of object ids
let seed = 12345;
const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
const allOids = [];

async function measure(gitdir, tip) {
  const firsts = [];
  for (let i = 0; i < 5; i++) {
    const t0 = performance.now();
    const odb = await openOdb({ fs, gitdir });
    await odb.read(tip);
    firsts.push(performance.now() - t0);
    await odb.close();
  }
  firsts.sort((a, b) => a - b);
  const odb = await openOdb({ fs, gitdir });
  const sample = Array.from({ length: 3000 }, () => allOids[Math.floor(rand() * allOids.length)]);
  await odb.read(sample[0]);
  let t0 = performance.now();
  for (const oid of sample) await odb.read(oid);
  const readPerSec = sample.length / ((performance.now() - t0) / 1000);
  const misses = Array.from({ length: 3000 }, () => Array.from({ length: 40 }, () => '0123456789abcdef'[Math.floor(rand() * 16)]).join(''));
  t0 = performance.now();
  for (const oid of misses) if (await odb.exists(oid)) throw new Error('a random id exists?');
  const missPerSec = misses.length / ((performance.now() - t0) / 1000);
  await odb.close();
  return { firstObjectMs: firsts[2], readPerSec, missPerSec };
}

const checkpoints = new Set([10, 50, 100, 250, 500, 750, 1000, ROUNDS].filter((n) => n <= ROUNDS));
const rows = [];
const times = { plain: [], maintained: [] };
const problems = [];
let at = 0;
const t00 = performance.now();
for (let r = 1; r <= ROUNDS; r++) {
  const from = at;
  at += rounds[r - 1];
  const revs = [commits[at - 1]];
  if (from) revs.push(`^${commits[from - 1]}`);
  const hex = git(['--git-dir', src, 'pack-objects', '--revs', '-q', path.join(stage, 'pack')], revs.join('\n') + '\n').toString().trim();
  const files = ['.pack', '.rev', '.idx'].map((e) => path.join(stage, `pack-${hex}${e}`));
  for (const o of idxOids(files[2])) allOids.push(o);
  for (const repo of Object.values(repos)) {
    for (const f of files) fs.copyFileSync(f, path.join(repo, 'objects', 'pack', path.basename(f)));
    fs.writeFileSync(path.join(repo, 'refs', 'heads', 'main'), commits[at - 1] + '\n');
  }
  for (const f of files) fs.rmSync(f);

  for (const [name, gitdir] of Object.entries(repos)) {
    const odb = await openOdb({ fs, gitdir });
    const t0 = performance.now();
    if (name === 'plain') await odb.writeMidx({ incremental: true });
    else await odb.maintain({ loose: false, ...(THRESHOLD ? { midxNewLayerThreshold: THRESHOLD } : {}) });
    times[name].push(performance.now() - t0);
    await odb.close();
  }

  const m = shapeOf(repos.maintained);
  const bound = Math.log2(r) + 8;
  if (m.layers > bound || m.packs > bound) problems.push(`round ${r}: ${m.layers} layers, ${m.packs} packs > log2(${r}) + 8 = ${bound.toFixed(1)}`);
  if (r % 10 === 0) {
    try {
      git(['--git-dir', repos.maintained, 'multi-pack-index', 'verify', '--no-progress']);
      git(['--git-dir', repos.maintained, 'fsck', '--no-progress', '--connectivity-only']);
    } catch (err) {
      problems.push(`round ${r}: ${err.message.split('\n')[0]}`);
    }
  }
  if (checkpoints.has(r)) {
    for (const [name, gitdir] of Object.entries(repos)) {
      const s = shapeOf(gitdir);
      const t = times[name];
      const recent = t.slice(-Math.min(t.length, 50));
      const row = {
        round: r,
        repo: name,
        ...s,
        ...(await measure(gitdir, commits[at - 1])),
        msPerFetchMean: t.reduce((a, b) => a + b, 0) / t.length,
        msPerFetchLast50: recent.reduce((a, b) => a + b, 0) / recent.length,
        msPerFetchMax: Math.max(...t),
      };
      rows.push(row);
      log(JSON.stringify(row));
    }
    fs.mkdirSync(path.dirname(OUT), { recursive: true });
    fs.writeFileSync(`${OUT}.json`, JSON.stringify({ rounds: r, of: ROUNDS, objects: allOids.length, rows, problems, elapsedS: (performance.now() - t00) / 1000 }, null, 1));
    writeMarkdown(r);
  }
}

function writeMarkdown(done) {
  const f = (x, d = 0) => (typeof x === 'number' ? x.toFixed(d) : x);
  const lines = [
    `# Maintenance bench: ${done} of ${ROUNDS} fetch rounds (${allOids.length} objects), repack.midxNewLayerThreshold=${THRESHOLD ?? 8}, ${new Date().toISOString().slice(0, 16)}Z`,
    '',
    `git 2.55 \`multi-pack-index verify\` + \`fsck\` every tenth round on the maintained repository; problems: ${problems.length ? problems.join('; ') : 'none'}`,
    '',
    '| rounds | repo | layers | packs | MiB on disk | first object (ms) | reads/s | misses/s | ms per fetch (mean / last 50 / max) |',
    '|---:|---|---:|---:|---:|---:|---:|---:|---|',
    ...rows.map((r) => `| ${r.round} | ${r.repo} | ${r.layers} | ${r.packs} | ${f(r.bytes / 1048576, 1)} | ${f(r.firstObjectMs, 1)} | ${f(r.readPerSec)} | ${f(r.missPerSec)} | ${f(r.msPerFetchMean, 1)} / ${f(r.msPerFetchLast50, 1)} / ${f(r.msPerFetchMax, 0)} |`),
    '',
  ];
  fs.writeFileSync(`${OUT}.md`, lines.join('\n'));
}

log(`done in ${((performance.now() - t00) / 1000).toFixed(0)} s; problems: ${problems.length}`);
for (const p of problems.slice(0, 20)) log(p);
fs.rmSync(root, { recursive: true, force: true });
process.exit(problems.length ? 1 : 0);
