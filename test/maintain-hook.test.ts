/**
 * withMidxHook(fs, { maintain }): real isomorphic-git fetches over smart HTTP
 * (git http-backend on 127.0.0.1); after each pack the hook runs
 * odb.maintain() instead of a plain layer write. The chain and the pack count
 * stay within log2(fetches) + 8, git 2.55 verifies and fscks the repository,
 * every object reads through the database, and isomorphic-git still reads
 * the repository (log, readObject of the fetched tip).
 */

import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import http from 'isomorphic-git/http/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOdb, withMidxHook, type MaintainResult } from '../src/index.js';
import { git255 } from './git255.js';
import { git as sysGit, parseBatch, tmpdir } from './helpers.js';
import { makeSource as makeHttpSource } from './http-source.js';
import { type GitHttpServer, startGitHttpServer } from './httpserver.js';
import { chainLines, packDir } from './maintain-helpers.js';

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

function makeSource(root: string) {
  return makeHttpSource(root, { file: (n) => ({ name: `f${n % 9}.txt`, body: `file ${n}\n`.repeat(20 + (n % 30)) }), grow: (n) => `line ${n}\n` });
}

function gitChecks(gitdir: string): void {
  git255(['--git-dir', gitdir, 'multi-pack-index', 'verify', '--no-progress']);
  git255(['--git-dir', gitdir, 'fsck', '--no-progress', '--strict']);
}

async function everyObjectReads(gitdir: string): Promise<number> {
  const all = parseBatch(git255(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']));
  const odb = await openOdb({ fs, gitdir });
  try {
    for (const [oid, want] of all) {
      const got = await odb.read(oid);
      expect(got.type).toBe(want.type);
      expect(Buffer.compare(got.data, want.data)).toBe(0);
      expect((await odb.locate(oid))?.source).toBe('midx');
    }
  } finally {
    await odb.close();
  }
  return all.size;
}

const packCount = (gitdir: string) => fs.readdirSync(packDir(gitdir)).filter((n) => n.endsWith('.idx')).length;

describe('withMidxHook(fs, { maintain }) over real isomorphic-git fetches', () => {
  let root: string;
  let server: GitHttpServer;
  let source: ReturnType<typeof makeSource>;

  beforeAll(async () => {
    root = tmpdir('midx-maint-hook-');
    scratch.push(root);
    source = makeSource(root);
    source.commits(6);
    server = await startGitHttpServer(path.join(root, 'serve'), { requestTimeoutMs: 60_000 });
  });
  afterAll(async () => {
    await server?.close();
  });

  it('maintain: true — clone and 30 fetches: layers and packs stay within log2(n) + 8, git 2.55 verify/fsck clean, every object reads', async () => {
    const dir = path.join(root, 'clone');
    const gitdir = path.join(dir, '.git');
    const results: MaintainResult[] = [];
    const errors: unknown[] = [];
    const hooked = withMidxHook(fs, { maintain: true, onMaintain: (r) => results.push(r), onError: (e) => errors.push(e) });
    const url = `${server.url}/src.git`;
    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    expect(errors).toEqual([]);
    expect(results).toHaveLength(1);
    expect(chainLines(gitdir)).toHaveLength(1);
    const fetches = 30;
    for (let round = 1; round <= fetches; round++) {
      source.commits(1 + (round % 3));
      await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
      expect(errors).toEqual([]);
      expect(results).toHaveLength(round + 1);
      const bound = Math.log2(round + 1) + 8;
      expect(chainLines(gitdir).length).toBeLessThanOrEqual(bound);
      expect(packCount(gitdir)).toBeLessThanOrEqual(bound);
      if (round % 10 === 0) {
        gitChecks(gitdir);
        await everyObjectReads(gitdir);
      }
    }
    // packs were merged and deleted, layers were merged
    expect(results.some((r) => r.rolledUp.length > 1 && r.deletedPacks.length > 0)).toBe(true);
    expect(results.some((r) => r.steps.some((s) => s.type === 'compact' || (s.type === 'write' && s.absorbs.length > 0)))).toBe(true);
    expect(results.every((r) => r.looseObjects === 0 && r.prunedLoose === 0)).toBe(true);
    await hooked.close();
    // isomorphic-git reads the maintained repository: the whole history, the tip's tree
    const log = await git.log({ fs, dir, ref: 'refs/remotes/origin/main' });
    expect(log.length).toBe(Number(sysGit(['--git-dir', source.bare, 'rev-list', '--count', 'main']).toString().trim()));
    const tip = sysGit(['--git-dir', source.bare, 'rev-parse', 'main']).toString().trim();
    const { commit } = await git.readCommit({ fs, dir, oid: tip });
    await git.readTree({ fs, dir, oid: commit.tree });
    gitChecks(gitdir);
    expect(await everyObjectReads(gitdir)).toBeGreaterThan(100);
  }, 120_000);

  it('maintain: { packs: false } — layers merge, packs never do; a layer-per-fetch chain stays short', async () => {
    const dir = path.join(root, 'clone-layers');
    const gitdir = path.join(dir, '.git');
    const results: MaintainResult[] = [];
    const errors: unknown[] = [];
    const hooked = withMidxHook(fs, { maintain: { packs: false }, onMaintain: (r) => results.push(r), onError: (e) => errors.push(e) });
    const url = `${server.url}/src.git`;
    await git.clone({ fs: hooked, http, dir, url, singleBranch: true });
    for (let round = 1; round <= 12; round++) {
      source.commits(1);
      await git.fetch({ fs: hooked, http, dir, url, singleBranch: true, ref: 'main' });
    }
    await hooked.close();
    expect(errors).toEqual([]);
    expect(results.every((r) => r.rolledUp.length === 0 && r.pack === null && r.deletedPacks.length === 0)).toBe(true);
    expect(packCount(gitdir)).toBe(13);
    expect(chainLines(gitdir).length).toBeLessThanOrEqual(Math.log2(13) + 8);
    expect(chainLines(gitdir).length).toBeLessThan(13);
    gitChecks(gitdir);
    await everyObjectReads(gitdir);
  }, 120_000);
});
