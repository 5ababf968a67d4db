/**
 * Issue 6: the `midx-odb` command, run as a user runs it (a child process of
 * `node dist/cli/main.js`), compared with the system git's output:
 * cat-file in every mode, byte for byte; write / compact / verify with git's
 * exit statuses and messages, checked by git itself where git 2.39 can read
 * the result; usage errors, a missing repository, a held lock; stats;
 * progress; streaming.
 *
 * `npm test` builds dist/ first. The single-object modes run one process per
 * object and mode; by default a sample of each repository's objects (every
 * tree up to a cap, and some of each other type) is checked that way, while
 * the batch modes cover every object. MIDX_ODB_CLI_EXHAUSTIVE=1 runs -t, -s,
 * -p and -e for every object of every repository.
 */

import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMixedRepo } from './gitrepo.js';
import { type Fixture, chainLines, copyRepo, fixtures, git, GIT_ENV, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
/** the built command; MIDX_ODB_CLI points elsewhere (a private build: `tsc --outDir`) */
const CLI = process.env.MIDX_ODB_CLI ? path.resolve(process.env.MIDX_ODB_CLI) : path.join(ROOT, 'dist', 'cli', 'main.js');
const EXHAUSTIVE = process.env.MIDX_ODB_CLI_EXHAUSTIVE === '1';

const ENV = { ...GIT_ENV } as Record<string, string>;
delete ENV.GIT_DIR;

interface Run {
  status: number | null;
  stdout: Buffer;
  stderr: string;
}

interface RunOptions {
  cwd?: string;
  input?: string | Buffer;
  env?: Record<string, string>;
}

/** `midx-odb <args>` */
function cli(args: string[], opts: RunOptions = {}): Run {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? os.tmpdir(), input: opts.input ?? '', env: { ...ENV, ...opts.env }, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** The system git (never throws). */
function gitr(args: string[], opts: RunOptions = {}): Run {
  const r = spawnSync('git', args, { cwd: opts.cwd ?? os.tmpdir(), input: opts.input ?? '', env: { ...ENV, ...opts.env }, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

/** git reading objects without any MIDX: the oracle for every fixture (git 2.39 reads no chain, no MIDX v2). */
function oracle(gitdir: string, args: string[], input?: string | Buffer): Run {
  return gitr(['--git-dir', gitdir, '-c', 'core.multiPackIndex=false', ...args], { input });
}

function allIds(gitdir: string): string[] {
  return oracle(gitdir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname) %(objecttype)'])
    .stdout.toString()
    .trim()
    .split('\n')
    .filter(Boolean);
}

/** Evenly spaced picks. */
function sample<T>(list: T[], n: number): T[] {
  if (EXHAUSTIVE || list.length <= n) return list;
  const out: T[] = [];
  for (let i = 0; i < n; i++) out.push(list[Math.floor((i * list.length) / n)]);
  return out;
}

/** Prefixes of 4 hex digits that several objects share, and some that none has. */
function prefixes(ids: string[]): { ambiguous: string[]; unused: string[] } {
  const count = new Map<string, number>();
  for (const id of ids) count.set(id.slice(0, 4), (count.get(id.slice(0, 4)) ?? 0) + 1);
  const ambiguous = [...count].filter(([, n]) => n > 1).map(([p]) => p);
  const unused: string[] = [];
  for (let i = 0; unused.length < 3 && i < 0x10000; i += 0x1111) {
    const p = i.toString(16).padStart(4, '0');
    if (!count.has(p)) unused.push(p);
  }
  return { ambiguous, unused };
}

/** Batch input exercising every kind of name: full, abbreviated, upper-case, ambiguous, missing, refs, peeling, paths, CRLF, junk. */
function batchInput(gitdir: string, ids: string[], hexLength: number): string {
  const { ambiguous, unused } = prefixes(ids);
  const top = oracle(gitdir, ['ls-tree', 'HEAD']).stdout.toString().split('\n').filter(Boolean);
  const firstPath = top.length ? top[0].split('\t')[1] : 'nothing';
  const lines = [
    ...ids,
    '0'.repeat(hexLength),
    'f'.repeat(hexLength),
    ...ids.slice(0, 25).map((id) => id.slice(0, 10)),
    ...ids.slice(25, 40).map((id) => id.slice(0, 7).toUpperCase()),
    ...ids.slice(40, 45).map((id) => id.toUpperCase()),
    ...ambiguous.slice(0, 5),
    ...unused,
    'HEAD',
    'main',
    'refs/heads/main',
    'HEAD^{tree}',
    'HEAD^{commit}',
    'HEAD~1',
    'HEAD^',
    `HEAD:${firstPath}`,
    'HEAD:no/such/path',
    'no-such-ref',
    '123',
    '',
    '  leading-space',
    `${ids[0]} trailing words`,
    `${ids[1]}\r`,
  ];
  return `${lines.join('\n')}\n${ids[2].slice(0, 12)}`; // the last line has no LF
}

interface Repo {
  name: string;
  gitdir: string;
  hexLength: number;
}

const repos: Repo[] = [];
let mixed: string;

beforeAll(() => {
  if (!fs.existsSync(CLI)) execTsc();
  for (const f of fixtures()) {
    if (!fs.existsSync(path.join(f.dir, 'expect', 'objects.txt'))) continue; // sha1-large-offsets ships no .pack
    repos.push({ name: f.name, gitdir: f.gitdir, hexLength: f.algorithm === 'sha256' ? 64 : 40 });
  }
  mixed = buildMixedRepo();
  repos.push({ name: 'system git (mixed packs)', gitdir: mixed, hexLength: 40 });
  repos.push({ name: 'special trees', gitdir: buildSpecialTrees(), hexLength: 40 });
});

function execTsc(): void {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', ROOT], { stdio: 'inherit' });
  if (r.status !== 0) throw new Error('tsc failed');
}

/**
 * A repository whose trees hold what `cat-file -p` must print exactly as
 * ls-tree does: quoted names (tab, quote, backslash, newline, control
 * bytes, UTF-8), a symlink, an executable, a submodule (160000 commit), and
 * a non-canonical mode (100664) that git prints as 100644.
 */
function buildSpecialTrees(): string {
  const root = tmpdir();
  const work = path.join(root, 'work');
  fs.mkdirSync(work);
  git(['init', '-q', '-b', 'main', work]);
  const files: Record<string, string> = { a: 'a\n', 'tab\tname': 'x', 'quote"name': 'y', 'back\\slash': 'w', 'ünïcödé': 'z', 'new\nline': 'n', 'ctl\x01\x7f': 'c', 'sp ace': 's' };
  for (const [n, c] of Object.entries(files)) fs.writeFileSync(path.join(work, n), c);
  fs.symlinkSync('a', path.join(work, 'link'));
  fs.writeFileSync(path.join(work, 'exe'), '#!/bin/sh\n', { mode: 0o755 });
  fs.mkdirSync(path.join(work, 'dir'));
  fs.writeFileSync(path.join(work, 'dir', 'b'), 'b\n');
  git(['add', '-A'], { cwd: work });
  git(['commit', '-q', '-m', 'first'], { cwd: work });
  const head = git(['rev-parse', 'HEAD'], { cwd: work }).toString().trim();
  git(['update-index', '--add', '--cacheinfo', `160000,${head},sub`], { cwd: work });
  git(['commit', '-q', '-m', 'with a submodule\n\nand a body'], { cwd: work });
  // a tree with a mode git itself no longer writes
  const blob = git(['rev-parse', 'HEAD:a'], { cwd: work }).toString().trim();
  const dir = git(['rev-parse', 'HEAD:dir'], { cwd: work }).toString().trim();
  const odd = git(['mktree'], { cwd: work, input: `100664 blob ${blob}\todd\n040000 tree ${dir}\tdir\n` }).toString().trim();
  const c = git(['commit-tree', odd, '-p', 'HEAD', '-m', 'odd modes'], { cwd: work }).toString().trim();
  git(['update-ref', 'refs/heads/main', c], { cwd: work });
  git(['tag', '-a', '-m', 'annotated', 'v1', 'main'], { cwd: work });
  git(['tag', '-a', '-m', 'tag of a tag', 'v1-again', 'v1'], { cwd: work });
  git(['tag', 'light', 'HEAD~1'], { cwd: work });
  const bare = path.join(root, 'repo.git');
  git(['clone', '-q', '--bare', work, bare]);
  git(['repack', '-a', '-d', '-q'], { cwd: bare });
  return bare;
}

// ---------------------------------------------------------------- cat-file

describe('cat-file, byte for byte as git', () => {
  it('covers the repositories it means to', () => {
    expect(repos.map((r) => r.name)).toEqual(expect.arrayContaining(['sha1-chain', 'sha256-chain', 'sha1-single', 'system git (mixed packs)', 'special trees']));
  });

  it.each(['--batch-check', '--batch'])('%s over every object, abbreviations, missing and ambiguous ids, refs (every repository)', (mode) => {
    for (const repo of repos) {
      const ids = allIds(repo.gitdir).map((l) => l.split(' ')[0]);
      expect(ids.length, repo.name).toBeGreaterThan(10);
      const input = batchInput(repo.gitdir, ids, repo.hexLength);
      const want = oracle(repo.gitdir, ['cat-file', mode], input);
      expect(want.status, want.stderr).toBe(0);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', mode], { input });
      expect(got.status, `${repo.name}: ${got.stderr}`).toBe(0);
      expect(got.stdout.equals(want.stdout), `${repo.name} ${mode}`).toBe(true);
      // the same error and hint lines for the ambiguous ones
      const errs = (s: string) => s.split('\n').filter((l) => /^(error|hint):/.test(l));
      expect(errs(got.stderr), repo.name).toEqual(errs(want.stderr));
    }
  });

  it.each([
    ['unbuffered', [] as string[]],
    ['--buffer, with flushes', ['--buffer']],
  ])('--batch-command (%s): info and contents over every object, as git (every repository)', (_label, extra) => {
    for (const repo of repos) {
      const ids = allIds(repo.gitdir).map((l) => l.split(' ')[0]);
      const names = batchInput(repo.gitdir, ids, repo.hexLength).split('\n').filter(Boolean);
      let input = '';
      names.forEach((n, i) => {
        input += `${i % 3 === 0 ? 'contents' : 'info'} ${n}\n`;
        if (extra.length && i % 50 === 49) input += 'flush\n';
      });
      const want = oracle(repo.gitdir, ['cat-file', '--batch-command', ...extra], input);
      expect(want.status, want.stderr).toBe(0);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', '--batch-command', ...extra], { input });
      expect(got.status, `${repo.name}: ${got.stderr}`).toBe(0);
      expect(got.stdout.equals(want.stdout), `${repo.name} --batch-command`).toBe(true);
    }
  });

  it("--batch-command: the command errors are git's", () => {
    const repo = repos.find((r) => r.name === 'sha1-single')!;
    for (const [input, extra] of [['flush\n', []], ['\n', []], [' info x\n', []], ['foo\n', []], ['info\n', []], ['flush x\n', ['--buffer']], ['info HEAD\ncontents\n', []]] as Array<[string, string[]]>) {
      const want = oracle(repo.gitdir, ['cat-file', '--batch-command', ...extra], input);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', '--batch-command', ...extra], { input });
      expect([got.status, got.stderr, got.stdout.toString()], JSON.stringify(input)).toEqual([want.status, want.stderr, want.stdout.toString()]);
    }
  });

  it.each(['--batch-check', '--batch'])('%s --batch-all-objects (every repository)', (mode) => {
    for (const repo of repos) {
      const want = oracle(repo.gitdir, ['cat-file', '--batch-all-objects', mode]);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', '--batch-all-objects', mode]);
      expect(got.status, got.stderr).toBe(0);
      expect(got.stdout.equals(want.stdout), repo.name).toBe(true);
    }
  });

  it('custom formats, %(rest), -z input', () => {
    const repo = repos.find((r) => r.name === 'sha1-chain')!;
    const ids = allIds(repo.gitdir).map((l) => l.split(' ')[0]);
    const input = ids.slice(0, 30).map((id, i) => `${id.slice(0, 8 + (i % 5))}\t  rest of line ${i}`).join('\n') + '\nnope with rest\n';
    for (const format of ['%(objecttype) %(objectname) [%(rest)]', '%(objectsize)', '%%(objectname) 100%% %(objectname)%x', 'plain']) {
      const want = oracle(repo.gitdir, ['cat-file', `--batch-check=${format}`], input);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', `--batch-check=${format}`], { input });
      expect(got.stdout.toString(), format).toBe(want.stdout.toString());
    }
    const nul = ids.slice(0, 20).join('\0') + '\0HEAD\0missing thing\0';
    const want = oracle(repo.gitdir, ['cat-file', '--batch', '-z'], nul);
    const got = cli(['--git-dir', repo.gitdir, 'cat-file', '--batch', '-z'], { input: nul });
    expect(got.stdout.equals(want.stdout)).toBe(true);
    // --batch-all-objects with a format that needs nothing from the objects
    const names = cli(['--git-dir', repo.gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']);
    expect(names.stdout.toString()).toBe(oracle(repo.gitdir, ['cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).stdout.toString());
  });

  // one process per object and mode is slow (~0.1 s each): a sample, on the repositories with the most variety
  const SINGLE = ['sha1-chain', 'sha256-chain', 'sha1-single', 'system git (mixed packs)', 'special trees'];
  it.each(SINGLE)('-t, -s, -p, -e and <type> <object> for single objects: %s (a sample; see MIDX_ODB_CLI_EXHAUSTIVE)', (which) => {
    for (const repo of repos.filter((r) => r.name === which)) {
      const typed = allIds(repo.gitdir).map((l) => l.split(' ') as [string, string]);
      const byType = (t: string) => typed.filter(([, type]) => type === t).map(([id]) => id);
      const picks = [...sample(byType('tree'), 12), ...sample(byType('commit'), 3), ...sample(byType('blob'), 4), ...sample(byType('tag'), 3)];
      for (const id of picks) {
        const name = id.slice(0, 12);
        for (const mode of ['-p', '-t', '-s', '-e']) {
          if (!EXHAUSTIVE && mode !== '-p' && picks.indexOf(id) % 4 !== ['-t', '-s', '-e'].indexOf(mode)) continue;
          const want = oracle(repo.gitdir, ['cat-file', mode, name]);
          const got = cli(['--git-dir', repo.gitdir, 'cat-file', mode, name]);
          expect(got.status, `${repo.name} ${mode} ${name}: ${got.stderr}`).toBe(want.status);
          expect(got.stdout.equals(want.stdout), `${repo.name} ${mode} ${name}`).toBe(true);
        }
      }
      for (const [type, args] of [
        ['tree', ['tree', 'HEAD']],
        ['commit', ['commit', 'HEAD']],
        ['blob', ['blob', 'HEAD']],
        ['-p', ['-p', 'HEAD^{tree}']],
        ['-p', ['-p', 'HEAD']],
      ] as const) {
        const want = oracle(repo.gitdir, ['cat-file', ...args]);
        const got = cli(['--git-dir', repo.gitdir, 'cat-file', ...args]);
        expect(got.status, `${repo.name} ${type}`).toBe(want.status);
        expect(got.stdout.equals(want.stdout), `${repo.name} ${args.join(' ')}`).toBe(true);
      }
    }
  });

  it('pretty-prints trees with quoted names, symlinks, executables, submodules and odd modes as git does', () => {
    const repo = repos.find((r) => r.name === 'special trees')!;
    for (const rev of ['HEAD~1^{tree}', 'HEAD^{tree}', 'HEAD~2^{tree}', 'v1', 'v1-again', 'light', 'v1^{}']) {
      const want = oracle(repo.gitdir, ['cat-file', '-p', rev]);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', '-p', rev]);
      expect(want.status, want.stderr).toBe(0);
      expect(got.stdout.toString('latin1'), rev).toBe(want.stdout.toString('latin1'));
    }
    const tree = cli(['--git-dir', repo.gitdir, 'cat-file', '-p', 'HEAD~1^{tree}']).stdout.toString();
    expect(tree).toMatch(/^160000 commit [0-9a-f]{40}\tsub$/m);
    expect(tree).toMatch(/^120000 blob [0-9a-f]{40}\tlink$/m);
    expect(tree).toMatch(/^100755 blob [0-9a-f]{40}\texe$/m);
    expect(tree).toMatch(/^040000 tree [0-9a-f]{40}\tdir$/m);
    expect(tree).toContain('\t"tab\\tname"\n');
    expect(tree).toContain('\t"\\303\\274n\\303\\257c\\303\\266d\\303\\251"\n');
    expect(cli(['--git-dir', repo.gitdir, 'cat-file', '-p', 'HEAD^{tree}']).stdout.toString()).toMatch(/^100644 blob [0-9a-f]{40}\todd$/m);
    // core.quotePath=false leaves UTF-8 alone, as git does
    const copy = path.join(tmpdir(), 'repo.git');
    fs.cpSync(repo.gitdir, copy, { recursive: true });
    git(['config', 'core.quotePath', 'false'], { cwd: copy });
    const want = oracle(copy, ['cat-file', '-p', 'HEAD~1^{tree}']);
    const got = cli(['--git-dir', copy, 'cat-file', '-p', 'HEAD~1^{tree}']);
    expect(got.stdout.equals(want.stdout)).toBe(true);
    expect(got.stdout.toString()).toContain('\tünïcödé\n');
  });

  it("errors: git's messages and exit statuses", () => {
    const repo = repos.find((r) => r.name === 'sha1-chain')!;
    const { ambiguous } = prefixes(allIds(repo.gitdir).map((l) => l.split(' ')[0]));
    const zero = '0'.repeat(40);
    const cases: string[][] = [
      ['-t', zero],
      ['-s', zero],
      ['-p', zero],
      ['-e', zero],
      ['-e', 'HEAD'],
      ['-e', '0000000'],
      ['-p', 'no-such-name'],
      ['-t', ambiguous[0]],
      ['-e', ambiguous[0]],
      ['blob', zero],
      ['tree', 'HEAD'],
      ['blob', 'HEAD'],
      ['bogus-type', 'HEAD'],
    ];
    for (const args of cases) {
      const want = oracle(repo.gitdir, ['cat-file', ...args]);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', ...args]);
      expect(got.status, args.join(' ')).toBe(want.status);
      expect(got.stdout.equals(want.stdout), args.join(' ')).toBe(true);
      expect(got.stderr, args.join(' ')).toBe(want.stderr);
    }
    // usage errors: git's first line, then a usage text; exit 129
    for (const args of [['-t'], ['-t', 'a', 'b'], ['-t', '-s', 'HEAD'], ['--batch', 'HEAD'], ['-t', '--batch'], ['--batch-all-objects'], ['--buffer', '-t', 'HEAD'], ['-z', '-p', 'HEAD'], ['tree'], ['-x', 'HEAD'], ['--batch', '--batch-check']]) {
      const want = oracle(repo.gitdir, ['cat-file', ...args]);
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', ...args]);
      expect(want.status, args.join(' ')).toBe(129);
      expect(got.status, args.join(' ')).toBe(129);
      expect(got.stderr.split('\n')[0], args.join(' ')).toBe(want.stderr.split('\n')[0]);
    }
    for (const format of ['%(foo)', '%(objectname']) {
      const want = oracle(repo.gitdir, ['cat-file', `--batch=${format}`], 'HEAD\n');
      const got = cli(['--git-dir', repo.gitdir, 'cat-file', `--batch=${format}`], { input: 'HEAD\n' });
      expect(got.status).toBe(want.status);
      expect(got.stderr).toBe(want.stderr);
    }
  });

  it('answers each --batch line as it arrives (a process can drive it line by line)', async () => {
    const repo = repos.find((r) => r.name === 'sha1-chain')!;
    const ids = allIds(repo.gitdir).map((l) => l.split(' ')[0]).slice(0, 5);
    const child = spawn(process.execPath, [CLI, '--git-dir', repo.gitdir, 'cat-file', '--batch-check'], { env: ENV });
    let buffered = '';
    const nextLine = () =>
      new Promise<string>((resolve, reject) => {
        const take = () => {
          const nl = buffered.indexOf('\n');
          if (nl < 0) return false;
          const line = buffered.slice(0, nl);
          buffered = buffered.slice(nl + 1);
          resolve(line);
          return true;
        };
        if (take()) return;
        const timer = setTimeout(() => reject(new Error('no answer within 10 s')), 10_000);
        const on = (d: Buffer) => {
          buffered += d.toString();
          if (take()) {
            clearTimeout(timer);
            child.stdout.off('data', on);
          }
        };
        child.stdout.on('data', on);
      });
    for (const id of ids) {
      child.stdin.write(`${id}\n`);
      expect(await nextLine()).toMatch(new RegExp(`^${id} (commit|tree|blob|tag) \\d+$`));
    }
    child.stdin.end();
    const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(status).toBe(0);
  });

  it('streams large output to a reader that stops early, and exits without noise', () => {
    const r = spawnSync('sh', ['-c', `node "${CLI}" --git-dir "${mixed}" cat-file --batch-all-objects --batch | head -c 1000 >/dev/null; echo "status=$?"`], { env: ENV });
    expect(r.stdout.toString()).toContain('status=0');
    expect(r.stderr.toString()).toBe('');
    // and the whole stream, with the >1 MB blob, is git's when read to the end
    const want = oracle(mixed, ['cat-file', '--batch-all-objects', '--batch']);
    const got = cli(['--git-dir', mixed, 'cat-file', '--batch-all-objects', '--batch']);
    expect(got.stdout.length).toBeGreaterThan(1_500_000);
    expect(got.stdout.equals(want.stdout)).toBe(true);
  });
});

// ---------------------------------------------------------------- finding the repository

describe('finding the repository', () => {
  it('not a repository: fatal, exit 128', () => {
    const empty = tmpdir();
    const r = cli(['cat-file', '-t', 'HEAD'], { cwd: empty, env: { GIT_CEILING_DIRECTORIES: path.dirname(empty) } });
    expect(r.status).toBe(128);
    expect(r.stderr).toBe('fatal: not a git repository (or any of the parent directories): .git\n');
    const want = gitr(['cat-file', '-t', 'HEAD'], { cwd: empty, env: { GIT_CEILING_DIRECTORIES: path.dirname(empty) } });
    expect(r.stderr).toBe(want.stderr);
    const bad = cli(['--git-dir', path.join(empty, 'nope'), 'verify']);
    expect(bad.status).toBe(128);
    expect(bad.stderr).toBe(`fatal: not a git repository: '${path.join(empty, 'nope')}'\n`);
    const env = cli(['stats'], { cwd: empty, env: { GIT_DIR: empty } });
    expect(env.status).toBe(128);
  });

  it('finds .git from a subdirectory, a .git file, a bare repository, GIT_DIR and -C', () => {
    const work = path.join(path.dirname(mixed), 'work');
    const sub = path.join(work, 'sub', 'dir');
    fs.mkdirSync(sub, { recursive: true });
    const head = git(['rev-parse', 'HEAD'], { cwd: work }).toString().trim();
    expect(cli(['cat-file', '-t', 'HEAD'], { cwd: sub }).stdout.toString()).toBe('commit\n');
    // the bare repository (its HEAD names a branch it does not have, as `git init --bare` left it)
    expect(cli(['cat-file', '--batch-check=%(objectname)'], { cwd: mixed, input: 'main\nHEAD\n' }).stdout.toString()).toBe(`${head}\nHEAD missing\n`);
    const linked = tmpdir();
    fs.writeFileSync(path.join(linked, '.git'), `gitdir: ${path.relative(linked, path.join(work, '.git'))}\n`);
    expect(cli(['cat-file', '--batch-check=%(objectname)'], { cwd: linked, input: 'HEAD\n' }).stdout.toString()).toBe(`${head}\n`);
    expect(cli(['cat-file', '-t', 'main'], { cwd: os.tmpdir(), env: { GIT_DIR: mixed } }).stdout.toString()).toBe('commit\n');
    expect(cli(['-C', sub, 'cat-file', '-t', 'HEAD']).stdout.toString()).toBe('commit\n');
  });
});

// ---------------------------------------------------------------- write, compact, verify

function midxCatCheck(gitdir: string): Buffer {
  return gitr(['--git-dir', gitdir, '-c', 'core.multiPackIndex=true', 'cat-file', '--batch-all-objects', '--batch-check']).stdout;
}

function copyOf(name: string): string {
  return copyRepo(fixtures().find((f: Fixture) => f.name === name)!);
}

describe('write, compact, verify', () => {
  it('write: a MIDX git verifies and reads, with and without --bitmap', () => {
    for (const bitmap of [false, true]) {
      const gitdir = path.join(tmpdir(), 'repo.git');
      fs.cpSync(mixed, gitdir, { recursive: true });
      const before = oracle(gitdir, ['cat-file', '--batch-all-objects', '--batch-check']).stdout;
      const w = cli(['--git-dir', gitdir, 'write', ...(bitmap ? ['--bitmap'] : [])]);
      expect(w.status, w.stderr).toBe(0);
      expect(w.stdout.toString()).toBe('');
      expect(fs.existsSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index'))).toBe(true);
      const v = gitr(['--git-dir', gitdir, 'multi-pack-index', 'verify']);
      expect(v.status, v.stderr).toBe(0);
      expect(midxCatCheck(gitdir).equals(before)).toBe(true);
      expect(cli(['--git-dir', gitdir, 'verify']).status).toBe(0);
      // reading through the new MIDX gives what git gives
      expect(cli(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']).stdout.equals(oracle(gitdir, ['cat-file', '--batch-all-objects', '--batch']).stdout)).toBe(true);
      // a second write has nothing to do
      expect(cli(['--git-dir', gitdir, 'write']).status).toBe(0);
    }
  });

  it('write over a fixture with packs outside the MIDX: git 2.39 reads the new MIDX', () => {
    const gitdir = copyOf('sha1-single');
    const before = oracle(gitdir, ['cat-file', '--batch-all-objects', '--batch-check']).stdout;
    const w = cli(['--git-dir', gitdir, 'write', '--preferred-pack=nonexistent.pack']);
    expect(w.status, w.stderr).toBe(0);
    expect(w.stderr).toContain("warning: unknown preferred pack: 'nonexistent.pack'");
    expect(gitr(['--git-dir', gitdir, 'multi-pack-index', 'verify']).status).toBe(0);
    expect(midxCatCheck(gitdir).equals(before)).toBe(true);
  });

  it('write --incremental, --no-write-chain-file (checksum on stdout), --stdin-packs, compact', () => {
    const gitdir = copyOf('sha1-chain');
    const baseline = oracle(gitdir, ['cat-file', '--batch-all-objects', '--batch']).stdout;
    const layers = chainLines(gitdir);
    expect(layers.length).toBe(3);

    // a layer outside the chain: its checksum on stdout, the chain untouched
    const lone = cli(['--git-dir', gitdir, 'write', '--incremental', '--no-write-chain-file']);
    expect(lone.status, lone.stderr).toBe(0);
    const checksum = lone.stdout.toString().trim();
    expect(checksum).toMatch(/^[0-9a-f]{40}$/);
    expect(fs.existsSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', `multi-pack-index-${checksum}.midx`))).toBe(true);
    expect(chainLines(gitdir)).toEqual(layers);

    // the real append
    const inc = cli(['--git-dir', gitdir, 'write', '--incremental']);
    expect(inc.status, inc.stderr).toBe(0);
    expect(inc.stdout.toString()).toBe('');
    const after = chainLines(gitdir);
    expect(after.slice(0, 3)).toEqual(layers);
    expect(after.length).toBe(4);
    expect(cli(['--git-dir', gitdir, 'verify']).status).toBe(0);
    expect(cli(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']).stdout.equals(baseline)).toBe(true);
    const stats = JSON.parse(cli(['--git-dir', gitdir, 'stats', '--json']).stdout.toString());
    expect(stats.packs).toEqual([]);
    // nothing left to add: exit 0, nothing printed, the chain unchanged
    const again = cli(['--git-dir', gitdir, 'write', '--incremental']);
    expect(again.status).toBe(0);
    expect(chainLines(gitdir)).toEqual(after);

    // compact layers 2..4 into one
    const c = cli(['--git-dir', gitdir, 'compact', '--incremental', after[1], after[3]]);
    expect(c.status, c.stderr).toBe(0);
    const compacted = chainLines(gitdir);
    expect(compacted.length).toBe(2);
    expect(compacted[0]).toBe(after[0]);
    expect(cli(['--git-dir', gitdir, 'verify']).status).toBe(0);
    expect(cli(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']).stdout.equals(baseline)).toBe(true);

    // compaction errors die as git's builtin does
    const bogus = cli(['--git-dir', gitdir, 'compact', 'deadbeef', compacted[1]]);
    expect(bogus.status).toBe(128);
    expect(bogus.stderr).toBe('fatal: could not find MIDX: deadbeef\n');
    const same = cli(['--git-dir', gitdir, 'compact', compacted[1], compacted[1]]);
    expect(same.status).toBe(128);
    expect(same.stderr).toBe('fatal: MIDX compaction endpoints must be unique\n');
    const order = cli(['--git-dir', gitdir, 'compact', compacted[1], compacted[0]]);
    expect(order.status).toBe(128);
    expect(order.stderr).toBe(`fatal: MIDX ${compacted[1]} must be an ancestor of ${compacted[0]}\n`);

    // --stdin-packs: a non-incremental MIDX of the named packs only
    const packDir = path.join(gitdir, 'objects', 'pack');
    const idx = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx')).sort();
    const only = cli(['--git-dir', gitdir, 'write', '--stdin-packs'], { input: `${idx[0]}\r\n${idx[1]}\nno-such-pack.idx\n` });
    expect(only.status, only.stderr).toBe(0);
    const s = JSON.parse(cli(['--git-dir', gitdir, 'stats', '--json']).stdout.toString());
    expect(s.midx).toBe('single');
    expect(s.midxPacks.map((p: { name: string }) => p.name).sort()).toEqual([idx[0], idx[1]]);
    expect(gitr(['--git-dir', gitdir, 'multi-pack-index', 'verify']).status).toBe(0);
  });

  it("write errors: git's messages, 255 for error(), 128 for die", () => {
    const empty = path.join(tmpdir(), 'empty.git');
    git(['init', '-q', '--bare', empty]);
    const none = cli(['--git-dir', empty, 'write']);
    expect(none.status).toBe(255);
    expect(none.stderr).toBe('error: no pack files to index.\n');
    const inc = cli(['--git-dir', empty, 'write', '--incremental']);
    expect(inc.status).toBe(0);
    const gitdir = copyOf('sha1-chain');
    // git 2.55's write does not look --base up (test/cli-base.test.ts); compact does
    const base = cli(['--git-dir', gitdir, 'compact', '--incremental', '--no-write-chain-file', '--base=deadbeef', ...fs.readFileSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n').slice(-2)]);
    expect(base.status).toBe(255);
    expect(base.stderr).toBe("error: could not find base MIDX 'deadbeef'\n");
    git(['config', 'midx.version', '3'], { cwd: gitdir });
    const version = cli(['--git-dir', gitdir, 'write']);
    expect(version.status).toBe(128);
    expect(version.stderr).toBe('fatal: unknown MIDX version: 3\n');
  });

  it('a held lock: git\'s "Unable to create ... File exists." and exit 128', () => {
    const gitdir = copyOf('sha1-single');
    const lock = path.join(gitdir, 'objects', 'pack', 'multi-pack-index.lock');
    fs.writeFileSync(lock, '');
    const r = cli(['--git-dir', gitdir, 'write']);
    expect(r.status).toBe(128);
    expect(r.stderr.split('\n')[0]).toBe(`fatal: Unable to create '${lock}': File exists.`);
    expect(r.stderr).toContain('Another git process seems to be running in this repository');
    const g = gitr(['--git-dir', gitdir, 'multi-pack-index', 'write']);
    expect(g.status).toBe(128);
    expect(g.stderr.split('\n')[0].replace('/./', '/')).toBe(r.stderr.split('\n')[0]);
    fs.unlinkSync(lock);
    // the chain's lock, for incremental writes
    const chain = copyOf('sha1-chain');
    const chainLock = path.join(chain, 'objects', 'pack', 'multi-pack-index.d', 'multi-pack-index-chain.lock');
    fs.writeFileSync(chainLock, '');
    const ri = cli(['--git-dir', chain, 'write', '--incremental']);
    expect(ri.status).toBe(128);
    expect(ri.stderr.split('\n')[0]).toBe(`fatal: Unable to create '${chainLock}': File exists.`);
    expect(fs.existsSync(chainLock)).toBe(true);
  });

  it("verify: 0 when clean, 1 for a bad checksum, 128 for a bad signature, as git's own verify", () => {
    for (const name of ['sha1-single', 'sha1-chain', 'sha256-chain', 'sha1-compacted']) {
      const f = fixtures().find((x) => x.name === name)!;
      const r = cli(['--git-dir', f.gitdir, 'verify']);
      expect(r.status, `${name}: ${r.stderr}`).toBe(0);
      expect(r.stderr).toBe('');
    }
    const gitdir = copyOf('sha1-single');
    const file = path.join(gitdir, 'objects', 'pack', 'multi-pack-index');
    const good = fs.readFileSync(file);
    const corrupt = (at: number, bytes: number[]) => {
      const b = Buffer.from(good);
      bytes.forEach((v, i) => (b[at + i] = v));
      fs.writeFileSync(file, b);
    };
    const cases: Array<[string, number, number[], number, string]> = [
      ['trailer', good.length - 10, new Array(10).fill(0xff), 1, 'incorrect checksum'],
      ['signature', 0, [0], 128, 'fatal: multi-pack-index signature 0x00494458 does not match signature 0x4d494458'],
      ['version', 4, [0], 128, 'multi-pack-index version'],
      ['hash version', 5, [3], 1, 'hash version 3 does not match version 1'],
    ];
    for (const [label, at, bytes, status, text] of cases) {
      corrupt(at, bytes);
      const mine = cli(['--git-dir', gitdir, 'verify']);
      const theirs = gitr(['--git-dir', gitdir, 'multi-pack-index', 'verify']);
      expect(mine.status, `${label}: ${mine.stderr}`).toBe(status);
      expect(theirs.status, label).toBe(status);
      expect(mine.stderr, label).toContain(text);
      const gitOnly = cli(['--git-dir', gitdir, 'verify', '--git-only']);
      expect(gitOnly.status, label).toBe(status);
    }
    fs.writeFileSync(file, good);
    expect(cli(['--git-dir', gitdir, 'verify']).status).toBe(0);
    // a bad offset: the same report as git's
    const ooffRow = good.indexOf(Buffer.from('OOFF'));
    expect(ooffRow).toBeGreaterThan(0);
    const ooff = Number(good.readBigUInt64BE(ooffRow + 4));
    corrupt(ooff + 16 * 8 + 6, [0xff]);
    const mine = cli(['--git-dir', gitdir, 'verify']);
    const theirs = gitr(['--git-dir', gitdir, 'multi-pack-index', 'verify']);
    expect(mine.status).toBe(1);
    expect(theirs.status).toBe(1);
    const lines = (s: string) => s.split('\n').filter((l) => l.startsWith('incorrect object offset'));
    expect(lines(mine.stderr)).toEqual(lines(theirs.stderr));
    expect(lines(mine.stderr).length).toBeGreaterThan(0);
  });
});

// ---------------------------------------------------------------- usage

describe('usage', () => {
  const gitdir = () => fixtures().find((f) => f.name === 'sha1-chain')!.gitdir;

  it('usage errors exit 129 with a usage text on stderr', () => {
    const cases: Array<[string[], string]> = [
      [[], 'error: need a subcommand'],
      [['frobnicate'], "error: unknown subcommand: `frobnicate'"],
      [['write', 'extra'], 'usage: midx-odb'],
      [['write', '--bogus'], "error: unknown option `bogus'"],
      [['write', '--no-write-chain-file'], 'error: cannot use --no-write-chain-file without --incremental'],
      [['write', '--incremental', '--base=none'], 'error: cannot use --base without --no-write-chain-file'],
      [['compact', 'one'], 'usage: midx-odb'],
      [['compact', '--no-write-chain-file', 'a', 'b'], 'error: cannot use --no-write-chain-file without --incremental'],
      [['verify', 'extra'], 'usage: midx-odb'],
      [['stats', 'extra'], 'usage: midx-odb'],
      [['--bogus', 'stats'], "error: unknown option `bogus'"],
    ];
    for (const [args, first] of cases) {
      const r = cli(['--git-dir', gitdir(), ...args]);
      expect(r.status, args.join(' ')).toBe(129);
      expect(r.stderr.split('\n')[0], args.join(' ')).toBe(first.startsWith('usage') ? r.stderr.split('\n')[0] : first);
      expect(r.stderr, args.join(' ')).toContain('usage: midx-odb');
      expect(r.stdout.toString()).toBe('');
    }
    const value = cli(['--git-dir', gitdir(), 'write', '--preferred-pack']);
    expect(value.status).toBe(129);
    expect(value.stderr).toBe("error: option `preferred-pack' requires a value\n");
    // as in git: --[no-]write-chain-file and --base without --no-write-chain-file are checked in that order
    const both = cli(['--git-dir', gitdir(), 'write', '--no-write-chain-file', '--base=x']);
    expect(both.stderr.split('\n')[0]).toBe('error: cannot use --no-write-chain-file without --incremental');
  });

  it('-h prints the usage on stdout and exits 129 (even outside a repository); --help exits 0', () => {
    const outside = tmpdir();
    for (const args of [['-h'], ['write', '-h'], ['cat-file', '-h'], ['verify', '-h'], ['compact', '-h'], ['stats', '-h']]) {
      const r = cli(args, { cwd: outside, env: { GIT_CEILING_DIRECTORIES: path.dirname(outside) } });
      expect(r.status, args.join(' ')).toBe(129);
      expect(r.stdout.toString(), args.join(' ')).toMatch(/^usage: midx-odb/);
      expect(r.stderr).toBe('');
    }
    const write = cli(['write', '-h']).stdout.toString();
    expect(write).toContain('[--[no-]bitmap] [--[no-]incremental] [--[no-]stdin-packs]');
    expect(write).toContain('--[no-]write-chain-file');
    for (const args of [['--help'], ['write', '--help'], ['help', 'cat-file']]) {
      const r = cli(args, { cwd: outside });
      expect(r.status, args.join(' ')).toBe(0);
      expect(r.stdout.toString()).toMatch(/^usage: midx-odb/);
    }
    expect(cli(['--version']).stdout.toString()).toMatch(/^midx-odb version \d+\.\d+\.\d+/);
  });
});

// ---------------------------------------------------------------- stats, progress

describe('stats', () => {
  it('--json: layers, packs inside and outside the MIDX, object counts, pack bytes', () => {
    for (const f of fixtures().filter((x) => ['sha1-chain', 'sha1-single', 'sha256-chain'].includes(x.name))) {
      const r = cli(['--git-dir', f.gitdir, 'stats', '--json']);
      expect(r.status, r.stderr).toBe(0);
      const s = JSON.parse(r.stdout.toString());
      const layers = fs.readFileSync(path.join(f.dir, 'expect', 'layers.txt'), 'utf8').split('\n').filter(Boolean);
      expect(s.layers.map((l: { checksum: string }) => l.checksum)).toEqual(layers);
      expect(s.objectFormat).toBe(f.algorithm);
      const packDir = path.join(f.gitdir, 'objects', 'pack');
      const idx = fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'));
      expect([...s.midxPacks, ...s.packs].map((p: { name: string }) => p.name).sort()).toEqual(idx.sort());
      const bytes = idx.reduce((n, i) => n + fs.statSync(path.join(packDir, i.replace(/\.idx$/, '.pack'))).size, 0);
      expect(s.packBytes.total).toBe(bytes);
      const objects = fs.readFileSync(path.join(f.dir, 'expect', 'objects.txt'), 'utf8').split('\n').filter(Boolean).length;
      expect(s.objects.midx).toBeLessThanOrEqual(objects);
      for (const p of s.midxPacks) expect(layers).toContain(p.layer);
      expect(s.midx).toBe(f.name === 'sha1-single' ? 'single' : 'chain');
    }
  });

  it('human-readable', () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const r = cli(['--git-dir', f.gitdir, 'stats']);
    expect(r.status).toBe(0);
    const text = r.stdout.toString();
    expect(text).toContain('multi-pack-index: chain of 3 layers');
    for (const l of fs.readFileSync(path.join(f.dir, 'expect', 'layers.txt'), 'utf8').split('\n').filter(Boolean)) expect(text).toContain(l);
    expect(text).toMatch(/packs in the multi-pack-index: 5, /);
    expect(text).toMatch(/packs outside the multi-pack-index: 1, /);
    expect(text).toMatch(/loose\s+\d+/);
  });
});

describe('progress', () => {
  it('only with --progress (stderr is not a terminal here); --no-progress wins', () => {
    const gitdir = path.join(tmpdir(), 'repo.git');
    fs.cpSync(mixed, gitdir, { recursive: true });
    const quiet = cli(['--git-dir', gitdir, 'write']);
    expect(quiet.stderr).toBe('');
    fs.unlinkSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index'));
    // git's delayed meters wait GIT_PROGRESS_DELAY seconds (2 by default): quick work shows none
    expect(cli(['--git-dir', gitdir, 'write', '--progress']).stderr).toBe('');
    fs.unlinkSync(path.join(gitdir, 'objects', 'pack', 'multi-pack-index'));
    const loud = cli(['--git-dir', gitdir, 'write', '--progress'], { env: { GIT_PROGRESS_DELAY: '0' } });
    expect(loud.status).toBe(0);
    // the library's meters, with git's titles ("Writing chunks" is opened and never advanced, as in git)
    expect(loud.stderr).toMatch(/^Adding packfiles to multi-pack-index: \d+, done\.\n$/);
    const verify = cli(['--git-dir', gitdir, '--progress', 'verify'], { env: { GIT_PROGRESS_DELAY: '0' } });
    expect(verify.status).toBe(0);
    expect(verify.stderr).toMatch(/Looking for referenced packfiles: 100% \((\d+)\/\1\), done\.\n/);
    expect(verify.stderr).toMatch(/Verifying object offsets: 100% \((\d+)\/\1\), done\.\n$/);
    expect(cli(['--git-dir', gitdir, '--progress', 'verify', '--no-progress']).stderr).toBe('');
  });
});
