/**
 * `odb.repackMidx({ batchSize })` against git 2.55's `multi-pack-index repack
 * --batch-size=<n>`: the same repository copied twice, git repacks one copy
 * and we repack the other. The new packs must hold the same objects (so the
 * same packs were selected), the rewritten MIDX must list the same packs (the
 * new one aside, whose name is its checksum), and git must accept ours.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, openOdb } from '../src/index.js';
import { expectedPackSize } from '../src/odb/repack.js';
import { copyRepo as copyHelper, GIT_ENV, parseBatch, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
let GIT = 'git';

function g(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}) {
  const r = spawnSync(GIT, args, { cwd: opts.cwd ?? os.tmpdir(), input: opts.input, env: GIT_ENV, maxBuffer: 1 << 30 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr.toString() };
}

function ok(args: string[], opts: { cwd?: string; input?: string | Buffer } = {}): Buffer {
  const r = g(args, opts);
  if (r.status !== 0) throw new Error(`git ${args.join(' ')} failed (${r.status}): ${r.stderr}`);
  return r.stdout;
}

const packDir = (gitdir: string) => path.join(gitdir, 'objects', 'pack');
const idxNames = (gitdir: string) =>
  fs
    .readdirSync(packDir(gitdir))
    .filter((n) => n.endsWith('.idx'))
    .sort();

function packObjects(gitdir: string, idx: string): string[] {
  return ok(['show-index'], { input: fs.readFileSync(path.join(packDir(gitdir), idx)) })
    .toString()
    .trim()
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(' ')[1])
    .sort();
}

/** Copies a repository, keeping the packs' mtimes (git's selection depends on them). */
const copyRepo = (src: string) => copyHelper(src, { preserveTimestamps: true });

/**
 * Six packs with distinct mtimes (oldest first in creation order) and a MIDX
 * written by git: five packs of successive histories, and a sixth holding the
 * first two again (so those two have fewer objects referenced by the MIDX
 * than they hold).
 */
function buildRepo(): string {
  const root = tmpdir();
  const work = path.join(root, 'work');
  const bare = path.join(work, '.git');
  ok(['init', '-q', '-b', 'main', work]);
  // no automatic gc or maintenance while the history is built (git 2.55 packs loose objects after commits)
  ok(['config', 'gc.auto', '0'], { cwd: work });
  ok(['config', 'maintenance.auto', 'false'], { cwd: work });
  const tips: string[] = [];
  let n = 0;
  for (let batch = 0; batch < 5; batch++) {
    for (let c = 0; c < 4 + batch * 3; c++, n++) {
      fs.writeFileSync(path.join(work, `file${n % 9}.txt`), `line ${n}\n`.repeat(50 + n * 7) + 'x'.repeat(n * 13));
      ok(['add', '-A'], { cwd: work });
      ok(['commit', '-q', '-m', `c${n}`], { cwd: work });
    }
    tips.push(ok(['rev-parse', 'HEAD'], { cwd: work }).toString().trim());
  }
  // the objects are loose in the work repository: pack them range by range
  const ranges = tips.map((t, i) => (i === 0 ? t : `${t} ^${tips[i - 1]}`));
  ranges.push(`${tips[1]}`);
  let time = 1_700_000_000;
  for (const r of ranges) {
    const name = ok(['--git-dir', bare, 'pack-objects', '-q', '--revs', path.join(packDir(bare), 'pack')], { input: r.split(' ').join('\n') + '\n' })
      .toString()
      .trim();
    time += 100;
    for (const ext of ['.pack', '.idx', '.rev']) {
      const f = path.join(packDir(bare), `pack-${name}${ext}`);
      if (fs.existsSync(f)) fs.utimesSync(f, time, time);
    }
  }
  ok(['--git-dir', bare, 'prune-packed']);
  ok(['--git-dir', bare, 'multi-pack-index', 'write']);
  return bare;
}

let GITDIR: string;

beforeAll(() => {
  try {
    const dir = execFileSync('bash', [path.join(ROOT, '..', 'shared', 'git-2.55', 'setup.sh')], { encoding: 'utf8' }).trim();
    GIT = path.join(dir, 'git', 'bin', 'git');
  } catch {
    GIT = 'git';
  }
  GITDIR = buildRepo();
}, 120_000);

