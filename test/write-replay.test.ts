/**
 * Replays every fixture's steps/ (the `git multi-pack-index` commands git 2.55
 * ran to build it) with writeMidx/compactMidx, and compares what we wrote
 * with what git wrote, byte for byte, after every step.
 *
 * The pack directory starts with no MIDX file, every pack's mtime from
 * `mtimes`, and exactly the packs of step 1; each later step adds its packs.
 * `.bitmap` files are compared too. Their commits come from the refs, and
 * the fixtures record only the final refs: before each step the one branch is
 * pointed at the newest commit the step's packs hold (the history was built
 * a pack at a time, so that is where it stood when git ran the step).
 *
 * sha1-large-offsets ships no `.pack` (it would be 6 GiB). Writing a MIDX
 * only reads `.idx` files and needs each `.pack` to exist (git's
 * add_packed_git stats it), so an empty placeholder `.pack` stands in for it.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import type { CompactMidxOptions, WriteMidxOptions } from '../src/types.js';
import { git255 } from './git255.js';
import { copyRepo, type Fixture, fixtures, tmpdir } from './helpers.js';

interface Step {
  k: string;
  dir: string;
  argv: string[];
  packs: string[];
  /** MIDX files git left (relative to the pack dir), .bitmap aside */
  files: Map<string, Buffer>;
}

function listFiles(root: string, rel = ''): string[] {
  if (!fs.existsSync(root)) return [];
  const out: string[] = [];
  for (const e of fs.readdirSync(root, { withFileTypes: true })) {
    const r = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...listFiles(path.join(root, e.name), r));
    else out.push(r);
  }
  return out.sort();
}

function stepsOf(f: Fixture): Step[] {
  const root = path.join(f.dir, 'steps');
  return fs
    .readdirSync(root)
    .sort((a, b) => Number(a) - Number(b))
    .map((k) => {
      const dir = path.join(root, k);
      const files = new Map<string, Buffer>();
      for (const rel of listFiles(path.join(dir, 'files'))) files.set(rel, fs.readFileSync(path.join(dir, 'files', rel)));
      return {
        k,
        dir,
        argv: fs.readFileSync(path.join(dir, 'command'), 'utf8').trim().split(/\s+/),
        packs: fs.readFileSync(path.join(dir, 'packs'), 'utf8').split('\n').filter(Boolean),
        files,
      };
    });
}

/** `multi-pack-index write|compact [flags] [from to]` → our call. */
function parseCommand(argv: string[]): { verb: 'write'; options: WriteMidxOptions } | { verb: 'compact'; options: CompactMidxOptions } {
  expect(argv[0]).toBe('multi-pack-index');
  const verb = argv[1];
  const flags: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (const a of argv.slice(2)) {
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    if (m) flags[m[1]] = m[2] ?? true;
    else positional.push(a);
  }
  const known = new Set(['bitmap', 'incremental', 'preferred-pack', 'no-write-chain-file', 'base']);
  for (const k of Object.keys(flags)) expect(known.has(k), `flag --${k}`).toBe(true);
  const common = {
    incremental: !!flags.incremental,
    bitmap: !!flags.bitmap,
    ...(flags['no-write-chain-file'] ? { writeChainFile: false } : {}),
    ...(typeof flags.base === 'string' ? { base: flags.base } : {}),
  };
  if (verb === 'write') {
    expect(positional).toEqual([]);
    return { verb, options: { ...common, ...(typeof flags['preferred-pack'] === 'string' ? { preferredPack: flags['preferred-pack'] } : {}) } };
  }
  expect(verb).toBe('compact');
  expect(positional).toHaveLength(2);
  return { verb, options: { ...common, from: positional[0], to: positional[1] } };
}

/** Every MIDX file in a pack directory (relative names), .bitmap files included. */
function midxFiles(packDir: string): string[] {
  return listFiles(packDir).filter((r) => r.startsWith('multi-pack-index') || r.startsWith('multi-pack-index.d/'));
}

