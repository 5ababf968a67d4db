#!/usr/bin/env node
// isomorphic-git's own commands, stock versus through createIsogitCache(odb), on a
// repository of >= 100 packs (bench/corpus/many-packs, built if missing):
//
//   log        git.log of 1000 commits from HEAD
//   readTree   git.readTree of the corpus's largest tree, cold (the first read)
//   checkout   git.checkout of HEAD into an empty directory
//
// Contenders, each run in a fresh child process (its own VmHWM = peak memory):
//   stock        isomorphic-git with a fresh `{}` cache
//   adapter      createIsogitCache(odb), the packs under one MIDX layer (the database
//                is opened inside the timed region)
//   adapter-nomidx  the same without a MIDX (the database loads every .idx)
//   adapter+fs   createIsogitCache(odb) and createIsogitFs(fs, odb) (loose probes and
//                pack listings answered by the database), MIDX as for `adapter`
//
// usage: npm run build && node bench/isogit.mjs [--runs=3] [--corpus=dir] [--out=file.md]
// The child side: node bench/isogit.mjs --child <contender> <task> <gitdir> <arg>

import { execFileSync, spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { procStatusBytes } from './peers.mjs';
import { printTable } from './util.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(HERE);

// ---------------------------------------------------------------- child

async function child([contender, task, gitdir, arg]) {
  const git = (await import('isomorphic-git')).default;
  const { openOdb, createIsogitCache, createIsogitFs, isogitCacheStats } = await import('midx-odb');
  const out = { contender, task };
  const t0 = performance.now();
  let cache = {};
  let odb = null;
  let client = fs;
  if (contender !== 'stock') {
    odb = await openOdb({ fs, gitdir });
    cache = createIsogitCache(odb);
    if (contender === 'adapter+fs') client = createIsogitFs(fs, odb);
  }
  let digest;
  if (task === 'log') {
    const log = await git.log({ fs: client, gitdir, ref: 'HEAD', depth: Number(arg), cache });
    out.count = log.length;
    digest = JSON.stringify(log);
  } else if (task === 'readTree') {
    const { tree } = await git.readTree({ fs: client, gitdir, oid: arg, cache });
    out.count = tree.length;
    digest = JSON.stringify(tree);
  } else if (task === 'checkout') {
    fs.rmSync(path.join(gitdir, 'index'), { force: true });
    await git.checkout({ fs: client, dir: arg, gitdir, ref: 'HEAD', force: true, cache });
    const files = [];
    const walk = (d) => {
      for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
        const p = path.join(d, e.name);
        if (e.isDirectory()) walk(p);
        else files.push(`${path.relative(arg, p)} ${crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')}`);
      }
    };
    out.ms = performance.now() - t0; // the listing below is verification, not checkout
    walk(arg);
    out.count = files.length;
    digest = files.join('\n');
  } else if (task !== 'noop') {
    throw new Error(`unknown task ${task}`);
  }
  out.ms ??= performance.now() - t0;
  out.digest = digest === undefined ? '' : crypto.createHash('sha1').update(digest).digest('hex');
  if (odb) {
    const s = isogitCacheStats(cache);
    out.adapterReads = s.reads;
    out.fallthroughs = s.fallthroughs;
    await odb.close();
  }
  out.peakRss = procStatusBytes(process.pid, 'VmHWM');
  process.stdout.write(JSON.stringify(out) + '\n');
}

// ---------------------------------------------------------------- parent

function runChild(args) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [fileURLToPath(import.meta.url), '--child', ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    let s = '';
    p.stdout.on('data', (c) => (s += c));
    p.on('error', reject);
    p.on('close', (code) => (code === 0 ? resolve(JSON.parse(s.trim().split('\n').pop())) : reject(new Error(`child ${args.join(' ')} exited ${code}`))));
  });
}

