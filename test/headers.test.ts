/**
 * Issue 15, headers: readHeader of deltified objects reads entry headers only
 * (the size from the top delta's first bytes, the type from the chain's base
 * or the type cache), and answers as `git cat-file --batch-check` does, on a
 * history repacked by git 2.55 with deep delta chains, before and after the
 * type cache is warm, with and without a MIDX.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { tmpdir } from './helpers.js';

let dir: string;
let gitdir: string;
let expected: Map<string, { type: string; size: number }>;

beforeAll(() => {
  dir = tmpdir('midx-headers-');
  gitdir = path.join(dir, 'repo.git');
  git255(['init', '-q', '--bare', gitdir]);
  git255(['--git-dir', gitdir, 'fast-import', '--quiet'], { input: growingHistory(400, 8) });
  git255(['--git-dir', gitdir, 'repack', '-adf', '-q', '--depth=50', '--window=50']);
  const out = git255(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize) %(deltabase)']).toString();
  expected = new Map();
  const baseOf = new Map<string, string>();
  for (const line of out.trim().split('\n')) {
    const [oid, type, size, base] = line.split(' ');
    expected.set(oid, { type, size: Number(size) });
    if (!/^0+$/.test(base)) baseOf.set(oid, base);
  }
  // the point of the corpus: many deltas, and long chains of them
  let deepest = 0;
  for (let oid of baseOf.keys()) {
    let d = 0;
    while (baseOf.has(oid)) {
      oid = baseOf.get(oid)!;
      d++;
    }
    deepest = Math.max(deepest, d);
  }
  expect(baseOf.size).toBeGreaterThan(expected.size / 5);
  expect(deepest).toBeGreaterThanOrEqual(20);
}, 60_000);

/**
 * A fast-import stream of `commits` commits over `files` files that grow and
 * change a line at a time (as source files do): each version is a small edit
 * of the last, so `repack -f --depth=50` chains them deeply.
 */
function growingHistory(commits: number, files: number): string {
  const contents: string[][] = Array.from({ length: files }, (_, f) => Array.from({ length: 20 }, (_, i) => `file ${f} line ${i} ${'='.repeat((f * 7 + i) % 30)}`));
  const out: string[] = [];
  for (let c = 1; c <= commits; c++) {
    for (let k = 0; k < 2; k++) {
      const f = (c * 3 + k * 5) % files;
      const lines = contents[f];
      if (c % 3) lines.push(`commit ${c} adds a line to file ${f}`);
      else lines[(c * 13) % lines.length] = `commit ${c} rewrote this line of file ${f}`;
    }
    const msg = `commit ${c}\n`;
    out.push(`commit refs/heads/main\ncommitter C O Mitter <c@example.com> ${1700000000 + c} +0000\ndata ${msg.length}\n${msg}`);
    for (let f = 0; f < files; f++) {
      const body = contents[f].join('\n') + '\n';
      out.push(`M 100644 inline src/d${f % 3}/file${f}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    out.push('\n');
  }
  return out.join('');
}

afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('readHeader on deep delta chains, against git cat-file --batch-check', () => {
  for (const midx of [false, true]) {
    it(midx ? 'through a MIDX written by git 2.55' : 'through the pack index', async () => {
      if (midx) git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
      const odb = await openOdb({ fs, gitdir });
      const oids = [...expected.keys()];
      // cold (random order), then warm (the type cache answers most of each walk), then after reads
      for (let pass = 0; pass < 3; pass++) {
        if (pass === 2) for (const oid of oids.slice(0, 200)) await odb.read(oid);
        const order = pass === 0 ? oids.slice().sort((a, b) => (a.slice(7) < b.slice(7) ? -1 : 1)) : oids;
        const wrong: string[] = [];
        for (const oid of order) {
          const h = await odb.readHeader(oid);
          const e = expected.get(oid)!;
          if (h.type !== e.type || h.size !== e.size) wrong.push(`${oid}: ${h.type} ${h.size}, git says ${e.type} ${e.size}`);
        }
        expect(wrong.slice(0, 5)).toEqual([]);
      }
      await odb.close();
      if (midx) fs.rmSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index'));
    }, 60_000);
  }
});

describe('read on deep delta chains (reused buffers per level, every 4th level kept as a base)', () => {
  it('every object, in three orders, hashes to its id; types and sizes as git says', async () => {
    const odb = await openOdb({ fs, gitdir, deltaBaseCacheBytes: 256 * 1024 });
    const oids = [...expected.keys()];
    const orders = [oids, oids.slice().reverse(), oids.slice().sort((a, b) => (a.slice(5) < b.slice(5) ? -1 : 1))];
    for (const order of orders) {
      const wrong: string[] = [];
      // a few reads at once: the buffers are shared by every read of the process
      for (let i = 0; i < order.length; i += 4) {
        const batch = order.slice(i, i + 4);
        const objs = await Promise.all(batch.map((oid) => odb.read(oid)));
        batch.forEach((oid, k) => {
          const o = objs[k];
          const id = crypto.createHash('sha1').update(`${o.type} ${o.data.length}\0`).update(o.data).digest('hex');
          if (id !== oid || o.type !== expected.get(oid)!.type) wrong.push(oid);
        });
      }
      expect(wrong.slice(0, 5)).toEqual([]);
    }
    await odb.close();
  }, 60_000);
});
