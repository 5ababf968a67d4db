/**
 * The CLI's `multi-pack-index` options against git 2.55 itself: --object-dir
 * and --[no-]progress before and after the subcommand, the progress meters
 * byte for byte (GIT_PROGRESS_DELAY, delayed and immediate meters, the
 * `, done.` lines), and `repack --batch-size=<size>` parsing.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseBatchSize } from '../src/cli/midx.js';
import { terminalProgress } from '../src/cli/progress.js';
import { git255, git255Bin } from './git255.js';
import { GIT_ENV, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], cwd: string, env: Record<string, string> = {}): Run {
  const r = spawnSync(cmd, args, { cwd, env: { ...GIT_ENV, ...env }, encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** `git multi-pack-index <args>` by git 2.55 and by our CLI, each in its own copy of `repo`. */
function both(repo: string, args: string[], env: Record<string, string> = {}, cwdInRepo = '') {
  const a = copy(repo);
  const b = copy(repo);
  const theirs = run(git255Bin(), ['multi-pack-index', ...args], path.join(a, cwdInRepo), env);
  const ours = run(process.execPath, [CLI, ...args], path.join(b, cwdInRepo), env);
  return { a, b, theirs, ours };
}

function copy(src: string): string {
  const dest = path.join(tmpdir(), 'r');
  fs.cpSync(src, dest, { recursive: true, preserveTimestamps: true });
  return dest;
}

const packDir = (work: string) => path.join(work, '.git', 'objects', 'pack');

/** A work tree with six commits, each in its own pack (distinct mtimes), and no MIDX. */
function buildRepo(): string {
  const work = path.join(tmpdir(), 'work');
  git255(['init', '-q', '-b', 'main', work]);
  git255(['config', 'gc.auto', '0'], { cwd: work });
  git255(['config', 'maintenance.auto', 'false'], { cwd: work });
  let t = 1_700_000_000;
  for (let i = 1; i <= 6; i++) {
    fs.writeFileSync(path.join(work, `f${i}`), `${i}\n`.repeat(30 * i));
    git255(['add', '-A'], { cwd: work });
    git255(['commit', '-q', '-m', `c${i}`], { cwd: work });
    git255(['repack', '-q'], { cwd: work });
    for (const n of fs.readdirSync(packDir(work))) fs.utimesSync(path.join(packDir(work), n), (t += 10), t);
  }
  return work;
}

let REPO: string;
let WITH_MIDX: string;
/** WITH_MIDX plus one pack holding everything: the six packs are unreferenced */
let EXPIRABLE: string;

beforeAll(() => {
  REPO = buildRepo();
  WITH_MIDX = copy(REPO);
  git255(['multi-pack-index', 'write'], { cwd: WITH_MIDX });
  EXPIRABLE = copy(WITH_MIDX);
  git255(['pack-objects', '-q', '--all', path.join(packDir(EXPIRABLE), 'pack')], { cwd: EXPIRABLE, input: '' });
  git255(['multi-pack-index', 'write'], { cwd: EXPIRABLE });
}, 120_000);

const DELAY0 = { GIT_PROGRESS_DELAY: '0' };