/**
 * Where the fixture's branch stood when a step ran: the newest commit (no
 * other commit present names it as a parent; the latest committer date among
 * several) held, with all its history, by the step's packs or loose.
 */
function branchTips(f: Fixture): (packs: string[]) => string | null {
  const gitdir = f.gitdir;
  const commits = new Map<string, { parents: string[]; date: number }>();
  // sha1-large-offsets ships no pack: no history to follow
  if (f.name === 'sha1-large-offsets') return () => null;
  for (const line of git255(['--git-dir', gitdir, 'log', '--all', '--format=%H %ct %P']).toString().split('\n').filter(Boolean)) {
    const [oid, date, ...parents] = line.split(' ');
    commits.set(oid, { parents: parents.filter(Boolean), date: Number(date) });
  }
  const packDir = path.join(gitdir, 'objects', 'pack');
  const inPack = new Map<string, string[]>();
  for (const idx of fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'))) {
    const out = git255(['show-index', `--object-format=${f.algorithm}`], { input: fs.readFileSync(path.join(packDir, idx)) }).toString();
    inPack.set(idx, out.split('\n').filter(Boolean).map((l) => l.split(' ')[1]).filter((o) => commits.has(o)));
  }
  const loose = [...commits.keys()].filter((o) => fs.existsSync(path.join(gitdir, 'objects', o.slice(0, 2), o.slice(2))));
  return (packs) => {
    const present = new Set([...loose, ...packs.flatMap((p) => inPack.get(p) ?? [])]);
    const parents = new Set([...present].flatMap((o) => commits.get(o)!.parents));
    const complete = (o: string): boolean => present.has(o) && commits.get(o)!.parents.every(complete);
    const heads = [...present].filter((o) => !parents.has(o) && complete(o)).sort((a, b) => commits.get(b)!.date - commits.get(a)!.date);
    return heads[0] ?? null;
  };
}

function packFiles(packDir: string): string[] {
  return fs.readdirSync(packDir).filter((n) => n.startsWith('pack-') || /\.(idx|pack|rev|keep|promisor|mtimes)$/.test(n));
}

