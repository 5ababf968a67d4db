/**
 * Hostile files side by side with git 2.55: where git warns and goes on, this
 * library warns and goes on; where git dies, it throws a typed error; where git
 * hangs (a FIFO as the chain file), it does not.
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CorruptError, NotAFileError, openOdb } from '../src/index.js';
import { git255Bin } from './git255.js';
import { copyRepo, fixtures, GIT_ENV } from './helpers.js';

const chainFixture = fixtures().find((f) => f.name === 'sha1-chain')!;
const singleFixture = fixtures().find((f) => f.name === 'sha1-single')!;
const CHAIN = 'objects/pack/multi-pack-index.d/multi-pack-index-chain';

function git(gitdir: string, args: string[], timeout = 60_000) {
  const r = spawnSync(git255Bin(), ['--git-dir', gitdir, ...args], { env: GIT_ENV, timeout, maxBuffer: 1 << 28 });
  return { status: r.status, signal: r.signal, stdout: r.stdout?.toString() ?? '', stderr: r.stderr?.toString() ?? '' };
}

function objectsOf(f: typeof chainFixture): string[][] {
  return fs
    .readFileSync(path.join(f.dir, 'expect', 'objects.txt'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => l.split(' '));
}

/** Reads every object of the fixture; resolves to the warnings. */
async function readsEverything(gitdir: string, f: typeof chainFixture): Promise<string[]> {
  const warnings: string[] = [];
  const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w.reason) });
  try {
    for (const [oid, type, size] of objectsOf(f)) {
      const o = await odb.read(oid);
      expect(`${o.type} ${o.data.length}`, oid).toBe(`${type} ${size}`);
    }
  } finally {
    await odb.close();
  }
  return warnings;
}

/** git 2.55 lists every object of the fixture. */
function gitReadsEverything(gitdir: string, f: typeof chainFixture) {
  const r = git(gitdir, ['cat-file', '--batch-check', '--batch-all-objects']);
  expect(r.status).toBe(0);
  expect(r.stdout.trim().split('\n').length).toBe(objectsOf(f).length);
  return r;
}

describe('hostile files beside git 2.55', () => {
  it('a MIDX with bytes appended: git says "incorrect checksum" (exit 1) and so does verifyMidx; reads fall back to the packs', async () => {
    const gitdir = copyRepo(singleFixture);
    fs.appendFileSync(path.join(gitdir, 'objects/pack/multi-pack-index'), Buffer.alloc(4096, 0x5a));
    const g = git(gitdir, ['multi-pack-index', 'verify']);
    expect(g.status).toBe(1);
    expect(g.stderr).toContain('incorrect checksum');
    gitReadsEverything(gitdir, singleFixture);
    const warnings = await readsEverything(gitdir, singleFixture);
    expect(warnings.some((w) => /chunks end at \d+, but the file has 4096 more bytes/.test(w))).toBe(true);
    const odb = await openOdb({ fs, gitdir });
    const v = await odb.verifyMidx();
    await odb.close();
    expect(v.gitExitCode).toBe(g.status);
    expect(v.problems.map((p) => p.message)).toContain('incorrect checksum');
  });

  it('a chain repeating its lines 1,000 times: git reads every object, and so does the library (the chain cut at the first repeat, with a warning)', async () => {
    const gitdir = copyRepo(chainFixture);
    const f = path.join(gitdir, CHAIN);
    const once = fs.readFileSync(f, 'utf8');
    fs.writeFileSync(f, once.repeat(1000));
    gitReadsEverything(gitdir, chainFixture);
    const warnings = await readsEverything(gitdir, chainFixture);
    expect(warnings).toEqual([expect.stringMatching(new RegExp(`names layer ${once.split('\n')[0]} again on line 4; the chain is cut there`))]);
  });

  it('bad alternates lines (missing directory, control byte, NUL byte, over-long path): git warns for each and goes on; so does the library', async () => {
    const gitdir = copyRepo(chainFixture);
    const lines = ['/nonexistent/objects', '/tmp/a\x01b', '/' + 'x'.repeat(5000), '/tmp/a\0b'];
    fs.writeFileSync(path.join(gitdir, 'objects/info/alternates'), lines.join('\n') + '\n');
    const g = gitReadsEverything(gitdir, chainFixture);
    // 4 lines, 4 complaints (git reads the file as a C string: the NUL ends it, and it
    // complains about '/tmp/a'; the library skips the line that holds it)
    expect(g.stderr.trim().split('\n').filter((l) => l.startsWith('error:')).length).toBe(4);
    const warnings = await readsEverything(gitdir, chainFixture);
    // the first object read comes from the repository itself: alternates are read on a miss
    const odb = await openOdb({ fs, gitdir, onWarning: (w) => warnings.push(w.reason) });
    await odb.exists('0'.repeat(40));
    await odb.close();
    expect(warnings.length).toBe(4);
    expect(warnings.some((w) => w.includes('NUL byte'))).toBe(true);
    expect(warnings.some((w) => w.includes('longer than any path'))).toBe(true);
  });

  it('a FIFO as the chain file: git 2.55 blocks on it forever; the library reads every object (git is stopped after 5 s)', async () => {
    const gitdir = copyRepo(chainFixture);
    const f = path.join(gitdir, CHAIN);
    fs.rmSync(f);
    expect(spawnSync('mkfifo', [f]).status).toBe(0);
    const g = git(gitdir, ['cat-file', '--batch-check', '--batch-all-objects'], 5000);
    expect(g.signal).toBe('SIGTERM');
    const warnings = await readsEverything(gitdir, chainFixture);
    expect(warnings.some((w) => w.includes('named pipe'))).toBe(true);
  });

  it('a config that is a directory or /dev/zero: git dies, openOdb throws a typed error', async () => {
    const gitdir = copyRepo(chainFixture);
    const config = path.join(gitdir, 'config');
    fs.rmSync(config);
    fs.mkdirSync(config);
    expect(git(gitdir, ['cat-file', '--batch-check', '--batch-all-objects']).status).toBe(128);
    await expect(openOdb({ fs, gitdir })).rejects.toBeInstanceOf(NotAFileError);
    fs.rmdirSync(config);
    fs.symlinkSync('/dev/zero', config);
    expect(git(gitdir, ['cat-file', '--batch-check', '--batch-all-objects']).status).toBe(128);
    await expect(openOdb({ fs, gitdir })).rejects.toBeInstanceOf(CorruptError);
  });
});
