/**
 * Finding the repository as git does (`--git-dir`, `GIT_DIR`, else walking up
 * from the working directory looking for `.git` — a directory or a `gitdir:`
 * file — or a bare repository), and resolving ref names (`HEAD`, `main`,
 * `v1.0`, `refs/...`) with git's lookup rules, loose refs then packed-refs.
 *
 * This is a Node program's front door, so it uses node:fs directly; the
 * object database itself goes through src/io like every other caller.
 */

import fs from 'node:fs';
import path from 'node:path';
import { Die } from './errors.js';

export interface Repository {
  /** the git directory (for a linked worktree: its private directory) */
  gitdir: string;
  /** where objects, refs, packed-refs and config live (`commondir`, else gitdir) */
  commondir: string;
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

function readText(p: string): string | null {
  try {
    return fs.readFileSync(p, 'utf8');
  } catch {
    return null;
  }
}

function commonDirOf(gitdir: string): string {
  const common = readText(path.join(gitdir, 'commondir'));
  if (common === null) return gitdir;
  return path.resolve(gitdir, common.replace(/\r?\n$/, ''));
}

/** git's is_git_directory: objects/ and refs/ (in the common dir) and a HEAD that looks like one. */
function isGitDirectory(dir: string): Repository | null {
  const commondir = commonDirOf(dir);
  if (!isDir(path.join(commondir, 'objects')) || !isDir(path.join(commondir, 'refs'))) return null;
  const head = path.join(dir, 'HEAD');
  try {
    const st = fs.lstatSync(head);
    if (st.isSymbolicLink()) {
      if (!fs.readlinkSync(head).startsWith('refs/')) return null;
    } else {
      const text = fs.readFileSync(head, 'utf8');
      if (!/^ref:\s*refs\//.test(text) && !/^([0-9a-f]{40}|[0-9a-f]{64})\s*$/.test(text)) return null;
    }
  } catch {
    return null;
  }
  return { gitdir: dir, commondir };
}

/** The target of a `.git` file (`gitdir: <path>`), relative to the file's directory; null if it is no such file. */
function readGitFile(file: string): string | null {
  let st;
  try {
    st = fs.statSync(file);
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const text = readText(file) ?? '';
  const m = /^gitdir: (.*?)\r?\n?$/.exec(text);
  if (!m) throw new Die(`invalid gitfile format: ${file}`);
  return path.resolve(path.dirname(file), m[1]);
}

function ceilings(env: NodeJS.ProcessEnv): string[] {
  return (env.GIT_CEILING_DIRECTORIES ?? '')
    .split(':')
    .filter((p) => path.isAbsolute(p))
    .map((p) => path.resolve(p));
}

/**
 * The repository for this invocation. `gitDir` is `--git-dir`; otherwise
 * `GIT_DIR`; otherwise discovery from `cwd` upwards, stopping below any
 * `GIT_CEILING_DIRECTORIES` entry. Dies with git's messages.
 */
export function findRepository(options: { gitDir?: string; cwd: string; env: NodeJS.ProcessEnv }): Repository {
  const explicit = options.gitDir ?? (options.env.GIT_DIR || undefined);
  if (explicit !== undefined) {
    let dir = path.resolve(options.cwd, explicit);
    const target = readGitFile(dir);
    if (target) dir = target;
    const repo = isGitDirectory(dir);
    if (!repo) throw new Die(`not a git repository: '${explicit}'`);
    return repo;
  }
  let dir: string;
  try {
    dir = fs.realpathSync(options.cwd);
  } catch {
    dir = path.resolve(options.cwd);
  }
  const stops = ceilings(options.env);
  for (;;) {
    const dotgit = path.join(dir, '.git');
    if (isDir(dotgit)) {
      const repo = isGitDirectory(dotgit);
      if (repo) return repo;
    } else {
      const target = readGitFile(dotgit);
      if (target) {
        const repo = isGitDirectory(target);
        if (!repo) throw new Die(`not a git repository: ${target}`);
        return repo;
      }
    }
    const bare = isGitDirectory(dir);
    if (bare) return bare;
    const parent = path.dirname(dir);
    if (parent === dir || stops.includes(parent)) break;
    dir = parent;
  }
  throw new Die('not a git repository (or any of the parent directories): .git');
}

// ---------------------------------------------------------------- refs

/** git's ref_rev_parse_rules, in order. */
const RULES = ['%s', 'refs/%s', 'refs/tags/%s', 'refs/heads/%s', 'refs/remotes/%s', 'refs/remotes/%s/HEAD'];

/** A conservative check_refname_format: nothing that could leave the refs namespace or that git rejects. */
function plausibleRefname(name: string): boolean {
  if (!name || name.startsWith('/') || name.endsWith('/') || name.endsWith('.') || name.includes('..') || name.includes('//') || name.includes('@{')) return false;
  if (/[\x00-\x20\x7f~^:?*[\\]/.test(name)) return false;
  return name.split('/').every((c) => c.length > 0 && !c.startsWith('.') && !c.endsWith('.lock'));
}

/** Per-worktree refs live in the worktree's own git directory. */
function isPerWorktree(ref: string): boolean {
  return !ref.includes('/') || ref.startsWith('refs/bisect/') || ref.startsWith('refs/worktree/') || ref.startsWith('refs/rewritten/');
}

export class RefResolver {
  private packed: Map<string, string> | null = null;

  constructor(
    private readonly repo: Repository,
    private readonly hexLength: number,
  ) {}

  private packedRefs(): Map<string, string> {
    if (this.packed) return this.packed;
    const map = new Map<string, string>();
    let text = '';
    try {
      text = fs.readFileSync(path.join(this.repo.commondir, 'packed-refs'), 'latin1');
    } catch {
      // no packed refs
    }
    for (const line of text.split('\n')) {
      if (!line || line.startsWith('#') || line.startsWith('^')) continue;
      const sp = line.indexOf(' ');
      if (sp === this.hexLength) map.set(line.slice(sp + 1).replace(/\r$/, ''), line.slice(0, sp).toLowerCase());
    }
    return (this.packed = map);
  }

  /** The object a full ref name points at, following symbolic refs; null when the ref does not exist. */
  readRef(ref: string, depth = 0): string | null {
    if (depth > 5 || !plausibleRefname(ref)) return null;
    const dir = isPerWorktree(ref) ? this.repo.gitdir : this.repo.commondir;
    // ref names are byte strings (see names.ts); the file system wants UTF-8
    const file = path.join(dir, Buffer.from(ref, 'latin1').toString('utf8'));
    let text: string | null = null;
    try {
      if (fs.statSync(file).isFile()) text = fs.readFileSync(file, 'latin1');
    } catch {
      text = null;
    }
    if (text !== null) {
      const sym = /^ref:\s*(\S+)/.exec(text);
      if (sym) return this.readRef(sym[1], depth + 1);
      const hex = text.trim().toLowerCase();
      if (hex.length === this.hexLength && /^[0-9a-f]+$/.test(hex)) return hex;
      return null;
    }
    return this.packedRefs().get(ref) ?? null;
  }

  /** git's dwim_ref: the first rule that names an existing ref. */
  dwim(name: string): string | null {
    if (!plausibleRefname(name)) return null;
    for (const rule of RULES) {
      const ref = rule.replace('%s', name);
      // the bare rule only applies to refs/... and pseudo-refs such as HEAD (git's is_pseudoref_syntax)
      if (rule === '%s' && !ref.startsWith('refs/') && !/^[A-Z_]+$/.test(ref)) continue;
      const oid = this.readRef(ref);
      if (oid) return oid;
    }
    return null;
  }
}
