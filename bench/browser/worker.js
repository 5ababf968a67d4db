// The browser read benchmark's worker (bundled by bench/browser-opfs.mjs):
// copies the corpus served at /fixture/ into OPFS or LightningFS, then opens the
// database and reads every object twice, in the order of objects.txt.
import LightningFS from '@isomorphic-git/lightning-fs';
import { createOpfsFs, openOdb } from 'midx-odb';

async function fetchBytes(path) {
  const res = await fetch(path, { cache: 'no-store' });
  if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
  return new Uint8Array(await res.arrayBuffer());
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

async function run(backend) {
  const manifest = await (await fetch('/fixture-manifest.json', { cache: 'no-store' })).json();
  const oids = new TextDecoder().decode(await fetchBytes('/fixture/objects.txt')).split('\n').filter(Boolean).map((l) => l.split(' ')[0]);
  let fs;
  let client;
  let root;
  const top = `bench-${Date.now()}`;
  if (backend === 'opfs') {
    root = await navigator.storage.getDirectory();
    client = createOpfsFs(root);
    fs = client;
  } else {
    client = new LightningFS(top, { wipe: true });
    fs = client.promises;
  }
  const t0 = performance.now();
  let bytes = 0;
  for (const rel of manifest.files) {
    if (rel === 'objects.txt' || rel === 'DONE' || rel === 'CORPUS') continue;
    const dest = `/${top}/${rel}`;
    await mkdirs(fs, dest.slice(0, dest.lastIndexOf('/')));
    const data = await fetchBytes('/fixture/' + rel);
    bytes += data.length;
    await fs.writeFile(dest, data);
  }
  const loadMs = performance.now() - t0;
  const gitdir = `/${top}`;
  const t1 = performance.now();
  const odb = await openOdb({ fs: client, gitdir });
  await odb.read(oids[0]);
  const openFirstMs = performance.now() - t1;
  const pass = async () => {
    const t = performance.now();
    let n = 0;
    for (const oid of oids) {
      await odb.read(oid);
      n++;
    }
    const ms = performance.now() - t;
    return { objects: n, ms, perSecond: n / (ms / 1000) };
  };
  const first = await pass();
  const second = await pass();
  const stats = await odb.stats();
  await odb.close();
  if (backend === 'opfs') {
    await client.closeAll();
    await root.removeEntry(top, { recursive: true });
  }
  return { backend, files: manifest.files.length, bytes, loadMs, openFirstMs, first, second, layers: stats.layers.length, midxObjects: stats.midxObjects };
}

self.onmessage = async (e) => {
  try {
    self.postMessage({ ok: true, result: await run(e.data.backend) });
  } catch (err) {
    self.postMessage({ ok: false, error: String(err && err.stack ? err.stack : err) });
  }
};
self.postMessage({ ready: true });
