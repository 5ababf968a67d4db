/**
 * Issue 9, item 2: the code paths that only large files take, against git 2.55.
 *
 * (a) A MIDX over 256 KiB is not read whole at open: its first lookups search
 *     one fanout bucket read at its position (MidxFile.findPositional). Every
 *     bucket's first and last OID go through exists, readHeader and locate on a
 *     fresh database (so that every lookup takes that path), checked against
 *     `test-tool read-midx --show-objects` and `git cat-file --batch-check`.
 * (b) An incremental write over a base layer of more than 2,048 times the new
 *     objects asks the base "do you hold this?" by positional reads
 *     (write-plan.ts BaseLookup). A small new pack, some of whose objects are
 *     the first or last of a base bucket, gives a layer byte-identical to git
 *     2.55's.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { fastImportHistory, git255, packRevs, runTestTool } from './git255.js';
import { tmpdir } from './helpers.js';

const COMMITS = 2200;
const BLOBS_PER_COMMIT = 50;

interface Row {
  oid: string;
  offset: number;
  pack: string;
}

function showObjects(gitdir: string): Row[] {
  const out = runTestTool(['read-midx', '--show-objects', path.join(gitdir, 'objects')]);
  const rows: Row[] = [];
  for (const line of out.split('\n')) {
    const m = /^([0-9a-f]{40}) (\d+)\t(.*)$/.exec(line);
    if (m) rows.push({ oid: m[1], offset: Number(m[2]), pack: path.basename(m[3]).replace(/\.pack$/, '.idx') });
  }
  return rows;
}

/** The first and last row of every non-empty first-byte bucket. */
function bucketEnds(rows: Row[]): Row[] {
  const ends: Row[] = [];
  for (let i = 0; i < rows.length; i++) {
    const b = rows[i].oid.slice(0, 2);
    const first = i === 0 || rows[i - 1].oid.slice(0, 2) !== b;
    const last = i === rows.length - 1 || rows[i + 1].oid.slice(0, 2) !== b;
    if (first || last) ends.push(rows[i]);
  }
  return ends;
}

