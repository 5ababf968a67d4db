/**
 * reachableObjects / countObjects against git 2.55's
 * `rev-list --objects --use-bitmap-index` on every fixture (MIDX with and
 * without bitmaps, chains, loose objects, unindexed packs, SHA-256), with and
 * without exclusions; a broken `.bitmap` is a warning and the same answer.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { Reachability } from '../src/odb/reach.js';
import type { OdbWarning } from '../src/types.js';
import { git255 } from './git255.js';
import { copyRepo, fixtures, git, walk } from './helpers.js';
import { internalsOf } from '../src/odb/odb.js';

function gitObjects(gitdir: string, include: string[], exclude: string[]): string[] {
  const out = git255(['--git-dir', gitdir, 'rev-list', '--objects', '--use-bitmap-index', ...include, ...exclude.map((e) => `^${e}`)]).toString();
  return out.split('\n').filter(Boolean).map((l) => l.split(' ')[0]).sort();
}

function gitTypes(gitdir: string, oids: string[]): Record<string, number> {
  const counts: Record<string, number> = { commit: 0, tree: 0, blob: 0, tag: 0 };
  if (!oids.length) return counts;
  const out = git255(['--git-dir', gitdir, 'cat-file', '--batch-check=%(objecttype)'], { input: oids.join('\n') + '\n' }).toString();
  for (const t of out.split('\n').filter(Boolean)) counts[t]++;
  return counts;
}

const cases = fixtures().filter((f) => f.name !== 'sha1-large-offsets');

describe('reachableObjects equals git rev-list --objects --use-bitmap-index', () => {
  for (const f of cases) {
    it(f.name, async () => {
      const gitdir = copyRepo(f);
      const commits = git255(['--git-dir', gitdir, 'rev-list', '--all']).toString().split('\n').filter(Boolean);
      const refs = git255(['--git-dir', gitdir, 'for-each-ref', '--format=%(objectname)']).toString().split('\n').filter(Boolean);
      const warnings: OdbWarning[] = [];
      const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w) });
      const hasBitmap = walk(path.join(gitdir, 'objects', 'pack')).some((p) => p.endsWith('.bitmap'));
      const chain = await new Reachability(internalsOf(odb)).bitmaps();
      // every fixture whose MIDX layers all have a .bitmap uses them
      if (hasBitmap && f.name !== 'sha1-compacted') expect(chain, 'bitmaps loaded').not.toBeNull();
      const queries: Array<[string[], string[]]> = [
        [refs, []],
        [[commits[0]], []],
        [[commits[0]], [commits[Math.floor(commits.length / 2)]]],
        [[commits[Math.floor(commits.length / 2)]], [commits[commits.length - 1]]],
        [refs, [commits[0]]],
      ];
      for (const [include, exclude] of queries) {
        const want = gitObjects(gitdir, include, exclude);
        for (const bitmaps of [true, false]) {
          const got = (await odb.reachableObjects({ include, exclude, bitmaps })).sort();
          expect(got, `${f.name} ${include} ^${exclude} bitmaps=${bitmaps}`).toEqual(want);
          const counts = await odb.countObjects({ include, exclude, bitmaps });
          const types = gitTypes(gitdir, want);
          expect(counts).toEqual({ commits: types.commit, trees: types.tree, blobs: types.blob, tags: types.tag, total: want.length });
        }
      }
      expect(warnings).toEqual([]);
      await odb.close();
    });
  }

  it('the system git (2.39) reading the same bitmaps agrees', async () => {
    for (const name of ['sha1-bitmap', 'sha1-duplicates']) {
      const gitdir = copyRepo(cases.find((c) => c.name === name)!);
      const commits = git(['--git-dir', gitdir, 'rev-list', '--all']).toString().trim().split('\n');
      const odb = await openOdb({ fs, gitdir });
      for (const [include, exclude] of [[[commits[0]], []], [[commits[0]], [commits[commits.length >> 1]]]] as Array<[string[], string[]]>) {
        const theirs = git(['--git-dir', gitdir, 'rev-list', '--objects', '--no-object-names', '--use-bitmap-index', ...include, ...exclude.map((e) => `^${e}`)]).toString().trim().split('\n').sort();
        expect((await odb.reachableObjects({ include, exclude })).sort()).toEqual(theirs);
      }
      await odb.close();
    }
  });

  it('a truncated or damaged .bitmap is a warning and a walk, with the same answer', async () => {
    for (const name of ['sha1-bitmap', 'sha1-chain-bitmap']) {
      const f = cases.find((c) => c.name === name)!;
      for (const damage of ['truncate', 'checksum', 'xor']) {
        const gitdir = copyRepo(f);
        const tip = git255(['--git-dir', gitdir, 'rev-parse', 'HEAD']).toString().trim();
        const want = gitObjects(gitdir, [tip], []);
        const bitmaps = walk(path.join(gitdir, 'objects', 'pack')).filter((p) => p.endsWith('.bitmap')).sort();
        const file = bitmaps[bitmaps.length - 1];
        const bytes = fs.readFileSync(file);
        if (damage === 'truncate') fs.writeFileSync(file, bytes.subarray(0, Math.floor(bytes.length / 2)));
        if (damage === 'checksum') {
          bytes[12] ^= 0xff;
          fs.writeFileSync(file, bytes);
        }
        if (damage === 'xor') {
          // the last entry's XOR offset beyond its index
          const H = 20;
          let at = 12 + H;
          const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
          for (let t = 0; t < 4; t++) at += 12 + 8 * dv.getUint32(at + 4);
          bytes[at + 4] = 200;
          fs.writeFileSync(file, bytes);
        }
        const warnings: OdbWarning[] = [];
        const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w) });
        expect((await odb.reachableObjects({ include: [tip] })).sort()).toEqual(want);
        expect(warnings.length, `${name} ${damage}`).toBeGreaterThan(0);
        await odb.close();
      }
    }
  });
});