/** A copy of the corpus that shares its files (hard links), so a MIDX can be added to it. */
function linkCopy(src, dest) {
  fs.mkdirSync(dest, { recursive: true });
  for (const e of fs.readdirSync(src, { withFileTypes: true })) {
    const a = path.join(src, e.name);
    const b = path.join(dest, e.name);
    if (e.isDirectory()) linkCopy(a, b);
    else fs.linkSync(a, b);
  }
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

async function main(argv) {
  const opts = Object.fromEntries(argv.filter((a) => a.startsWith('--')).map((a) => a.slice(2).split('=')));
  const runs = Number(opts.runs ?? 3);
  if (!fs.existsSync(path.join(ROOT, 'dist/node/midx-odb.js'))) throw new Error('build first: npm run build');
  let corpus = opts.corpus;
  if (!corpus) {
    const { makeCorpus, defaultCorpusDir } = await import('./corpus.mjs');
    corpus = defaultCorpusDir('many-packs');
    await makeCorpus('many-packs', corpus);
  }
  const packs = fs.readdirSync(path.join(corpus, 'objects/pack')).filter((n) => n.endsWith('.pack')).length;
  if (packs < 100) console.warn(`warning: ${corpus} has ${packs} packs (< 100)`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-odb-bench-isogit-'));
  try {
    const plain = path.join(tmp, 'plain.git');
    const withMidx = path.join(tmp, 'midx.git');
    linkCopy(corpus, plain);
    linkCopy(corpus, withMidx);
    const { openOdb } = await import('midx-odb');
    const odb = await openOdb({ fs, gitdir: withMidx });
    const layer = await odb.writeMidx({ incremental: true });
    await odb.close();
    const largestTree = fs
      .readFileSync(path.join(corpus, 'objects.txt'), 'utf8')
      .split('\n')
      .filter((l) => l.split(' ')[1] === 'tree')
      .map((l) => l.split(' '))
      .sort((a, b) => Number(b[2]) - Number(a[2]) || (a[0] < b[0] ? -1 : 1))[0];
    const commits = Number(execFileSync('git', ['--git-dir', corpus, 'rev-list', '--count', 'HEAD']).toString());
    const depth = Math.min(1000, commits);
    console.log(`corpus ${corpus}: ${packs} packs, ${commits} commits; MIDX layer ${layer}; largest tree ${largestTree[0]} (${largestTree[2]} bytes); ${runs} runs each, median`);
    const idle = [];
    for (let r = 0; r < runs; r++) idle.push((await runChild(['stock', 'noop', plain, '-'])).peakRss);
    const noop = { peakRss: median(idle) };
    console.log(`an idle child peaks at ${(noop.peakRss / 2 ** 20).toFixed(1)} MiB (node + isomorphic-git + midx-odb loaded)\n`);

    const contenders = [
      ['stock', plain],
      ['adapter', withMidx],
      ['adapter-nomidx', plain],
      ['adapter+fs', withMidx],
    ];
    const tasks = [
      ['log', `git.log depth ${depth}`, String(depth)],
      ['readTree', `readTree ${largestTree[2]} B tree (cold)`, largestTree[0]],
      ['checkout', 'checkout HEAD', null],
    ];
    const rows = [];
    for (const [task, label, arg] of tasks) {
      const digests = new Map();
      // runs interleaved (stock, adapter, adapter-nomidx, stock, ...) so that load from
      // other processes spreads over every contender
      const ms = new Map(contenders.map(([c]) => [c, []]));
      const rss = new Map(contenders.map(([c]) => [c, []]));
      const last = new Map();
      for (let r = 0; r < runs; r++) {
        for (const [contender, gitdir] of contenders) {
          const dir = arg ?? fs.mkdtempSync(path.join(tmp, 'wt-'));
          const res = await runChild([contender, task, gitdir, dir]);
          if (!arg) fs.rmSync(dir, { recursive: true, force: true });
          ms.get(contender).push(res.ms);
          rss.get(contender).push(res.peakRss);
          last.set(contender, res);
        }
      }
      for (const [contender] of contenders) {
        const res = last.get(contender);
        const t = median(ms.get(contender));
        const m = median(rss.get(contender));
        digests.set(contender, res.digest);
        if (contender !== 'stock' && res.fallthroughs) console.warn(`warning: ${contender} ${task}: ${res.fallthroughs} pack indexes fell through to isomorphic-git`);
        rows.push({ contender, metric: `${label}: time`, value: t, unit: 'ms' });
        rows.push({ contender, metric: `${label}: peak RSS`, value: m / 2 ** 20, unit: 'MiB' });
        rows.push({ contender, metric: `${label}: peak RSS above idle`, value: Math.max(0, m - noop.peakRss) / 2 ** 20, unit: 'MiB' });
        console.error(`${task} ${contender}: ${t.toFixed(0)} ms (runs: ${ms.get(contender).map((x) => x.toFixed(0)).join(' ')}), ${(m / 2 ** 20).toFixed(1)} MiB (${res.count} items${res.adapterReads !== undefined ? `, ${res.adapterReads} objects through the adapter` : ''})`);
      }
      const want = digests.get('stock');
      for (const [c, d] of digests) if (d !== want) throw new Error(`${task}: ${c} returned a different result from stock isomorphic-git`);
    }
    rows.sort((a, b) => (a.metric < b.metric ? -1 : a.metric > b.metric ? 1 : 0));
    const file = opts.out ?? path.join(HERE, 'results', 'isogit-latest.md');
    printTable(rows, { baseline: 'stock', title: `isomorphic-git ${(await import('isomorphic-git')).default.version()}: stock vs createIsogitCache, ${packs} packs (ratio < 1 is better)`, file });
    console.log(`results identical to stock for every task; table written to ${path.relative(process.cwd(), file)}`);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') {
  child(process.argv.slice(3)).catch((e) => {
    console.error(e.stack || e);
    process.exit(1);
  });
} else {
  main(process.argv.slice(2)).catch((e) => {
    console.error(e.stack || e);
    process.exit(1);
  });
}