interface Outcome {
  /** the old packs still listed, plus '<new>' for the one written */
  midx: string[];
  /** the objects of the new pack */
  objects: string[] | null;
}

async function listedPacks(gitdir: string): Promise<string[]> {
  const odb = await openOdb({ fs, gitdir });
  try {
    const s = await odb.stats();
    return s.layers.length ? s.layers[s.layers.length - 1].packs : [];
  } finally {
    await odb.close();
  }
}

async function outcome(gitdir: string, before: string[]): Promise<Outcome> {
  const added = idxNames(gitdir).filter((n) => !before.includes(n));
  expect(added.length).toBeLessThanOrEqual(1);
  const listed = await listedPacks(gitdir);
  return {
    midx: listed.map((n) => (added.includes(n) ? '<new>' : n)).sort(),
    objects: added.length ? packObjects(gitdir, added[0]) : null,
  };
}

/** .idx names, oldest .pack first */
function byAge(gitdir: string): string[] {
  const t = (n: string) => fs.statSync(path.join(packDir(gitdir), n.replace(/\.idx$/, '.pack'))).mtimeMs;
  return idxNames(gitdir).sort((x, y) => t(x) - t(y));
}

async function compare(batchSize: number, config: string[][] = [], keep: string[] = []) {
  const a = copyRepo(GITDIR);
  const b = copyRepo(GITDIR);
  const before = idxNames(a);
  for (const [k, v] of config) {
    ok(['--git-dir', a, 'config', k, v]);
    ok(['--git-dir', b, 'config', k, v]);
  }
  for (const name of keep) {
    for (const d of [a, b]) fs.writeFileSync(path.join(packDir(d), name.replace(/\.idx$/, '.keep')), '');
  }
  const gitMidx = fs.readFileSync(path.join(packDir(a), 'multi-pack-index'));
  ok(['--git-dir', a, 'multi-pack-index', 'repack', `--batch-size=${batchSize}`]);
  const odb = await openOdb({ fs, gitdir: b });
  const result = await odb.repackMidx({ batchSize });
  await odb.close();
  const theirs = await outcome(a, before);
  const ours = await outcome(b, before);
  expect(ours).toEqual(theirs);
  if (!theirs.objects) {
    expect(result.pack).toBeNull();
    expect(fs.readFileSync(path.join(packDir(a), 'multi-pack-index')).equals(gitMidx)).toBe(true);
    expect(fs.readFileSync(path.join(packDir(b), 'multi-pack-index')).equals(gitMidx)).toBe(true);
    return { result, theirs };
  }
  expect(result.pack!.count).toBe(theirs.objects.length);
  expect(result.repacked.length).toBeGreaterThan(1);
  expect(result.repacked).not.toContain(path.basename(result.pack!.idxPath));
  // what git says of our repository afterwards
  const v = g(['--git-dir', b, 'multi-pack-index', 'verify']);
  expect(v.status).toBe(0);
  const fsck = g(['--git-dir', b, 'fsck', '--full', '--no-dangling']);
  expect(fsck.stderr).toBe('');
  expect(fsck.status).toBe(0);
  expect(g(['index-pack', '--verify', '--rev-index', result.pack!.packPath]).status).toBe(0);
  // every object reads the same through git in both copies
  const all = (d: string) => parseBatch(ok(['--git-dir', d, 'cat-file', '--batch-all-objects', '--batch']));
  const [x, y] = [all(a), all(b)];
  expect([...y.keys()]).toEqual([...x.keys()]);
  for (const [k, o] of x) expect(y.get(k)!.data.equals(o.data)).toBe(true);
  return { result, theirs };
}