describe('progress, byte for byte as git 2.55', () => {
  const cases: Array<[string, () => string, string[], Record<string, string>]> = [
    ['write, no delay', () => REPO, ['write', '--progress'], DELAY0],
    ['write, the default delay (nothing shown)', () => REPO, ['write', '--progress'], {}],
    ['write, --progress before the subcommand', () => REPO, ['--progress', 'write'], DELAY0],
    ['write, --progress then --no-progress before it', () => REPO, ['--progress', '--no-progress', 'write'], DELAY0],
    ['write, --no-progress before and --progress after', () => REPO, ['--no-progress', 'write', '--progress'], DELAY0],
    ['write, --no-progress after', () => REPO, ['write', '--progress', '--no-progress'], DELAY0],
    ['write, stderr not a terminal and no option', () => REPO, ['write'], DELAY0],
    ['write over an up-to-date MIDX', () => WITH_MIDX, ['write', '--progress'], DELAY0],
    ['verify, no delay', () => WITH_MIDX, ['verify', '--progress'], DELAY0],
    ['verify, a long delay (only the immediate meters)', () => WITH_MIDX, ['verify', '--progress'], { GIT_PROGRESS_DELAY: '100' }],
    ['expire with nothing to expire', () => WITH_MIDX, ['expire', '--progress'], DELAY0],
    ['expire of six packs', () => EXPIRABLE, ['expire', '--progress'], DELAY0],
    ['expire, a long delay', () => EXPIRABLE, ['expire', '--progress'], { GIT_PROGRESS_DELAY: '100' }],
    ['expire, --no-progress', () => EXPIRABLE, ['expire', '--no-progress'], DELAY0],
  ];
  for (const [name, repo, args, env] of cases) {
    it(name, () => {
      const { theirs, ours } = both(repo(), args, env);
      expect(ours).toEqual(theirs);
    });
  }

  it('repack: quiet without --progress; with it, the pack meter then the MIDX meter', () => {
    const quiet = both(WITH_MIDX, ['repack', '--no-progress'], DELAY0);
    expect(quiet.ours).toEqual(quiet.theirs);
    expect(quiet.ours.stderr).toBe('');
    const loud = both(WITH_MIDX, ['repack', '--progress'], DELAY0);
    expect(loud.ours.status).toBe(0);
    // git's pack-objects has meters of its own (enumerating, counting, compressing): the pack
    // writer copies entries and shows pack-objects' last one; the MIDX lines are git's
    const tail = (s: string) => s.slice(s.lastIndexOf('Writing objects: 100%'));
    expect(tail(loud.ours.stderr)).toMatch(/^Writing objects: 100% \((\d+)\/\1\), done\.\n/);
    const midxLines = (s: string) => s.split('\n').filter((l) => l.startsWith('Adding packfiles'));
    expect(midxLines(loud.ours.stderr)).toEqual(midxLines(loud.theirs.stderr));
    expect(midxLines(loud.ours.stderr)).toEqual(['Adding packfiles to multi-pack-index: 7, done.']);
  });

  it('meters: updates show on percentage changes, padding covers a shorter line, a narrow terminal splits the line', () => {
    let out = '';
    const sink = terminalProgress({ write: (s: string) => (out += s) }, { delay: 0, columns: () => 30 });
    const m = sink.start('Counting things', 3);
    m.update(1);
    m.update(1);
    m.update(3);
    m.stop();
    // "Counting things:  33% (1/3)" is 27 columns: it fits
    expect(out).toBe('Counting things:  33% (1/3)\rCounting things: 100% (3/3)\rCounting things: 100% (3/3), done.\n');
    out = '';
    const wide = sink.start('A title of some length', 1000);
    wide.update(5);
    wide.update(1000);
    wide.stop();
    expect(out).toBe(`A title of some length:${' '.repeat(7)}\n    0% (5/1000)\r  100% (1000/1000)\r  100% (1000/1000), done.\n`);
    out = '';
    const delayed = terminalProgress({ write: (s: string) => (out += s) }, { delay: 2 }).start('Adding packfiles to multi-pack-index', 0);
    delayed.update(3);
    delayed.stop();
    expect(out).toBe('');
  });
});

