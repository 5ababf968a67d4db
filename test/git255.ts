/**
 * git 2.55 (the oracle for writing) from the tests: its binaries, a run helper,
 * and repositories built with `git fast-import` (fast for many objects).
 */

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GIT_ENV } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

let dir: string | null = null;

/** The git 2.55 install directory (setup.sh builds or finds it and prints it). */
export function git255Dir(): string {
  if (!dir) dir = execFileSync(path.join(ROOT, '..', 'shared', 'git-2.55', 'setup.sh'), { encoding: 'utf8' }).trim().split('\n').pop()!;
  return dir;
}

export function git255Bin(): string {
  return path.join(git255Dir(), 'git', 'bin', 'git');
}

export function testTool(): string {
  return path.join(git255Dir(), 'src', 't', 'helper', 'test-tool');
}

/** Runs git 2.55; stdout as a Buffer; throws with stderr on failure. */
export function git255(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Buffer {
  const r = spawnSync(git255Bin(), args, { cwd: opts.cwd, input: opts.input, env: GIT_ENV, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

/** Runs git 2.55's test-tool; stdout as a string. */
export function runTestTool(args: string[], cwd?: string): string {
  const r = spawnSync(testTool(), args, { cwd, env: GIT_ENV, maxBuffer: 1 << 30 });
  if (r.status !== 0) throw new Error(`test-tool ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout.toString();
}

/**
 * A bare repository with a linear history of `commits` commits made by
 * fast-import: each commit changes `perCommit` of `files` files (in a few
 * directories), so every commit brings new blobs, trees and the commit.
 * Refs: `refs/heads/main`; marks :1.. are the commits (returned as OIDs).
 */
export function fastImportHistory(gitdir: string, opts: { commits: number; files?: number; perCommit?: number; blobsPerCommit?: number }): string[] {
  const files = opts.files ?? 40;
  const perCommit = opts.perCommit ?? 3;
  git255(['init', '-q', '--bare', gitdir]);
  git255(['--git-dir', gitdir, 'config', 'maintenance.auto', 'false']);
  git255(['--git-dir', gitdir, 'config', 'gc.auto', '0']);
  const out: string[] = [];
  let t = 1700000000;
  for (let c = 1; c <= opts.commits; c++) {
    const msg = `commit ${c}\n`;
    out.push(`commit refs/heads/main\nmark :${c}\ncommitter C O Mitter <c@example.com> ${t++} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}`);
    if (c > 1) out.push(`from :${c - 1}\n`);
    for (let k = 0; k < perCommit; k++) {
      const f = (c * 7 + k * 13) % files;
      const body = `file ${f} at commit ${c}.${k}\n${'x'.repeat((c * 31 + k) % 200)}\n`;
      out.push(`M 100644 inline dir${f % 5}/file${f}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    for (let k = 0; k < (opts.blobsPerCommit ?? 0); k++) {
      const body = `extra ${c}.${k}\n`;
      out.push(`M 100644 inline extra/${c % 100}/${k}.txt\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    out.push('\n');
  }
  git255(['--git-dir', gitdir, 'fast-import', '--quiet', '--export-marks=' + path.join(gitdir, 'marks')], { input: out.join('') });
  const marks = new Map<number, string>();
  for (const line of fs.readFileSync(path.join(gitdir, 'marks'), 'utf8').split('\n')) {
    const m = /^:(\d+) ([0-9a-f]+)$/.exec(line);
    if (m) marks.set(Number(m[1]), m[2]);
  }
  fs.rmSync(path.join(gitdir, 'marks'));
  return Array.from({ length: opts.commits }, (_, i) => marks.get(i + 1)!);
}

/** A pack of what `revs` (rev-list arguments, one a line) reach; returns its `.idx` basename. */
export function packRevs(gitdir: string, revs: string[]): string {
  const hex = git255(['--git-dir', gitdir, 'pack-objects', '--revs', '-q', path.join(gitdir, 'objects', 'pack', 'pack')], { input: revs.join('\n') + '\n' })
    .toString()
    .trim();
  return `pack-${hex}.idx`;
}
