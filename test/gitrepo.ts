/** Builds repositories with the system git for tests: several packs of each kind, deep deltas, a large blob, loose objects. */

import fs from 'node:fs';
import path from 'node:path';
import { git, parseBatch, tmpdir } from './helpers.js';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s;
  };
}

/**
 * A bare repository with:
 * - a pack written with .idx v1 (pack.indexVersion=1),
 * - a pack with REF_DELTA entries (repack.useDeltaBaseOffset=false),
 * - a pack with deep OFS_DELTA chains (one file edited 60 times, --depth=250),
 * - a blob larger than 1 MB,
 * - loose objects.
 */
export function buildMixedRepo(): string {
  const root = tmpdir();
  const work = path.join(root, 'work');
  const bare = path.join(root, 'repo.git');
  fs.mkdirSync(work);
  git(['init', '-q', '-b', 'main', work]);
  const rnd = seeded(42);
  const commit = (msg: string) => {
    git(['add', '-A'], { cwd: work });
    git(['commit', '-q', '-m', msg], { cwd: work });
  };
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i} ${rnd().toString(36)}`);
  // history 1: one file edited many times (deep delta chains)
  for (let i = 0; i < 60; i++) {
    lines[(rnd() % lines.length) | 0] = `edit ${i} ${rnd().toString(36)}`;
    fs.writeFileSync(path.join(work, 'deep.txt'), lines.join('\n') + '\n');
    fs.writeFileSync(path.join(work, `f${i % 7}.txt`), `file ${i}\n`.repeat(20 + i));
    commit(`edit ${i}`);
  }
  git(['init', '-q', '--bare', bare]);
  git(['push', '-q', bare, 'main'], { cwd: work });
  // one pack of everything so far, deep deltas
  git(['-c', 'pack.indexVersion=2', 'repack', '-a', '-d', '-q', '--depth=250', '--window=50'], { cwd: bare });
  // a second batch, packed with REF_DELTA
  for (let i = 60; i < 75; i++) {
    lines[(rnd() % lines.length) | 0] = `edit ${i} ${rnd().toString(36)}`;
    fs.writeFileSync(path.join(work, 'deep.txt'), lines.join('\n') + '\n');
    commit(`edit ${i}`);
  }
  git(['push', '-q', bare, 'main'], { cwd: work });
  git(['-c', 'repack.useDeltaBaseOffset=false', 'repack', '-d', '-q'], { cwd: bare });
  // a third batch with a blob > 1 MB, packed with an .idx v1
  const big = Buffer.alloc(1_500_000);
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(rnd(), i);
  fs.writeFileSync(path.join(work, 'big.bin'), big);
  fs.writeFileSync(path.join(work, 'deep.txt'), lines.join('\n') + '\nmore\n');
  commit('big');
  git(['tag', '-a', '-m', 'a tag', 'v1', 'main'], { cwd: work });
  git(['push', '-q', bare, 'main', 'v1'], { cwd: work });
  git(['-c', 'pack.indexVersion=1', 'repack', '-d', '-q'], { cwd: bare });
  // loose objects: one more commit, unpacked
  fs.writeFileSync(path.join(work, 'loose.txt'), 'loose\n');
  commit('loose');
  git(['push', '-q', bare, 'main'], { cwd: work });
  git(['config', 'gc.auto', '0'], { cwd: bare });
  return bare;
}

/** Every object as `git cat-file --batch --batch-all-objects` prints it. */
export function allObjects(gitdir: string): Map<string, { type: string; data: Buffer }> {
  return parseBatch(git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch']));
}
