// npm run demo: a sample repository with many packs, a MIDX layer appended after every fetch
// (as the writeMidx hook does), then reads and lookups beside isomorphic-git. A few seconds.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import git from 'isomorphic-git';
import { openOdb } from 'midx-odb';

const FETCHES = 40;
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'midx-odb-demo-'));
const env = {
  ...process.env,
  GIT_AUTHOR_NAME: 'Demo', GIT_AUTHOR_EMAIL: 'demo@example.com', GIT_COMMITTER_NAME: 'Demo', GIT_COMMITTER_EMAIL: 'demo@example.com',
  GIT_AUTHOR_DATE: '1700000000 +0000', GIT_COMMITTER_DATE: '1700000000 +0000', GIT_CONFIG_NOSYSTEM: '1', HOME: root,
};
const run = (args, cwd) => execFileSync('git', args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] }).toString();
const ms = (t) => `${(performance.now() - t).toFixed(1)} ms`;

const upstream = path.join(root, 'upstream.git');
const clone = path.join(root, 'clone.git');
run(['init', '-q', '--bare', '-b', 'main', upstream]);
let seed = 1;
const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
let mark = 0;
let when = 1700000000;
/** n commits on main, each rewriting a few files, through git fast-import (fast: one process a batch) */
function commitBatch(n, round) {
  let stream = '';
  for (let i = 0; i < n; i++) {
    const files = [];
    for (let k = 0; k < 8; k++) {
      const lines = Array.from({ length: 20 + Math.floor(rnd() * 200) }, (_, j) => `round ${round} line ${j} ${rnd().toString(36)}`);
      files.push([`d${Math.floor(rnd() * 8)}/f${Math.floor(rnd() * 40)}.txt`, lines.join('\n') + '\n']);
    }
    const msg = `round ${round} commit ${i}\n`;
    stream += `commit refs/heads/main\nmark :${++mark}\ncommitter Demo <demo@example.com> ${when++} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}`;
    if (mark > 1) stream += `from :${mark - 1}\n`;
    for (const [name, body] of files) stream += `M 100644 inline ${name}\ndata ${Buffer.byteLength(body)}\n${body}\n`;
  }
  execFileSync('git', ['--git-dir', upstream, 'fast-import', '--quiet', `--import-marks-if-exists=${root}/marks`, `--export-marks=${root}/marks`], { input: stream, env });
}

console.log(`midx-odb demo in ${root}\n`);
commitBatch(20, 0);
run(['clone', '-q', '--bare', '--no-local', upstream, clone]);
run(['config', 'transfer.unpackLimit', '1'], clone); // every fetch keeps its pack, as a big fetch would
run(['config', 'gc.auto', '0'], clone);

const odb = await openOdb({ fs, gitdir: clone });
console.log(`1. ${FETCHES} fetches, each followed by odb.writeMidx({ incremental: true })`);
let layerMs = 0;
for (let f = 1; f <= FETCHES; f++) {
  commitBatch(5, f);
  run(['fetch', '-q', upstream, 'main:main'], clone);
  const t = performance.now();
  const checksum = await odb.writeMidx({ incremental: true });
  layerMs += performance.now() - t;
  if (f <= 3 || f === FETCHES) console.log(`   fetch ${String(f).padStart(2)}: new layer ${checksum} (${ms(t)})`);
  else if (f === 4) console.log('   ...');
}
const stats = await odb.stats();
console.log(`   chain: ${stats.layers.length} layers over ${stats.midxPacks.length} packs, ${stats.midxObjects} objects; mean append ${(layerMs / FETCHES).toFixed(1)} ms`);
console.log(`   git 2.39 cannot read chains, but its fsck of the packs is clean: ${run(['-c', 'core.multiPackIndex=false', 'fsck', '--no-dangling'], clone).trim() || 'ok'}\n`);

const all = run(['cat-file', '--batch-all-objects', '--batch-check=%(objectname)'], clone).trim().split('\n');
const sample = Array.from({ length: 3000 }, () => all[Math.floor(rnd() * all.length)]);

console.log(`2. reading ${sample.length} random objects of ${all.length}, both sides from a cold start (a new database, a new cache)`);
let t = performance.now();
const cold = await openOdb({ fs, gitdir: clone });
for (const oid of sample) await cold.read(oid);
const ours = performance.now() - t;
await cold.close();
console.log(`   midx-odb read:               ${ours.toFixed(0).padStart(6)} ms  (${(sample.length / ours * 1000).toFixed(0)} obj/s)`);
const cache = {};
t = performance.now();
for (const oid of sample) await git.readObject({ fs, gitdir: clone, oid, cache, format: 'content' });
const iso = performance.now() - t;
console.log(`   isomorphic-git readObject:   ${iso.toFixed(0).padStart(6)} ms  (${(sample.length / iso * 1000).toFixed(0)} obj/s)  -> midx-odb ${(iso / ours).toFixed(1)}x faster`);

t = performance.now();
for (const oid of sample) await odb.exists(oid);
const ex = performance.now() - t;
t = performance.now();
for (const oid of sample.slice(0, 500)) await odb.expandOid(oid.slice(0, 8));
const xp = performance.now() - t;
console.log(`   midx-odb exists:             ${ex.toFixed(0).padStart(6)} ms  (${(sample.length / ex * 1000).toFixed(0)} lookups/s)`);
console.log(`   midx-odb expandOid (8 hex):  ${xp.toFixed(0).padStart(6)} ms  (${(500 / xp * 1000).toFixed(0)} ids/s)`);
const where = await odb.locate(sample[0]);
console.log(`   e.g. ${sample[0]} is at offset ${where.offset} of ${where.pack}, through layer ${where.layer?.slice(0, 12)}…\n`);

console.log('3. compaction, then verify');
const chain = (await odb.stats()).layers.map((l) => l.checksum);
t = performance.now();
const compacted = await odb.compactMidx({ from: chain[1], to: chain[chain.length - 1], incremental: true });
const after = await odb.stats();
console.log(`   odb.compactMidx(layers 2..${chain.length}): one v2 layer ${compacted}; the chain has ${after.layers.length} layers now (${ms(t)})`);
const v = await odb.verifyMidx();
console.log(`   odb.verifyMidx(): ${v.ok ? 'ok' : JSON.stringify(v.problems)}`);
t = performance.now();
const full = await odb.writeMidx({ incremental: false, version: 1 });
console.log(`   odb.writeMidx() over the compacted chain: ${full ?? 'nothing to do'}${full ? '' : ' (git too leaves an up-to-date chain alone)'} (${ms(t)})`);
await odb.close();
if (!process.env.KEEP) fs.rmSync(root, { recursive: true, force: true });
