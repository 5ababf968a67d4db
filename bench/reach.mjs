// Reachability with MIDX bitmaps: git 2.55's rev-list --count with and without bitmaps beside
// our countObjects / reachableObjects (database just opened, then warm) and our plain walk.
//
//   node bench/reach.mjs [--commits=12000] [--keep]
//
// The repository: a linear history made by git fast-import (each commit changes three files in
// a few directories: ~8 objects a commit), repacked by git into one pack, then a MIDX with a
// .bitmap written by this library (`writeMidx({ bitmap: true })`, byte-identical to git's).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOdb } from 'midx-odb';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const opt = Object.fromEntries(process.argv.slice(2).filter((a) => a.startsWith('--')).map((a) => { const [k, v] = a.slice(2).split('='); return [k, v ?? true]; }));
const COMMITS = Number(opt.commits ?? 12000);
const GIT255 = execFileSync(path.join(HERE, '..', '..', 'shared', 'git-2.55', 'setup.sh'), { encoding: 'utf8' }).trim().split('\n').pop();
const GIT = path.join(GIT255, 'git', 'bin', 'git');
const env = { ...process.env, GIT_CONFIG_NOSYSTEM: '1', HOME: os.tmpdir() };
const git = (gitdir, args, input) => execFileSync(GIT, ['--git-dir', gitdir, ...args], { input, env, maxBuffer: 1 << 30 });

function history(gitdir) {
  git(gitdir, ['init', '-q', '--bare', gitdir]);
  const out = [];
  let t = 1_700_000_000;
  for (let c = 1; c <= COMMITS; c++) {
    out.push(`commit refs/heads/main\ncommitter C <c@example.com> ${t++} +0000\ndata 3\nc${c % 10}\n`);
    for (let k = 0; k < 3; k++) {
      const f = (c * 7 + k * 13) % 400;
      const body = `file ${f} at ${c}.${k}\n`;
      out.push(`M 100644 inline d${f % 8}/s${f % 5}/f${f}.txt\ndata ${body.length}\n${body}`);
    }
    out.push('\n');
  }
  git(gitdir, ['fast-import', '--quiet'], out.join(''));
  git(gitdir, ['repack', '-adq']);
}

async function time(fn, rounds = 3) {
  let best = Infinity;
  let result;
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    result = await fn();
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e6);
  }
  return { ms: best, result };
}

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-reach-'));
const gitdir = path.join(root, 'repo.git');
try {
  history(gitdir);
  const tip = git(gitdir, ['rev-parse', 'main']).toString().trim();
  const objects = Number(/in-pack: (\d+)/.exec(git(gitdir, ['count-objects', '-v']).toString())[1]);
  const w0 = process.hrtime.bigint();
  {
    const odb = await openOdb({ fs, gitdir });
    await odb.writeMidx({ bitmap: true });
    await odb.close();
  }
  const writeMs = Number(process.hrtime.bigint() - w0) / 1e6;
  const rows = [];
  const gitCount = (bitmap) => time(() => Number(git(gitdir, ['rev-list', '--objects', '--count', ...(bitmap ? ['--use-bitmap-index'] : []), tip]).toString().trim()));
  const gb = await gitCount(true);
  rows.push(['git 2.55 rev-list --objects --count --use-bitmap-index', gb.ms, gb.result]);
  const gn = await gitCount(false);
  rows.push(['git 2.55 rev-list --objects --count (no bitmap)', gn.ms, gn.result]);
  const opened = await time(async () => {
    const odb = await openOdb({ fs, gitdir });
    const c = await odb.countObjects({ include: [tip] });
    await odb.close();
    return c.total;
  });
  rows.push(['ours: openOdb + countObjects (bitmap)', opened.ms, opened.result]);
  const odb = await openOdb({ fs, gitdir });
  await odb.countObjects({ include: [tip] });
  const warm = await time(async () => (await odb.countObjects({ include: [tip] })).total, 10);
  rows.push(['ours: countObjects, warm (bitmap)', warm.ms, warm.result]);
  const list = await time(async () => (await odb.reachableObjects({ include: [tip] })).length, 3);
  rows.push(['ours: reachableObjects, warm (bitmap; ids as hex)', list.ms, list.result]);
  const walk = await time(async () => (await odb.countObjects({ include: [tip], bitmaps: false })).total, 1);
  rows.push(['ours: countObjects, plain walk (bitmaps: false)', walk.ms, walk.result]);
  await odb.close();
  console.log(`repository: ${COMMITS} commits, ${objects} objects in one pack; writeMidx({ bitmap: true }) ${writeMs.toFixed(0)} ms`);
  console.log('| | ms | objects |\n|---|---:|---:|');
  for (const [name, ms, n] of rows) console.log(`| ${name} | ${ms < 10 ? ms.toFixed(1) : ms.toFixed(0)} | ${n} |`);
  if (rows.some((r) => r[2] !== objects)) console.log('(counts differ from the object total: objects not reachable from main?)');
} finally {
  if (!opt.keep) fs.rmSync(root, { recursive: true, force: true });
}