async function replay(f: Fixture): Promise<{ steps: number; results: Array<string | null> }> {
  const gitdir = copyRepo(f);
  const packDir = path.join(gitdir, 'objects', 'pack');
  // start with no MIDX at all
  for (const n of fs.readdirSync(packDir)) if (n.startsWith('multi-pack-index')) fs.rmSync(path.join(packDir, n), { recursive: true, force: true });
  // every pack file waits outside the pack directory until its step
  const shelf = path.join(tmpdir('midx-shelf-'), 'packs');
  fs.mkdirSync(shelf);
  for (const n of packFiles(packDir)) fs.renameSync(path.join(packDir, n), path.join(shelf, n));
  const mtimes = new Map<string, number>();
  for (const line of fs.readFileSync(path.join(f.dir, 'mtimes'), 'utf8').split('\n').filter(Boolean)) {
    const [name, secs] = line.split(' ');
    mtimes.set(name, Number(secs));
    // sha1-large-offsets: an empty .pack stands for the 6 GiB one (only its existence and mtime matter)
    if (!fs.existsSync(path.join(shelf, name))) fs.writeFileSync(path.join(shelf, name), '');
    fs.utimesSync(path.join(shelf, name), Number(secs), Number(secs));
  }

  const tipAt = branchTips(f);
  const branch = fs.readFileSync(path.join(gitdir, 'HEAD'), 'utf8').replace(/^ref: /, '').trim();
  const odb = await openOdb({ fs, gitdir });
  const results: Array<string | null> = [];
  let previous = new Map<string, Buffer>();
  const steps = stepsOf(f);
  for (const step of steps) {
    // the pack directory holds exactly this step's packs
    for (const idx of step.packs) {
      const stem = idx.replace(/\.idx$/, '');
      for (const n of fs.readdirSync(shelf)) {
        if (n.startsWith(stem + '.')) fs.renameSync(path.join(shelf, n), path.join(packDir, n));
      }
      expect(fs.existsSync(path.join(packDir, idx)), `${f.name} step ${step.k}: ${idx}`).toBe(true);
      expect(fs.existsSync(path.join(packDir, `${stem}.pack`))).toBe(true);
    }
    expect(fs.readdirSync(packDir).filter((n) => n.endsWith('.idx')).sort()).toEqual([...step.packs].sort());
    for (const n of fs.readdirSync(packDir)) {
      if (mtimes.has(n)) expect(Math.floor(fs.statSync(path.join(packDir, n)).mtimeMs / 1000)).toBe(mtimes.get(n));
    }
    expect(fs.readFileSync(path.join(step.dir, 'exit'), 'utf8').trim()).toBe('0');

    const tip = tipAt(step.packs);
    if (tip) fs.writeFileSync(path.join(gitdir, branch), `${tip}\n`);
    const cmd = parseCommand(step.argv);
    const result = cmd.verb === 'write' ? await odb.writeMidx(cmd.options) : await odb.compactMidx(cmd.options);
    results.push(result);

    // what we wrote is what git wrote
    const ours = midxFiles(packDir);
    expect(ours, `${f.name} step ${step.k} (${step.argv.join(' ')}): file list`).toEqual([...step.files.keys()].sort());
    for (const [rel, bytes] of step.files) {
      const got = fs.readFileSync(path.join(packDir, rel));
      if (process.env.REPLAY_DUMP && Buffer.compare(got, bytes) !== 0) fs.writeFileSync(`/tmp/replay-ours-${path.basename(rel)}`, got);
      expect(Buffer.compare(got, bytes), `${f.name} step ${step.k}: ${rel} differs from git's`).toBe(0);
    }
    // the returned checksum names the new MIDX or layer; null when git wrote nothing
    const unchanged = previous.size === step.files.size && [...step.files].every(([rel, b]) => previous.get(rel)?.equals(b));
    if (unchanged) expect(result, `${f.name} step ${step.k}: a no-op`).toBeNull();
    else if (step.files.has('multi-pack-index')) {
      const b = step.files.get('multi-pack-index')!;
      expect(result).toBe(b.subarray(b.length - (f.algorithm === 'sha256' ? 32 : 20)).toString('hex'));
    } else {
      const chain = step.files.get('multi-pack-index.d/multi-pack-index-chain')!.toString().trim().split('\n');
      expect(chain).toContain(result);
      expect(step.files.has(`multi-pack-index.d/multi-pack-index-${result}.midx`)).toBe(true);
    }
    // the new MIDX serves lookups at once
    const stats = await odb.stats();
    if (step.files.has('multi-pack-index')) expect(stats.layers.map((l) => l.file.endsWith('/multi-pack-index'))).toEqual([true]);
    else if (step.files.size) {
      const chain = step.files.get('multi-pack-index.d/multi-pack-index-chain')!.toString().trim().split('\n');
      expect(stats.layers.map((l) => l.checksum)).toEqual(chain);
    }
    previous = step.files;
  }
  await odb.close();
  return { steps: steps.length, results };
}

describe('replaying the fixtures written by git 2.55', () => {
  const all = fixtures();

  it('has every fixture the issue names', () => {
    const names = all.map((f) => f.name);
    for (const n of ['sha1-single', 'sha1-chain', 'sha1-converted', 'sha1-compacted', 'sha1-v2', 'sha256-chain', 'sha1-large-offsets', 'sha1-duplicates', 'sha1-both', 'sha1-bitmap', 'sha1-chain-bitmap']) {
      expect(names).toContain(n);
    }
  });

  for (const f of all) {
    it(`${f.name}: every step writes git's bytes`, async () => {
      const { steps, results } = await replay(f);
      expect(results).toHaveLength(steps);
      if (f.name === 'sha1-chain') {
        // step 4 is the no-op incremental write
        expect(results[3]).toBeNull();
        expect(results.slice(0, 3).every((r) => typeof r === 'string')).toBe(true);
      }
    });
  }
});
