/**
 * `odb.expireMidx()` against git 2.55's `multi-pack-index expire`: the same
 * repository copied twice, git expires one copy and we expire the other. The
 * same files must be left in the pack directory (so the same packs were
 * deleted, .keep and cruft packs kept), and the new MIDX must be the same
 * bytes.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, openOdb } from '../src/index.js';
import { git255, git255Bin } from './git255.js';
import { GIT_ENV, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

const packDir = (gitdir: string) => path.join(gitdir, 'objects', 'pack');
const listing = (gitdir: string) => fs.readdirSync(packDir(gitdir)).sort();

function packRange(gitdir: string, prefix: string, range: string): string {
  return git255(['--git-dir', gitdir, 'pack-objects', '-q', '--revs', path.join(packDir(gitdir), prefix)], { input: range.split(' ').join('\n') + '\n' })
    .toString()
    .trim();
}

/** git's t5319 "setup expire tests": 20 commits in five disjoint packs A..E (E oldest), a MIDX over them. */
function buildRepo(): { gitdir: string; tips: Record<string, string> } {
  const work = path.join(tmpdir(), 'work');
  git255(['init', '-q', '-b', 'main', work]);
  git255(['config', 'gc.auto', '0'], { cwd: work });
  git255(['config', 'maintenance.auto', 'false'], { cwd: work });
  const commits: string[] = [];
  for (let i = 1; i <= 20; i++) {
    fs.writeFileSync(path.join(work, `f${i % 7}.txt`), `${i}\n`.repeat(40 + i * 3));
    git255(['add', '-A'], { cwd: work });
    git255(['commit', '-q', '-m', `c${i}`], { cwd: work });
    commits.push(git255(['rev-parse', 'HEAD'], { cwd: work }).toString().trim());
  }
  const gitdir = path.join(work, '.git');
  const tips = { A: commits[19], B: commits[11], C: commits[6], D: commits[3], E: commits[1] };
  const ranges: Array<[string, string]> = [
    ['E', tips.E],
    ['D', `${tips.D} ^${tips.E}`],
    ['C', `${tips.C} ^${tips.D}`],
    ['B', `${tips.B} ^${tips.C}`],
    ['A', `${tips.A} ^${tips.B}`],
  ];
  let t = 1_700_000_000;
  for (const [name, range] of ranges) {
    const h = packRange(gitdir, `pack-${name}`, range);
    t += 100;
    for (const ext of ['.pack', '.idx', '.rev']) {
      const f = path.join(packDir(gitdir), `pack-${name}-${h}${ext}`);
      if (fs.existsSync(f)) fs.utimesSync(f, t, t);
    }
  }
  git255(['--git-dir', gitdir, 'prune-packed']);
  git255(['--git-dir', gitdir, 'multi-pack-index', 'write']);
  return { gitdir, tips };
}

let BASE: { gitdir: string; tips: Record<string, string> };

beforeAll(() => {
  BASE = buildRepo();
}, 120_000);

function copy(src: string): string {
  const dest = path.join(tmpdir(), 'repo.git');
  fs.cpSync(src, dest, { recursive: true, preserveTimestamps: true });
  return dest;
}

function gitExpire(gitdir: string) {
  const r = spawnSync(git255Bin(), ['--git-dir', gitdir, 'multi-pack-index', 'expire'], { env: GIT_ENV });
  return { status: r.status, stderr: r.stderr.toString() };
}

async function ourExpire(gitdir: string) {
  const odb = await openOdb({ fs, gitdir });
  try {
    return await odb.expireMidx();
  } finally {
    await odb.close();
  }
}

/** Prepares a copy with `setup`, then expires one copy with git and one with us; compares. */
async function compare(setup: (gitdir: string) => void) {
  const prepared = copy(BASE.gitdir);
  setup(prepared);
  const a = copy(prepared);
  const b = copy(prepared);
  const before = listing(a);
  const theirs = gitExpire(a);
  expect(theirs.status).toBe(0);
  const result = await ourExpire(b);
  expect(listing(b)).toEqual(listing(a));
  const midx = (d: string) => fs.readFileSync(path.join(packDir(d), 'multi-pack-index'));
  expect(midx(b).equals(midx(a))).toBe(true);
  const gone = before.filter((n) => n.endsWith('.idx') && !listing(a).includes(n));
  expect([...result.expired].sort()).toEqual(gone.sort());
  if (gone.length) expect(result.midx).toBe(midx(a).subarray(-20).toString('hex'));
  else expect(result.midx).toBeNull();
  // git is content with what we left
  expect(spawnSync(git255Bin(), ['--git-dir', b, 'multi-pack-index', 'verify'], { env: GIT_ENV }).status).toBe(0);
  const fsck = spawnSync(git255Bin(), ['--git-dir', b, 'fsck', '--no-dangling'], { env: GIT_ENV });
  expect(fsck.status).toBe(0);
  return { result, gone };
}