describe('--object-dir', () => {
  it("an alternate's object directory, before or after the subcommand: the same MIDX as git's", () => {
    for (const args of [
      ['--object-dir=../../../other/.git/objects', 'write'],
      ['write', '--object-dir', '../../../other/.git/objects'],
    ]) {
      const parent = tmpdir();
      const other = path.join(parent, 'other');
      fs.cpSync(REPO, other, { recursive: true, preserveTimestamps: true });
      const mine = path.join(parent, 'mine');
      git255(['clone', '-q', '-s', other, mine]);
      // a stale companion file in the other repository goes; ours stays (t5319's *.rev cleanup)
      fs.writeFileSync(path.join(packDir(other), 'multi-pack-index-abc.rev'), '');
      fs.writeFileSync(path.join(packDir(mine), 'multi-pack-index-123.rev'), '');
      const { a, b, theirs, ours } = both(parent, args, {}, path.join('mine', '.git', 'objects'));
      expect(ours).toEqual(theirs);
      const midx = (root: string) => fs.readFileSync(path.join(packDir(path.join(root, 'other')), 'multi-pack-index'));
      expect(midx(b).equals(midx(a))).toBe(true);
      for (const root of [a, b]) {
        expect(fs.existsSync(path.join(packDir(path.join(root, 'other')), 'multi-pack-index-abc.rev'))).toBe(false);
        expect(fs.existsSync(path.join(packDir(path.join(root, 'mine')), 'multi-pack-index-123.rev'))).toBe(true);
        expect(fs.existsSync(path.join(packDir(path.join(root, 'mine')), 'multi-pack-index'))).toBe(false);
      }
    }
  });

  it('a directory that is no alternate at all, then verify and expire through it', () => {
    const parent = tmpdir();
    fs.cpSync(REPO, path.join(parent, 'repo'), { recursive: true, preserveTimestamps: true });
    fs.mkdirSync(path.join(parent, 'loose', 'pack'), { recursive: true });
    for (const n of fs.readdirSync(packDir(path.join(parent, 'repo')))) {
      fs.copyFileSync(path.join(packDir(path.join(parent, 'repo')), n), path.join(parent, 'loose', 'pack', n));
    }
    for (const sub of [['write'], ['verify'], ['expire']]) {
      const { a, b, theirs, ours } = both(parent, ['--object-dir=../loose', ...sub], {}, 'repo');
      expect(ours).toEqual(theirs);
      const midx = (root: string) => fs.readFileSync(path.join(root, 'loose', 'pack', 'multi-pack-index'));
      if (sub[0] === 'write') expect(midx(b).equals(midx(a))).toBe(true);
      if (sub[0] === 'write') git255(['multi-pack-index', 'write', '--object-dir=../loose'], { cwd: path.join(parent, 'repo') });
    }
  });

  it('--no-object-dir after --object-dir: the repository\'s own', () => {
    const parent = tmpdir();
    fs.cpSync(REPO, path.join(parent, 'repo'), { recursive: true, preserveTimestamps: true });
    fs.mkdirSync(path.join(parent, 'empty', 'pack'), { recursive: true });
    const { a, b, theirs, ours } = both(parent, ['--object-dir=../empty', 'write', '--no-object-dir'], {}, 'repo');
    expect(ours).toEqual(theirs);
    const midx = (root: string) => fs.readFileSync(path.join(packDir(path.join(root, 'repo')), 'multi-pack-index'));
    expect(midx(b).equals(midx(a))).toBe(true);
  });

  it("a directory that does not exist: git's errors", () => {
    // a missing directory on the way: git dies
    const deep = both(REPO, ['--object-dir=/nonexistent/objects', 'write']);
    expect(deep.ours).toEqual(deep.theirs);
    expect(deep.ours.stderr).toBe("fatal: Invalid path '/nonexistent': No such file or directory\n");
    // only the last one missing: git reports it, then crashes (exit 139); we stop there with 128
    const { theirs, ours } = both(REPO, ['--object-dir=../nonexistent', 'write']);
    const first = theirs.stderr.split('\n')[0];
    expect(first).toMatch(/^error: object directory \/.*\/nonexistent does not exist; check .git\/objects\/info\/alternates$/);
    expect(ours.stderr).toBe(`${first.replace(/\/tmp\/[^/]+\//, ours.stderr.match(/\/tmp\/[^/]+\//)![0])}\n`);
    expect(ours.status).toBe(128);
  });
});

describe('repack --batch-size', () => {
  it("k/m/g suffixes, hex and octal, as git's OPT_UNSIGNED", () => {
    expect(parseBatchSize('0')).toBe(0);
    expect(parseBatchSize('1k')).toBe(1024);
    expect(parseBatchSize('3M')).toBe(3 * 1024 * 1024);
    expect(parseBatchSize('2g')).toBe(2 * 1024 ** 3);
    expect(parseBatchSize('0x10')).toBe(16);
    expect(parseBatchSize('010')).toBe(8);
    expect(parseBatchSize(' +7')).toBe(7);
  });

  for (const value of ['1x', '-1', '', '99999999999999999999999', '18446744073709551615', '18446744073709551616', '20000000000g', '1K', '09', 'k']) {
    it(`--batch-size=${JSON.stringify(value)}: git's status and message`, () => {
      const { theirs, ours } = both(WITH_MIDX, ['repack', `--batch-size=${value}`]);
      expect(ours.status).toBe(theirs.status);
      expect(ours.stderr).toBe(theirs.stderr);
    });
  }

  it('--batch-size with k: the same selection as git (packs of a few hundred bytes, batch 1k)', () => {
    const { a, b, theirs, ours } = both(WITH_MIDX, ['repack', '--batch-size=1k']);
    expect(ours.status).toBe(0);
    expect(theirs.status).toBe(0);
    const idx = (root: string) => fs.readdirSync(packDir(root)).filter((n) => n.endsWith('.idx')).length;
    expect(idx(b)).toBe(idx(a));
    expect(idx(b)).toBe(7);
  });
});
