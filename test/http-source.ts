import fs from 'node:fs';
import path from 'node:path';
import { git as sysGit } from './helpers.js';

/** What each commit of a source repository changes: one file (under one of four directories) and a line appended to grow.txt. */
export interface SourceShape {
  /** the file commit `n` writes: its name in directory `d${n % 4}`, and its content */
  file(n: number): { name: string; body: string };
  /** the line commit `n` appends to grow.txt */
  grow(n: number): string;
}

/**
 * A source repository for fetch tests: a work tree under `root/work` pushing
 * to the bare repository `root/serve/src.git` (what an HTTP server at
 * `root/serve` serves). `commits(k)` makes k more commits, dated one second
 * apart, and pushes them.
 */
export function makeSource(root: string, shape: SourceShape) {
  const work = path.join(root, 'work');
  const bare = path.join(root, 'serve', 'src.git');
  fs.mkdirSync(work, { recursive: true });
  sysGit(['init', '-q', '-b', 'main', work]);
  sysGit(['init', '-q', '--bare', '-b', 'main', bare]);
  let n = 0;
  const commits = (count: number) => {
    for (let i = 0; i < count; i++, n++) {
      const dir = path.join(work, `d${n % 4}`);
      fs.mkdirSync(dir, { recursive: true });
      const f = shape.file(n);
      fs.writeFileSync(path.join(dir, f.name), f.body);
      fs.appendFileSync(path.join(work, 'grow.txt'), shape.grow(n));
      sysGit(['add', '-A'], { cwd: work });
      sysGit(['commit', '-q', '-m', `commit ${n}`], { cwd: work, env: { GIT_COMMITTER_DATE: `${1700000000 + n} +0000`, GIT_AUTHOR_DATE: `${1700000000 + n} +0000` } });
    }
    sysGit(['push', '-q', bare, 'main'], { cwd: work });
  };
  return { work, bare, commits };
}
