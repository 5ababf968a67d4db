/**
 * The browser side of test/browser.test.ts. Served from 127.0.0.1 next to the
 * browser bundle (/midx-odb.js), LightningFS's UMD build (/lightning-fs.js)
 * and the sha1-chain fixture (/fixture/..., listed by /fixture-manifest.json).
 *
 * window.runBrowserTest() copies the fixture into a fresh LightningFS twice:
 *  - /full.git: the whole repository (3-layer chain, a pack outside it, loose
 *    objects); every object of expect/objects.txt is read and hashed;
 *  - /repo.git: the state after steps/2 (layers 1 and 2 and their packs); the
 *    packs steps/3 added are copied in and writeMidx({ incremental: true })
 *    appends layer 3, which is returned (bytes) for the test to compare with
 *    what git 2.55 wrote, and objects are read through it.
 * It returns plain data; the assertions live in the test.
 */

import { openOdb } from '/midx-odb.js';

const log = (line) => {
  document.getElementById('log').textContent += line + '\n';
};

async function fetchBytes(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
}

async function fetchText(path) {
  return new TextDecoder().decode(await fetchBytes(path));
}

const lines = (text) => text.split('\n').filter((l) => l.length > 0);

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

function base64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function equalBytes(a, b) {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** git's object id: SHA-1 of "<type> <size>\0<content>", by WebCrypto. */
async function objectId(type, data) {
  const head = new TextEncoder().encode(`${type} ${data.length}\0`);
  const all = new Uint8Array(head.length + data.length);
  all.set(head);
  all.set(data, head.length);
  return hex(new Uint8Array(await crypto.subtle.digest('SHA-1', all)));
}

/** mkdir -p, LightningFS having no recursive mkdir. */
async function mkdirs(pfs, dir) {
  let path = '';
  for (const part of dir.split('/').filter(Boolean)) {
    path += '/' + part;
    try {
      await pfs.mkdir(path);
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
    }
  }
}

/** Copies fixture files (paths relative to the fixture) to `to` + their path after `strip`. */
async function copy(pfs, files, strip, to) {
  for (const rel of files) {
    const dest = to + rel.slice(strip.length);
    await mkdirs(pfs, dest.slice(0, dest.lastIndexOf('/')));
    await pfs.writeFile(dest, await fetchBytes('/fixture/' + rel));
  }
}

/** Sets the packs' mtimes from the fixture's `mtimes` (seconds), as git saw them. */
async function setMtimes(pfs, packDir, mtimes) {
  for (const line of lines(mtimes)) {
    const [name, seconds] = line.split(' ');
    if (await pfs.stat(`${packDir}/${name}`).then(() => true, () => false)) await pfs.utimes(`${packDir}/${name}`, Number(seconds), Number(seconds));
  }
}

/** Reads every listed object: type, size, and the SHA-1 of what came back. */
async function readAll(odb, expected) {
  const problems = [];
  for (const line of expected) {
    const [oid, type, size] = line.split(' ');
    try {
      const obj = await odb.read(oid);
      if (obj.type !== type || obj.data.length !== Number(size)) problems.push(`${oid}: read ${obj.type} ${obj.data.length}, expected ${type} ${size}`);
      const id = await objectId(obj.type, obj.data);
      if (id !== oid) problems.push(`${oid}: content hashes to ${id}`);
      const header = await odb.readHeader(oid);
      if (header.type !== type || header.size !== Number(size)) problems.push(`${oid}: header ${header.type} ${header.size}, expected ${type} ${size}`);
    } catch (err) {
      problems.push(`${oid}: ${err && err.name}: ${err && err.message}`);
    }
  }
  return problems;
}

async function sourcesOf(odb, oids) {
  const counts = {};
  for (const oid of oids) {
    const loc = await odb.locate(oid);
    const key = loc ? loc.source : 'none';
    counts[key] = (counts[key] || 0) + 1;
  }
  return counts;
}

window.runBrowserTest = async function runBrowserTest() {
  const t0 = performance.now();
  const manifest = await (await fetch('/fixture-manifest.json', { cache: 'no-store' })).json();
  const files = manifest.files;
  const warnings = [];
  const onWarning = (w) => warnings.push(`${w.file}: ${w.reason}`);

  // a fresh database per run: a new name, and wipe in case it exists
  const lfs = new LightningFS(`midx-odb-${Date.now()}-${Math.random().toString(36).slice(2)}`, { wipe: true });
  const pfs = lfs.promises;
  const result = {
    environment: {
      hasProcess: typeof globalThis.process !== 'undefined',
      hasBuffer: typeof globalThis.Buffer !== 'undefined',
      secureContext: globalThis.isSecureContext,
      userAgent: navigator.userAgent,
    },
    warnings,
  };

  // --- 1. the whole repository: a chain, a pack outside it, loose objects ---
  const repoFiles = files.filter((f) => f.startsWith('repo.git/'));
  await copy(pfs, repoFiles, 'repo.git', '/full.git');
  await setMtimes(pfs, '/full.git/objects/pack', await fetchText('/fixture/mtimes'));
  const expected = lines(await fetchText('/fixture/expect/objects.txt'));
  const full = await openOdb({ fs: lfs, gitdir: '/full.git', onWarning });
  const fullStats = await full.stats();
  result.full = {
    codecNative: fullStats.zlib === 'node',
    files: repoFiles.length,
    layers: fullStats.layers.map((l) => l.checksum),
    midxPacks: fullStats.midxPacks,
    packs: fullStats.packs,
    looseObjects: fullStats.looseObjects,
    objects: expected.length,
    problems: await readAll(full, expected),
    sources: await sourcesOf(full, expected.map((l) => l.split(' ')[0])),
    listed: await (async () => {
      let n = 0;
      for await (const _ of full.listOids()) n++;
      return n;
    })(),
    expanded: await full.expandOid(expected[0].slice(0, 10)),
    verify: await full.verifyMidx().then((v) => ({ ok: v.ok, exitCode: v.exitCode, problems: v.problems.map((p) => p.stderr) })),
  };
  await full.close();
  log(`full: ${expected.length} objects read`);

  // --- 2. the state after steps/2, then the packs of steps/3 and an appended layer ---
  const packsOf = async (k) => lines(await fetchText(`/fixture/steps/${k}/packs`)).map((idx) => idx.replace(/\.idx$/, ''));
  const step2 = await packsOf(2);
  const step3 = await packsOf(3);
  const added = step3.filter((p) => !step2.includes(p));
  const packFiles = (names) => repoFiles.filter((f) => f.startsWith('repo.git/objects/pack/') && names.some((n) => f.startsWith(`repo.git/objects/pack/${n}.`)));
  const base = repoFiles.filter((f) => !f.startsWith('repo.git/objects/pack/'));
  await copy(pfs, [...base, ...packFiles(step2)], 'repo.git', '/repo.git');
  await copy(pfs, files.filter((f) => f.startsWith('steps/2/files/')), 'steps/2/files', '/repo.git/objects/pack');
  await setMtimes(pfs, '/repo.git/objects/pack', await fetchText('/fixture/mtimes'));

  const odb = await openOdb({ fs: lfs, gitdir: '/repo.git', onWarning });
  const before = await odb.stats();
  const layer12 = [];
  for (const l of before.layers) for (const line of lines(await fetchText(`/fixture/expect/read-midx.${before.layers.indexOf(l) + 1}.txt`))) {
    const m = /^([0-9a-f]{40}) /.exec(line);
    if (m) layer12.push(m[1]);
  }
  const beforeReads = await readAll(odb, expected.filter((l) => layer12.includes(l.split(' ')[0])));

  // "fetch" the next packs: copy them in, as isomorphic-git would write them
  await copy(pfs, packFiles(added), 'repo.git', '/repo.git');
  await setMtimes(pfs, '/repo.git/objects/pack', await fetchText('/fixture/mtimes'));
  await odb.refresh();
  const between = await odb.stats();
  const tWrite = performance.now();
  const checksum = await odb.writeMidx({ incremental: true });
  const writeMs = performance.now() - tWrite;
  const after = await odb.stats();

  const dDir = '/repo.git/objects/pack/multi-pack-index.d';
  const written = checksum ? await pfs.readFile(`${dDir}/multi-pack-index-${checksum}.midx`) : new Uint8Array(0);
  const chain = await pfs.readFile(`${dDir}/multi-pack-index-chain`);
  const gitLayer = files.find((f) => f.startsWith('steps/3/files/multi-pack-index.d/') && f.endsWith('.midx') && !files.includes(f.replace('steps/3/', 'steps/2/')));
  const gitLayerBytes = await fetchBytes('/fixture/' + gitLayer);
  const gitChainBytes = await fetchBytes('/fixture/steps/3/files/multi-pack-index.d/multi-pack-index-chain');

  // every object of the new layer, through the new layer
  const layer3 = lines(await fetchText('/fixture/expect/read-midx.3.txt'))
    .map((line) => /^([0-9a-f]{40}) \d+\t.*\/(pack-[0-9a-f]{40})\.pack$/.exec(line))
    .filter(Boolean)
    .map((m) => ({ oid: m[1], pack: m[2] }));
  const wrongPlace = [];
  for (const { oid, pack } of layer3) {
    const loc = await odb.locate(oid);
    if (!loc || loc.source !== 'midx' || loc.layer !== checksum || loc.pack !== `${pack}.idx`) wrongPlace.push(`${oid}: ${JSON.stringify(loc)}`);
  }
  const layer3Oids = layer3.map((o) => o.oid);
  const afterReads = await readAll(odb, expected.filter((l) => layer3Oids.includes(l.split(' ')[0])));
  const dirAfter = (await pfs.readdir(dDir)).sort();
  const verify = await odb.verifyMidx();
  await odb.close();

  // a second database on the same LightningFS sees the chain as written
  const reopened = await openOdb({ fs: lfs, gitdir: '/repo.git', onWarning });
  const reopenedStats = await reopened.stats();
  const reopenedLoc = await reopened.locate(layer3Oids[0]);
  await reopened.close();

  result.step = {
    codecNative: before.zlib === 'node',
    step2,
    added,
    layersBefore: before.layers.map((l) => l.checksum),
    packsBefore: before.packs,
    beforeReads: { objects: layer12.length, problems: beforeReads },
    packsBetween: between.packs,
    checksum,
    writeMs,
    layersAfter: after.layers.map((l) => l.checksum),
    packsAfter: after.packs,
    newLayerPacks: after.layers.at(-1)?.packs,
    newLayerObjects: after.layers.at(-1)?.objects,
    gitLayer,
    layerEqual: equalBytes(written, gitLayerBytes),
    chainEqual: equalBytes(chain, gitChainBytes),
    layerBase64: base64(written),
    chainText: new TextDecoder().decode(chain),
    dirAfter,
    layer3: { objects: layer3.length, wrongPlace, problems: afterReads },
    verify: { ok: verify.ok, exitCode: verify.exitCode, problems: verify.problems.map((p) => p.stderr) },
    reopened: { layers: reopenedStats.layers.map((l) => l.checksum), locate: reopenedLoc },
  };
  result.ms = performance.now() - t0;
  log(`step: layer ${checksum} written in ${writeMs.toFixed(1)} ms`);
  return result;
};

window.pageReady = true;
