/**
 * Issue 9, item 3: `--base=<value>` as git 2.55 treats it. `write --incremental
 * --no-write-chain-file` accepts any value, the empty one included (t5334 runs
 * it with `--base="$(nth_line 1 ...)"`), and writes the same layer whatever the
 * value: on the tip, deduplicated against the whole chain. `compact` looks the
 * value up and fails on one it cannot find, the empty one included.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { git255, git255Bin, fastImportHistory, packRevs } from './git255.js';
import { GIT_ENV, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[]): Run {
  const r = spawnSync(cmd, args, { env: GIT_ENV, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('--base= as git 2.55', () => {
  let gitdir: string;
  let chain: string[];
  const dDir = () => path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d');

  beforeAll(() => {
    gitdir = path.join(tmpdir('midx-base-'), 'repo.git');
    const commits = fastImportHistory(gitdir, { commits: 30 });
    const packDir = path.join(gitdir, 'objects', 'pack');
    const imported = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
    // three layers with bitmaps (RIDX), then a new pack with duplicates of every layer
    const hold = path.join(gitdir, '..', 'hold');
    fs.mkdirSync(hold);
    const packs = [packRevs(gitdir, [commits[9]]), packRevs(gitdir, [commits[19], `^${commits[9]}`]), packRevs(gitdir, [commits[24], `^${commits[19]}`]), packRevs(gitdir, [commits[29], `^${commits[4]}`])];
    for (const n of imported) for (const ext of ['.pack', '.idx', '.rev']) fs.rmSync(path.join(packDir, n.slice(0, -4) + ext), { force: true });
    for (const n of packs.slice(1)) for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(packDir, n.slice(0, -4) + ext), path.join(hold, n.slice(0, -4) + ext));
    for (let i = 0; i < 3; i++) {
      if (i) for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(hold, packs[i].slice(0, -4) + ext), path.join(packDir, packs[i].slice(0, -4) + ext));
      // bitmaps cover what the refs reach: the ref at this layer's tip
      git255(['--git-dir', gitdir, 'update-ref', 'refs/heads/main', commits[[9, 19, 24][i]]]);
      git255(['--git-dir', gitdir, 'multi-pack-index', 'write', '--incremental', '--bitmap']);
    }
    for (const ext of ['.pack', '.idx']) fs.renameSync(path.join(hold, packs[3].slice(0, -4) + ext), path.join(packDir, packs[3].slice(0, -4) + ext));
    git255(['--git-dir', gitdir, 'update-ref', 'refs/heads/main', commits[29]]);
    chain = fs.readFileSync(path.join(dDir(), 'multi-pack-index-chain'), 'utf8').trim().split('\n');
    expect(chain.length).toBe(3);
  }, 60_000);

  it('write --incremental --no-write-chain-file --base=<any>: the layer git 2.55 writes, byte for byte', () => {
    const values = ['', 'none', 'deadbeef', ...chain];
    for (const bitmap of [[], ['--bitmap']]) {
      for (const v of values) {
        const args = ['write', '--incremental', '--no-write-chain-file', ...bitmap, `--base=${v}`];
        const g = run(git255Bin(), ['--git-dir', gitdir, 'multi-pack-index', ...args]);
        expect(g.status, g.stderr).toBe(0);
        const hex = g.stdout.trim();
        const file = path.join(dDir(), `multi-pack-index-${hex}.midx`);
        const gitBytes = fs.readFileSync(file);
        fs.rmSync(file, { force: true });
        const o = run(process.execPath, [CLI, '--git-dir', gitdir, ...args]);
        expect({ v, bitmap, status: o.status, stderr: o.stderr, stdout: o.stdout }).toEqual({ v, bitmap, status: 0, stderr: '', stdout: g.stdout });
        expect(Buffer.compare(fs.readFileSync(file), gitBytes), `--base=${v} ${bitmap}`).toBe(0);
        fs.chmodSync(file, 0o644);
        fs.rmSync(file);
      }
    }
  });

  it('write --base= without --no-write-chain-file, and compact --base=: the same refusals as git', () => {
    for (const args of [
      ['write', '--incremental', '--base='],
      ['compact', '--incremental', '--no-write-chain-file', '--base=', chain[1], chain[2]],
      ['compact', '--incremental', '--no-write-chain-file', '--base=deadbeef', chain[1], chain[2]],
    ]) {
      const g = run(git255Bin(), ['--git-dir', gitdir, 'multi-pack-index', ...args]);
      const o = run(process.execPath, [CLI, '--git-dir', gitdir, ...args]);
      expect(o.status, args.join(' ')).toBe(g.status);
      expect(o.stderr.split('\n')[0].replace(/midx-odb/g, 'git multi-pack-index')).toBe(g.stderr.split('\n')[0]);
    }
    // compact --base=none is accepted by both, with the same layer
    const args = ['compact', '--incremental', '--no-write-chain-file', '--base=none', chain[1], chain[2]];
    const g = run(git255Bin(), ['--git-dir', gitdir, 'multi-pack-index', ...args]);
    expect(g.status, g.stderr).toBe(0);
    const file = path.join(dDir(), `multi-pack-index-${g.stdout.trim()}.midx`);
    const gitBytes = fs.readFileSync(file);
    fs.rmSync(file, { force: true });
    const o = run(process.execPath, [CLI, '--git-dir', gitdir, ...args]);
    expect(o.stdout).toBe(g.stdout);
    expect(Buffer.compare(fs.readFileSync(file), gitBytes)).toBe(0);
  });
});