describe('repackMidx against git 2.55 multi-pack-index repack', () => {
  it('the packs have distinct sizes and mtimes, and the newest duplicates two others', () => {
    const names = idxNames(GITDIR);
    expect(names.length).toBe(6);
    const mtimes = new Set(names.map((n) => fs.statSync(path.join(packDir(GITDIR), n.replace(/\.idx$/, '.pack'))).mtimeMs));
    expect(mtimes.size).toBe(6);
  });

  it('--batch-size=0: every pack', async () => {
    const { result } = await compare(0);
    expect(result.repacked.length).toBe(6);
  });

  it('a batch size above every pack: every pack whose expected size is below it', async () => {
    await compare(1 << 30);
  });

  it('a batch size of 1: the two packs the MIDX takes no object from (expected size 0) make an empty pack, as git writes', async () => {
    const { result, theirs } = await compare(1);
    expect(theirs.objects).toEqual([]);
    expect(result.repacked.sort()).toEqual(byAge(GITDIR).slice(0, 2).sort());
    expect(result.pack!.count).toBe(0);
  });

  it('one pack or none selected: nothing is done, the MIDX is untouched', async () => {
    const { result } = await compare(1, [], byAge(GITDIR).slice(0, 1));
    expect(result.repacked).toEqual([]);
  });

  // batch sizes around the packs' expected sizes: each step of git's running total
  it('batch sizes around the expected pack sizes select what git selects', async () => {
    const odb = await openOdb({ fs, gitdir: GITDIR });
    const st = await odb.stats();
    await odb.close();
    const sizes = st.layers[0].packs.map((n) => fs.statSync(path.join(packDir(GITDIR), n.replace(/\.idx$/, '.pack'))).size);
    const candidates = new Set<number>();
    let sum = 0;
    for (const s of [...sizes].sort((p, q) => p - q)) {
      sum += s;
      for (const v of [s, s + 1, sum, sum + 1]) candidates.add(v);
    }
    const picked = [...candidates].sort((p, q) => p - q).filter((_, i) => i % 3 === 0);
    let changed = 0;
    for (const size of picked) {
      const { theirs } = await compare(size);
      if (theirs.objects) changed++;
    }
    expect(changed).toBeGreaterThan(0);
  }, 120_000);

  it('a .keep pack is left out, unless repack.packKeptObjects', async () => {
    const kept = [idxNames(GITDIR)[0], idxNames(GITDIR)[2]];
    const { result } = await compare(0, [], kept);
    expect(result.repacked.length).toBe(4);
    const again = await compare(0, [['repack.packKeptObjects', 'true']], kept);
    expect(again.result.repacked.length).toBe(6);
  });

  it('repack.useDeltaBaseOffset=false', async () => {
    await compare(0, [['repack.useDeltaBaseOffset', 'false']]);
  });

  it('no MIDX: nothing to do; a chain of two layers: refused as git does', async () => {
    const plain = copyRepo(GITDIR);
    fs.rmSync(path.join(packDir(plain), 'multi-pack-index'));
    let odb = await openOdb({ fs, gitdir: plain });
    expect(await odb.repackMidx({ batchSize: 0 })).toEqual({ repacked: [], pack: null, midx: null });
    await odb.close();
    // two layers, written by git
    const chain = copyRepo(GITDIR);
    fs.rmSync(path.join(packDir(chain), 'multi-pack-index'));
    const names = idxNames(chain);
    ok(['--git-dir', chain, 'multi-pack-index', 'write', '--incremental', '--stdin-packs'], { input: names.slice(0, 3).join('\n') + '\n' });
    ok(['--git-dir', chain, 'multi-pack-index', 'write', '--incremental']);
    const r = g(['--git-dir', chain, 'multi-pack-index', 'repack', '--batch-size=0']);
    expect(r.stderr).toContain('cannot repack an incremental multi-pack-index');
    odb = await openOdb({ fs, gitdir: chain });
    await expect(odb.repackMidx({ batchSize: 0 })).rejects.toThrow(new InvalidArgumentError('cannot repack an incremental multi-pack-index'));
    await odb.close();
  });

  it("the expected size is git's fixed-point value", () => {
    expect(expectedPackSize(1, 3, 1000)).toBe(333n);
    expect(expectedPackSize(2, 3, 1000)).toBe(667n);
    // (1<<14)/3 = 5461 (truncated), * 10^6 = 5461000000, + 8192 >> 14 = 333313
    expect(expectedPackSize(1, 3, 1_000_000)).toBe(333313n);
    expect(expectedPackSize(7, 7, 2 ** 40)).toBe(2n ** 40n);
  });
});
