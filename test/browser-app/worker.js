/**
 * A small application, as a user would write it: a module Worker that imports
 * the package by its plain name (`import ... from 'midx-odb'`) and is bundled by
 * esbuild for the browser (test/browser-app.test.ts). It copies the sha1-chain
 * fixture into OPFS (through the package's own OPFS client), reads every object
 * with positional reads, appends the layer git 2.55 appended in steps/3, and
 * posts the results (plain data) to the page.
 *
 * Messages: { cmd: 'run' } -> { ok: true, result } | { ok: false, error }
 */

import { createOpfsFs, openOdb } from 'midx-odb';

const lines = (text) => text.split('\n').filter((l) => l.length > 0);
const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

async function fetchBytes(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}
const fetchText = async (path) => new TextDecoder().decode(await fetchBytes(path));

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

async function objectId(type, data) {
  const head = new TextEncoder().encode(`${type} ${data.length}\0`);
  const all = new Uint8Array(head.length + data.length);
  all.set(head);
  all.set(data, head.length);
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-1', all)));
}

let lastCall = '';

/** the OPFS client, with every call counted by method and file kind */
function counted(client) {
  const calls = {};
  const wrapped = {};
  for (const [name, fn] of Object.entries(client)) {
    wrapped[name] = (...args) => {
      const path = String(args[0] ?? '');
      const kind = path.endsWith('.pack') ? 'pack' : path.endsWith('.idx') ? 'idx' : path.endsWith('.midx') || path.endsWith('multi-pack-index') ? 'midx' : 'other';
      const k = `${name}:${kind}`;
      lastCall = `${name} ${path}`;
      calls[k] = (calls[k] ?? 0) + 1;
      return fn(...args);
    };
  }
  return { client: wrapped, calls };
}

async function mkdirs(fs, dir) {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += '/' + part;
    try {
      await fs.mkdir(path);
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
}

async function copy(fs, files, strip, to) {
  for (const rel of files) {
    const dest = to + rel.slice(strip.length);
    await mkdirs(fs, dest.slice(0, dest.lastIndexOf('/')));
    await fs.writeFile(dest, await fetchBytes('/fixture/' + rel));
  }
}

async function readAll(odb, expected) {
  const problems = [];
  for (const line of expected) {
    const [oid, type, size] = line.split(' ');
    try {
      const obj = await odb.read(oid);
      if (obj.type !== type || obj.data.length !== Number(size)) problems.push(`${oid}: read ${obj.type} ${obj.data.length}`);
      const id = await objectId(obj.type, obj.data);
      if (id !== oid) problems.push(`${oid}: content hashes to ${id}`);
    } catch (err) {
      problems.push(`${oid}: ${err && err.name}: ${err && err.message}`);
    }
  }
  return problems;
}

async function run() {
  const root = await navigator.storage.getDirectory();
  // a fresh directory per run
  const top = `run-${Date.now()}-${Math.random().toString(36).slice(2)}`;
  const opfs = createOpfsFs(root);
  const { client: fs, calls } = counted(opfs);
  const manifest = await (await fetch('/fixture-manifest.json', { cache: 'no-store' })).json();
  const files = manifest.files;
  const repoFiles = files.filter((f) => f.startsWith('repo.git/'));
  const expected = lines(await fetchText('/fixture/expect/objects.txt'));
  const warnings = [];
  const onWarning = (w) => warnings.push(`${w.file}: ${w.reason}`);
  const result = { environment: { hasProcess: typeof globalThis.process !== 'undefined', worker: typeof WorkerGlobalScope !== 'undefined' }, warnings };

  // 1. the whole repository, every object read through OPFS
  await copy(fs, repoFiles, 'repo.git', `/${top}/full.git`);
  for (const k of Object.keys(calls)) delete calls[k];
  const full = await openOdb({ fs, gitdir: `/${top}/full.git`, onWarning });
  const problems = await readAll(full, expected);
  const stats = await full.stats();
  result.full = {
    codecNative: stats.zlib === 'node',
    objects: expected.length,
    problems,
    layers: stats.layers.map((l) => l.checksum),
    unindexedPacks: stats.unindexedPacks,
    looseObjects: stats.looseObjects,
    verify: await full.verifyMidx().then((v) => ({ ok: v.ok, exitCode: v.exitCode })),
    calls: { ...calls },
  };
  await full.close();

  // 2. steps/2's state, then steps/3's packs and an appended layer
  const packsOf = async (k) => lines(await fetchText(`/fixture/steps/${k}/packs`)).map((idx) => idx.replace(/\.idx$/, ''));
  const step2 = await packsOf(2);
  const step3 = await packsOf(3);
  const added = step3.filter((p) => !step2.includes(p));
  const packFiles = (names) => repoFiles.filter((f) => f.startsWith('repo.git/objects/pack/') && names.some((n) => f.startsWith(`repo.git/objects/pack/${n}.`)));
  const base = repoFiles.filter((f) => !f.startsWith('repo.git/objects/pack/'));
  const gitdir = `/${top}/repo.git`;
  await copy(fs, [...base, ...packFiles(step2)], 'repo.git', gitdir);
  await copy(fs, files.filter((f) => f.startsWith('steps/2/files/')), 'steps/2/files', `${gitdir}/objects/pack`);
  const odb = await openOdb({ fs, gitdir, onWarning });
  const before = await odb.stats();
  await copy(fs, packFiles(added), 'repo.git', gitdir);
  const progress = [];
  const checksum = await odb.writeMidx({ incremental: true, onProgress: (e) => progress.push(e.phase) });
  const after = await odb.stats();
  const dDir = `${gitdir}/objects/pack/multi-pack-index.d`;
  const layer = checksum ? await fs.readFile(`${dDir}/multi-pack-index-${checksum}.midx`) : new Uint8Array(0);
  const chain = await fs.readFile(`${dDir}/multi-pack-index-chain`, { encoding: 'utf8' });
  const layerProblems = await readAll(odb, expected);
  await odb.close();
  // an aborted write leaves the directory as it was
  const aborted = await (async () => {
    const again = await openOdb({ fs, gitdir, onWarning });
    const dirBefore = (await fs.readdir(dDir)).sort();
    let name = null;
    try {
      await again.writeMidx({ signal: AbortSignal.abort() });
    } catch (err) {
      name = err.name;
    }
    const dirAfter = (await fs.readdir(dDir)).sort();
    await again.close();
    return { name, same: JSON.stringify(dirBefore) === JSON.stringify(dirAfter) };
  })();
  result.step = {
    added,
    layersBefore: before.layers.map((l) => l.checksum),
    layersAfter: after.layers.map((l) => l.checksum),
    unindexedAfter: after.unindexedPacks,
    checksum,
    layerBase64: base64(layer),
    chainText: chain,
    dirAfter: (await fs.readdir(dDir)).sort(),
    problems: layerProblems,
    progress: [...new Set(progress)],
    aborted,
  };
  await opfs.closeAll();
  await root.removeEntry(top, { recursive: true });
  return result;
}

self.onmessage = async (e) => {
  if (e.data?.cmd !== 'run') return;
  try {
    self.postMessage({ ok: true, result: await run() });
  } catch (err) {
    self.postMessage({ ok: false, error: `${String(err && err.stack ? err.stack : err)} (code ${err && err.code}, during: ${lastCall})` });
  }
};
self.postMessage({ ready: true });