describe('expireMidx against git 2.55 multi-pack-index expire', () => {
  it('every pack referenced: nothing deleted, the MIDX untouched', async () => {
    const { gone } = await compare(() => {});
    expect(gone).toEqual([]);
  });

  it('a newer pack covering A and B: both deleted, the MIDX rewritten without them', async () => {
    const { gone } = await compare((d) => {
      packRange(d, 'pack-combined', `${BASE.tips.A} ^${BASE.tips.C}`);
      git255(['--git-dir', d, 'multi-pack-index', 'write']);
    });
    expect(gone.map((n) => n.slice(0, 7)).sort()).toEqual(['pack-A-', 'pack-B-']);
  });

  it('.keep and cruft (.mtimes) packs stay, with all their files', async () => {
    const { gone } = await compare((d) => {
      packRange(d, 'pack-combined', `${BASE.tips.A} ^${BASE.tips.D}`);
      git255(['--git-dir', d, 'multi-pack-index', 'write']);
      const names = fs.readdirSync(packDir(d));
      const a = names.find((n) => n.startsWith('pack-A-') && n.endsWith('.pack'))!;
      const b = names.find((n) => n.startsWith('pack-B-') && n.endsWith('.pack'))!;
      fs.writeFileSync(path.join(packDir(d), a.replace(/\.pack$/, '.keep')), '');
      // git looks only at the file's presence to call a pack cruft
      fs.copyFileSync(path.join(packDir(d), b.replace(/\.pack$/, '.rev')), path.join(packDir(d), b.replace(/\.pack$/, '.mtimes')));
    });
    expect(gone.map((n) => n.slice(0, 7))).toEqual(['pack-C-']);
  });

  it('a pack outside the MIDX joins it, with an id after every old pack (expired ones included)', async () => {
    await compare((d) => {
      packRange(d, 'pack-combined', `${BASE.tips.A} ^${BASE.tips.C}`);
      git255(['--git-dir', d, 'multi-pack-index', 'write']);
      // new packs take ids after every pack of the old MIDX, expired ones included
      packRange(d, 'z-pack', `${BASE.tips.C} ^${BASE.tips.D}`);
    });
  });

  it('midx.version=2 and a single-layer chain (rewritten as a non-incremental MIDX)', async () => {
    await compare((d) => {
      git255(['--git-dir', d, 'config', 'midx.version', '2']);
      fs.rmSync(path.join(packDir(d), 'multi-pack-index'));
      packRange(d, 'pack-combined', `${BASE.tips.A} ^${BASE.tips.C}`);
      git255(['--git-dir', d, 'multi-pack-index', 'write', '--incremental']);
    });
  });

  it('a chain of two layers: refused with git message, in the library and the CLI, nothing deleted', async () => {
    const d = copy(BASE.gitdir);
    packRange(d, 'pack-combined', `${BASE.tips.A} ^${BASE.tips.C}`);
    git255(['--git-dir', d, 'multi-pack-index', 'write', '--incremental']);
    const before = listing(d);
    const theirs = gitExpire(copy(d));
    await expect(ourExpire(d)).rejects.toThrow(InvalidArgumentError);
    await expect(ourExpire(d)).rejects.toThrow('cannot expire packs from an incremental multi-pack-index');
    const cli = spawnSync('node', [CLI, '--git-dir', d, 'expire'], { env: GIT_ENV });
    expect(cli.status).toBe(theirs.status);
    expect(cli.stderr.toString()).toBe(theirs.stderr);
    expect(theirs.stderr).toBe('fatal: cannot expire packs from an incremental multi-pack-index\n');
    expect(listing(d)).toEqual(before);
  });

  it('no MIDX: nothing to do', async () => {
    const d = copy(BASE.gitdir);
    fs.rmSync(path.join(packDir(d), 'multi-pack-index'));
    const before = listing(d);
    expect(await ourExpire(d)).toEqual({ expired: [], midx: null });
    expect(listing(d)).toEqual(before);
  });
});