describe('MIDX files at the sizes that take the positional paths', () => {
  let gitdir: string;
  let commits: string[];
  let packDir: string;
  let tail: string;
  let hold: string;

  beforeAll(() => {
    gitdir = path.join(tmpdir('midx-scale-'), 'repo.git');
    commits = fastImportHistory(gitdir, { commits: COMMITS, blobsPerCommit: BLOBS_PER_COMMIT });
    packDir = path.join(gitdir, 'objects', 'pack');
    const imported = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
    // two packs, so that locate() has more than one pack to name
    const half = commits[COMMITS / 2 - 1];
    packRevs(gitdir, [half]);
    packRevs(gitdir, [commits[COMMITS - 11], `^${half}`]);
    // the last commits' objects, kept aside for (b)
    tail = packRevs(gitdir, [commits[COMMITS - 1], `^${commits[COMMITS - 11]}`]);
    hold = path.join(gitdir, '..', 'hold');
    fs.mkdirSync(hold);
    for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(packDir, tail.slice(0, -4) + ext), path.join(hold, tail.slice(0, -4) + ext));
    for (const n of imported) for (const ext of ['.pack', '.idx', '.rev']) fs.rmSync(path.join(packDir, n.slice(0, -4) + ext), { force: true });
  }, 300_000);

  it('(a) every bucket\'s first and last object in a git 2.55 MIDX over 256 KiB, looked up by positional reads', async () => {
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    const file = path.join(packDir, 'multi-pack-index');
    expect(fs.statSync(file).size).toBeGreaterThan(256 * 1024);
    const rows = showObjects(gitdir);
    expect(rows.length).toBeGreaterThan(100_000);
    const ends = bucketEnds(rows);
    expect(ends.length).toBe(512);
    const headers = new Map<string, { type: string; size: number }>();
    const batch = git255(['--git-dir', gitdir, 'cat-file', '--batch-check'], { input: ends.map((r) => r.oid).join('\n') + '\n' }).toString();
    for (const line of batch.trim().split('\n')) {
      const [oid, type, size] = line.split(' ');
      headers.set(oid, { type, size: Number(size) });
    }
    const failures: string[] = [];
    // one bucket (two objects, three questions each: 6 lookups) per fresh database, under the 16 positional lookups a file gets before its tables are loaded
    for (let i = 0; i < ends.length; i += 2) {
      const odb = await openOdb({ fs, gitdir });
      try {
        for (const r of ends.slice(i, i + 2)) {
          if (!(await odb.exists(r.oid))) failures.push(`exists ${r.oid}`);
          const h = await odb.readHeader(r.oid).catch((err) => ({ type: String(err), size: -1 }));
          if (h.type !== headers.get(r.oid)!.type || h.size !== headers.get(r.oid)!.size) failures.push(`readHeader ${r.oid}: ${h.type} ${h.size}`);
          const loc = await odb.locate(r.oid);
          if (!loc || loc.source !== 'midx' || loc.pack !== r.pack || loc.offset !== r.offset) failures.push(`locate ${r.oid}: ${JSON.stringify(loc)}`);
        }
      } finally {
        await odb.close();
      }
    }
    expect(failures).toEqual([]);
    fs.rmSync(file);
  }, 300_000);

  it('(b) a small layer over a base layer of 100k+ objects: byte-identical to git 2.55', async () => {
    const dDir = path.join(packDir, 'multi-pack-index.d');
    const chainFile = path.join(dDir, 'multi-pack-index-chain');
    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    const chainBase = fs.readFileSync(chainFile);
    const rows = showObjects(gitdir);
    expect(rows.length).toBeGreaterThan(100_000);
    // the new pack: 20 objects of the last commits (new) and 12 objects of the base, each the first or last of its bucket
    const ends = bucketEnds(rows);
    // (ends alternates first, last, bucket by bucket: every bucket holds more than one object)
    const dups = Array.from({ length: 12 }, (_, k) => ends[2 * ((k * 21) % 256) + (k & 1)].oid);
    for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(hold, tail.slice(0, -4) + ext), path.join(packDir, tail.slice(0, -4) + ext));
    const revList = git255(['--git-dir', gitdir, 'rev-list', '--objects', commits[COMMITS - 1], `^${commits[COMMITS - 11]}`]).toString();
    const fresh = revList
      .trim()
      .split('\n')
      .map((l) => l.slice(0, 40))
      .slice(0, 20);
    const hex = git255(['--git-dir', gitdir, 'pack-objects', '-q', path.join(packDir, 'pack')], { input: [...fresh, ...dups].join('\n') + '\n' })
      .toString()
      .trim();
    expect(fs.existsSync(path.join(packDir, `pack-${hex}.idx`))).toBe(true);
    for (const ext of ['.pack', '.idx']) fs.rmSync(path.join(packDir, tail.slice(0, -4) + ext));
    // small enough for the positional path: the pack's objects * 2048 < base objects
    expect((fresh.length + dups.length) * 2048).toBeLessThan(rows.length);

    git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental']);
    const chainGit = fs.readFileSync(chainFile, 'utf8');
    const gitHex = chainGit.trim().split('\n').pop()!;
    const layerFile = path.join(dDir, `multi-pack-index-${gitHex}.midx`);
    const gitBytes = fs.readFileSync(layerFile);
    fs.rmSync(layerFile);
    fs.writeFileSync(chainFile, chainBase);

    const odb = await openOdb({ fs, gitdir });
    let ourHex: string | null;
    try {
      ourHex = await odb.writeMidx({ incremental: true });
    } finally {
      await odb.close();
    }
    expect(ourHex).toBe(gitHex);
    expect(Buffer.compare(fs.readFileSync(layerFile), gitBytes)).toBe(0);
    expect(fs.readFileSync(chainFile, 'utf8')).toBe(chainGit);
    // the duplicates were left out of the layer: it holds the new objects only
    const info = runTestTool(['read-midx', path.join(gitdir, 'objects'), gitHex]);
    expect(info).toContain(`num_objects: ${fresh.length}\n`);
  }, 300_000);
});
