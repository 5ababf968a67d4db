/**
 * Issue 15, headers in bulk: a pack's header table (src/pack/header-table.ts),
 * built by one pass over the pack, answers every object's type and size as
 * `git cat-file --batch-check` does: on deep OFS_DELTA chains repacked by
 * git 2.55, on REF_DELTA entries (`pack-objects --no-delta-base-offset`), on a
 * pack over 1 MiB with entries longer than a read of the pass; and it answers
 * nothing it cannot vouch for (a damaged delta still fails as a CorruptError).
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CorruptError, openOdb } from '../src/index.js';
import { internalsOf } from '../src/odb/odb.js';
import { HeaderTable, tableWorthIt } from '../src/pack/header-table.js';
import type { Pack } from '../src/pack/pack.js';
import { normalizeFs } from '../src/io/fs.js';
import { readPackIndex } from '../src/pack/idx.js';
import { SHA1 } from '../src/oid.js';
import { git255 } from './git255.js';
import { tmpdir } from './helpers.js';

let dir: string;

beforeAll(() => {
  dir = tmpdir('midx-header-table-');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** a fast-import stream: `commits` commits editing `files` small files a line at a time, and `big` incompressible blobs of 600 KiB */
function history(commits: number, files: number, big: number): Buffer {
  const contents: string[][] = Array.from({ length: files }, (_, f) => Array.from({ length: 30 }, (_, i) => `file ${f} line ${i} ${'-'.repeat((f * 5 + i) % 40)}`));
  const out: (string | Buffer)[] = [];
  for (let c = 1; c <= commits; c++) {
    const f = (c * 7) % files;
    contents[f][(c * 11) % contents[f].length] = `commit ${c} rewrote this line of file ${f}`;
    if (c % 4 === 0) contents[f].push(`commit ${c} adds a line`);
    const msg = `commit ${c}\n`;
    out.push(`commit refs/heads/main\ncommitter C O Mitter <c@example.com> ${1700000000 + c} +0000\ndata ${msg.length}\n${msg}`);
    for (let g = 0; g < files; g++) {
      const body = contents[g].join('\n') + '\n';
      out.push(`M 100644 inline src/file${g}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    if (c <= big) {
      const blob = crypto.createHash('sha256').update(`big ${c}`).digest();
      const data = Buffer.alloc(600 * 1024);
      for (let i = 0; i < data.length; i += 32) crypto.createHash('sha256').update(blob).update(String(i)).digest().copy(data, i);
      out.push(`M 100644 inline big${c}.bin\ndata ${data.length}\n`);
      out.push(data);
      out.push('\n');
    }
    out.push('\n');
  }
  return Buffer.concat(out.map((x) => (typeof x === 'string' ? Buffer.from(x) : x)));
}

/** git's answers: oid -> "type size" */
function gitHeaders(gitdir: string): Map<string, string> {
  const out = git255(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype) %(objectsize)']).toString();
  const m = new Map<string, string>();
  for (const line of out.trim().split('\n')) {
    const sp = line.indexOf(' ');
    m.set(line.slice(0, sp), line.slice(sp + 1));
  }
  return m;
}

/** the table of the repository's one pack, built by the pass over it directly; and what it answers per offset */
async function tableOf(gitdir: string): Promise<{ table: HeaderTable; byOffset: Map<number, string> }> {
  const packDir = path.join(gitdir, 'objects', 'pack');
  const idxName = fs.readdirSync(packDir).find((f) => f.endsWith('.idx'))!;
  const nfs = normalizeFs(fs);
  const idx = await readPackIndex(nfs, path.join(packDir, idxName), SHA1);
  const file = await nfs.open(path.join(packDir, idxName.replace(/\.idx$/, '.pack')));
  const g = HeaderTable.build(file, idx, file.size - 20, 20);
  let r = g.next();
  while (!r.done) r = g.next(await r.value);
  const byOffset = new Map<number, string>();
  for (let i = 0; i < idx.count; i++) byOffset.set(idx.offsetAt(i), idx.oidBytes(i).reduce((s, b) => s + b.toString(16).padStart(2, '0'), ''));
  await file.close();
  return { table: r.value, byOffset };
}

const TYPES = ['', 'commit', 'tree', 'blob', 'tag'];

/** checks every answer the table gives against git's; -> how many entries it knew whole */
function checkTable(table: HeaderTable, byOffset: Map<number, string>, want: Map<string, string>): number {
  const wrong: string[] = [];
  let known = 0;
  const h = { type: 0, size: 0 };
  for (const [offset, oid] of byOffset) {
    const type = table.typeAt(offset);
    if (type && !want.get(oid)!.startsWith(TYPES[type] + ' ')) wrong.push(`${oid}: type ${TYPES[type]}, git says ${want.get(oid)}`);
    if (table.headerAt(offset, h)) {
      known++;
      if (`${TYPES[h.type]} ${h.size}` !== want.get(oid)) wrong.push(`${oid}: ${TYPES[h.type]} ${h.size}, git says ${want.get(oid)}`);
    }
  }
  expect(wrong.slice(0, 5)).toEqual([]);
  return known;
}

describe('the header table, against git cat-file --batch-check', () => {
  it('deep OFS_DELTA chains, a pack over 1 MiB with entries longer than a read: every answer as git gives it', async () => {
    const gitdir = path.join(dir, 'ofs.git');
    git255(['init', '-q', '--bare', gitdir]);
    git255(['--git-dir', gitdir, 'fast-import', '--quiet'], { input: history(300, 6, 3) });
    git255(['--git-dir', gitdir, 'repack', '-adf', '-q', '--depth=50', '--window=50']);
    const want = gitHeaders(gitdir);
    const deltas = git255(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(deltabase)']).toString().split('\n').filter((l) => l && !/^0+$/.test(l)).length;
    expect(deltas).toBeGreaterThan(want.size / 3);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packSize = fs.statSync(path.join(packDir, fs.readdirSync(packDir).find((f) => f.endsWith('.pack'))!)).size;
    expect(packSize).toBeGreaterThan(1.5 * (1 << 20));
    const { table, byOffset } = await tableOf(gitdir);
    expect(table.count).toBe(want.size);
    // the pass knows nearly everything of a git pack (deltas whose stream opens otherwise are walked)
    expect(checkTable(table, byOffset, want)).toBeGreaterThan(want.size * 0.9);
    // the three entries longer than a read of the pass are known, from their first bytes alone
    const h = { type: 0, size: 0 };
    const big = [...byOffset.keys()].filter((o) => table.headerAt(o, h) && h.size === 600 * 1024);
    expect(big.length).toBe(3);

    // and through the database: prepareHeaders builds it, readHeader answers from it
    const odb = await openOdb({ fs, gitdir });
    const backend = internalsOf(odb).packBackend;
    await odb.refresh();
    const packs: Pack[] = [...backend.midxPacks, ...backend.packs];
    expect(packs.length).toBe(1);
    expect(await packs[0].prepareHeaders()).toBe(true);
    expect(packs[0].headerTableEntries).toBe(want.size);
    const wrong: string[] = [];
    for (const [oid, th] of want) {
      const h = await odb.readHeader(oid);
      if (`${h.type} ${h.size}` !== th) wrong.push(oid);
    }
    expect(wrong).toEqual([]);
    await odb.close();
  }, 120_000);

  it('REF_DELTA entries (pack-objects --no-delta-base-offset): types through the base id, sizes from the delta', async () => {
    const src = path.join(dir, 'ref-src.git');
    git255(['init', '-q', '--bare', src]);
    git255(['--git-dir', src, 'fast-import', '--quiet'], { input: history(120, 4, 0) });
    const gitdir = path.join(dir, 'ref.git');
    git255(['init', '-q', '--bare', gitdir]);
    const list = git255(['--git-dir', src, 'rev-list', '--objects', '--all']);
    const pack = git255(['--git-dir', src, 'pack-objects', '--stdout', '--no-delta-base-offset', '--depth=50', '--window=50', '-q'], { input: list });
    git255(['--git-dir', gitdir, 'index-pack', '--stdin'], { input: pack });
    const want = gitHeaders(gitdir);
    // the pack holds REF_DELTA entries (type 7) only, as deltas
    const verify = git255(['--git-dir', gitdir, 'verify-pack', '-v', ...fs.readdirSync(path.join(gitdir, 'objects', 'pack')).filter((f) => f.endsWith('.idx')).map((f) => path.join(gitdir, 'objects', 'pack', f))]).toString();
    expect(verify.split('\n').filter((l) => /^[0-9a-f]{40} \w+\s+\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l)).length).toBeGreaterThan(100);
    const { table, byOffset } = await tableOf(gitdir);
    // every type is known (each base is written before its deltas); a size only where the delta's stream opens with literals
    let noType = 0;
    for (const off of byOffset.keys()) if (!table.typeAt(off)) noType++;
    expect(noType).toBe(0);
    expect(checkTable(table, byOffset, want)).toBeGreaterThan(want.size * 0.7);
  }, 120_000);

  it('a damaged delta: the table leaves it unknown, and readHeader still fails as a CorruptError', async () => {
    const gitdir = path.join(dir, 'ofs.git');
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packName = fs.readdirSync(packDir).find((f) => f.endsWith('.pack'))!;
    const out = git255(['--git-dir', gitdir, 'verify-pack', '-v', path.join(packDir, packName.replace(/\.pack$/, '.idx'))]).toString();
    // a delta entry (a line with a base) in the middle of the pack: its zlib header is made invalid
    const deltaLine = out.split('\n').filter((l) => /^[0-9a-f]{40} blob\s+\d+ \d+ \d+ \d+ [0-9a-f]{40}$/.test(l))[50];
    const [oid, , , , offsetText] = deltaLine.split(/\s+/);
    const offset = Number(offsetText);
    const damaged = path.join(dir, 'damaged.git');
    fs.cpSync(gitdir, damaged, { recursive: true });
    const damagedPack = path.join(damaged, 'objects', 'pack', packName);
    const bytes = fs.readFileSync(damagedPack);
    // past the entry's header (type/size varint, then the base offset varint): the stream's first byte
    let p = offset;
    while (bytes[p] & 0x80) p++;
    p++;
    while (bytes[p] & 0x80) p++;
    p++;
    bytes[p] = 0x00;
    fs.writeFileSync(damagedPack, bytes);
    const { table } = await tableOf(damaged);
    const h = { type: 0, size: 0 };
    expect(table.headerAt(offset, h)).toBe(false);
    const odb = await openOdb({ fs, gitdir: damaged });
    const backend = internalsOf(odb).packBackend;
    await odb.refresh();
    expect(await [...backend.midxPacks, ...backend.packs][0].prepareHeaders()).toBe(true);
    await expect(odb.readHeader(oid)).rejects.toBeInstanceOf(CorruptError);
    await odb.close();
  }, 60_000);
});

describe('when a pack builds its table', () => {
  it('once its walks number an eighth of its entries and as many again would cost more than the pass', () => {
    // 10,000 entries, a pass of 8 ms
    expect(tableWorthIt(1000, 0.05, 8, 10_000)).toBe(false); // too few walks yet, however dear
    expect(tableWorthIt(1250, 0.05, 8, 10_000)).toBe(true); // 1250 * 49 us > 8 ms
    expect(tableWorthIt(5000, 0.0015, 8, 10_000)).toBe(false); // cheap walks: 5000 * 0.5 us < 8 ms
    expect(tableWorthIt(20_000, 0.0015, 8, 10_000)).toBe(true);
  });
});
