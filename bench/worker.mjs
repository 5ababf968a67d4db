// One measurement in a fresh process, so that its peak memory (VmHWM) is its own.
// usage: node bench/worker.mjs <task> <gitdir> <oids-file> [extra]
// prints one JSON line: {ms, count, peakRss, ...}
import crypto from 'node:crypto';
import fs from 'node:fs';
import { procStatusBytes } from './peers.mjs';

const [task, gitdir, oidsFile, extra] = process.argv.slice(2);
const oids = oidsFile && oidsFile !== '-' ? fs.readFileSync(oidsFile, 'utf8').split('\n').filter(Boolean) : [];
const out = {};
const now = () => performance.now();

// answers, for the runner to check against git's: one "<type> <size>" line per id, hashed
// after the timed loop; every 50th object's content is kept and its id recomputed
const answerLines = [];
const kept = [];
function answer(i, oid, type, size, data) {
  answerLines.push(`${type} ${size}`);
  if (data && i % 50 === 0) kept.push({ oid, type, data });
}
function finishAnswers() {
  out.answers = crypto.createHash('sha1').update(answerLines.join('\n')).digest('hex');
  out.badContent = kept.filter((k) => crypto.createHash('sha1').update(`${k.type} ${k.data.length}\0`).update(k.data).digest('hex') !== k.oid).map((k) => k.oid);
}

async function ours() {
  const { openOdb } = await import('midx-odb');
  return openOdb;
}

switch (task) {
  case 'baseline': {
    // a Node process that loads the library and does nothing: the floor under every peak-memory number
    await ours();
    Object.assign(out, { ms: 0, count: 0 });
    break;
  }
  case 'ours-read': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    let bytes = 0;
    for (let i = 0; i < oids.length; i++) {
      const o = await odb.read(oids[i]);
      bytes += o.data.length;
      answer(i, oids[i], o.type, o.data.length, o.data);
    }
    Object.assign(out, { ms: now() - t, count: oids.length, bytes });
    finishAnswers();
    break;
  }
  case 'ours-exists-absent': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    let n = 0;
    for (const oid of oids) if (await odb.exists(oid)) n++;
    Object.assign(out, { ms: now() - t, count: oids.length, found: n });
    break;
  }
  case 'ours-exists': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    let n = 0;
    for (const oid of oids) if (await odb.exists(oid)) n++;
    Object.assign(out, { ms: now() - t, count: oids.length, found: n });
    break;
  }
  case 'ours-header': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    for (let i = 0; i < oids.length; i++) {
      const h = await odb.readHeader(oids[i]);
      answer(i, oids[i], h.type, h.size);
    }
    Object.assign(out, { ms: now() - t, count: oids.length });
    finishAnswers();
    break;
  }
  case 'ours-first': {
    const openOdb = await ours();
    const t = now();
    const odb = await openOdb({ fs, gitdir });
    const o = await odb.read(oids[0]);
    answer(0, oids[0], o.type, o.data.length, o.data);
    Object.assign(out, { ms: now() - t, count: 1 });
    finishAnswers();
    break;
  }
  case 'ours-expand': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    let n = 0;
    for (const oid of oids) if ((await odb.expandOid(oid.slice(0, 10))) === oid) n++;
    Object.assign(out, { ms: now() - t, count: oids.length, ok: n });
    break;
  }
  case 'ours-write': {
    const odb = await (await ours())({ fs, gitdir });
    const t = now();
    const sum = await odb.writeMidx(extra ? JSON.parse(extra) : {});
    Object.assign(out, { ms: now() - t, count: 1, checksum: sum });
    break;
  }
  case 'ours-chain': {
    // appends one layer per pack, as after each fetch: the packs are brought into the
    // directory one at a time; then small packs of new objects on top of the whole chain
    const { execFileSync } = await import('node:child_process');
    const path = await import('node:path');
    const packDir = path.join(gitdir, 'objects', 'pack');
    const hold = path.join(gitdir, 'held-packs');
    fs.mkdirSync(hold, { recursive: true });
    const names = fs.readdirSync(packDir).filter((f) => f.endsWith('.pack')).map((f) => f.slice(0, -5)).sort();
    for (const n of names) for (const ext of ['.pack', '.idx', '.rev']) if (fs.existsSync(path.join(packDir, n + ext))) fs.renameSync(path.join(packDir, n + ext), path.join(hold, n + ext));
    const odb = await (await ours())({ fs, gitdir });
    const times = [];
    for (const n of names) {
      for (const ext of ['.pack', '.idx', '.rev']) if (fs.existsSync(path.join(hold, n + ext))) fs.renameSync(path.join(hold, n + ext), path.join(packDir, n + ext));
      const t = now();
      await odb.writeMidx({ incremental: true });
      times.push(now() - t);
    }
    const small = [];
    for (let i = 0; i < 5; i++) {
      const ids = [];
      for (let k = 0; k < 10; k++) ids.push(execFileSync('git', ['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: `small pack ${i} object ${k} ${Math.random()}\n` }).toString().trim());
      execFileSync('git', ['--git-dir', gitdir, 'pack-objects', '-q', path.join(packDir, 'pack')], { input: ids.join('\n') + '\n' });
      const t = now();
      await odb.writeMidx({ incremental: true });
      small.push(now() - t);
    }
    const mean = (a) => a.reduce((x, y) => x + y, 0) / a.length;
    const k = Math.max(1, Math.min(10, Math.floor(times.length / 4)));
    const stats = await odb.stats();
    Object.assign(out, { ms: mean(small), count: 1, layers: stats.layers.length, objects: stats.midxObjects, firstAppends: mean(times.slice(0, k)), lastAppends: mean(times.slice(-k)), smallOnTop: mean(small) });
    break;
  }
  case 'isogit-read': {
    const git = (await import('isomorphic-git')).default;
    const cache = {};
    const t = now();
    let bytes = 0;
    for (let i = 0; i < oids.length; i++) {
      const r = await git.readObject({ fs, gitdir, oid: oids[i], cache, format: 'content' });
      bytes += r.object.length;
      answer(i, oids[i], r.type, r.object.length, r.object);
    }
    Object.assign(out, { ms: now() - t, count: oids.length, bytes });
    finishAnswers();
    break;
  }
  case 'isogit-first': {
    const git = (await import('isomorphic-git')).default;
    const t = now();
    const r = await git.readObject({ fs, gitdir, oid: oids[0], cache: {}, format: 'content' });
    answer(0, oids[0], r.type, r.object.length, r.object);
    Object.assign(out, { ms: now() - t, count: 1 });
    finishAnswers();
    break;
  }
  case 'isogit-expand': {
    const git = (await import('isomorphic-git')).default;
    const cache = {};
    const t = now();
    let n = 0;
    for (const oid of oids) if ((await git.expandOid({ fs, gitdir, oid: oid.slice(0, 10), cache })) === oid) n++;
    Object.assign(out, { ms: now() - t, count: oids.length, ok: n });
    break;
  }
  default:
    throw new Error(`unknown task ${task}`);
}
out.peakRss = procStatusBytes(process.pid, 'VmHWM');
process.stdout.write(JSON.stringify(out) + '\n');
