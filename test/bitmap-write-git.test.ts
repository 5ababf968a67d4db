/**
 * `.bitmap` files written by us and by git 2.55 over the same repository,
 * byte for byte: a history long enough for git's commit selection to skip
 * (400+ commits, merges, commits sharing a date, lightweight and annotated
 * tags, a second branch), several packs; full writes, the lookup table,
 * preferred tips (pack.preferBitmapTips), a refs snapshot, the name-hash
 * cache carried from a pack bitmap, incremental layers and compaction. Our
 * bitmaps also pass git's `rev-list --test-bitmap`, and reachability read
 * from them equals git's.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { parseLayerBitmap } from '../src/midx/bitmap/read.js';
import { SHA1 } from '../src/oid.js';
import type { CompactMidxOptions, WriteMidxOptions } from '../src/types.js';
import { git255, packRevs } from './git255.js';
import { tmpdir } from './helpers.js';

let base: string;
let commits: string[] = [];
/** the packs in history order (the last one: the tags and the side branch's tip) */
let packs: string[] = [];

/** main: 420 commits, a merge every 10th (from a side branch commit), every 7th commit dated like the one before. */
function buildHistory(gitdir: string): void {
  git255(['init', '-q', '--bare', gitdir]);
  git255(['--git-dir', gitdir, 'config', 'gc.auto', '0']);
  const out: string[] = [];
  let t = 1_700_000_000;
  let mark = 0;
  const mainMarks: number[] = [];
  for (let c = 1; c <= 420; c++) {
    if (c % 7 !== 0) t += 60;
    let side = 0;
    if (c % 10 === 0 && mainMarks.length) {
      side = ++mark;
      const body = `side ${c}\n`;
      out.push(`commit refs/heads/side\nmark :${side}\ncommitter C <c@example.com> ${t - 30} +0000\ndata 5\nside\nfrom :${mainMarks[mainMarks.length - 1]}\nM 100644 inline side/${c % 13}.txt\ndata ${body.length}\n${body}\n`);
    }
    const m = ++mark;
    const body = `file at ${c}\n${'y'.repeat(c % 50)}\n`;
    let s = `commit refs/heads/main\nmark :${m}\ncommitter C <c@example.com> ${t} +0000\ndata 4\nmsg\n`;
    if (mainMarks.length) s += `from :${mainMarks[mainMarks.length - 1]}\n`;
    if (side) s += `merge :${side}\n`;
    s += `M 100644 inline d${c % 4}/f${c % 17}.txt\ndata ${body.length}\n${body}\n`;
    out.push(s);
    mainMarks.push(m);
    if (c % 50 === 0) out.push(`tag v${c}\nfrom :${m}\ntagger T <t@example.com> ${t} +0000\ndata 4\ntag\n\n`);
    if (c % 30 === 0) out.push(`reset refs/tags/light${c}\nfrom :${m}\n\n`);
  }
  git255(['--git-dir', gitdir, 'fast-import', '--quiet', `--export-marks=${path.join(gitdir, 'marks')}`], { input: out.join('') });
  fs.rmSync(path.join(gitdir, 'marks'));
}

function packDir(gitdir: string): string {
  return path.join(gitdir, 'objects', 'pack');
}

function midxFiles(gitdir: string): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  const walk = (dir: string, rel: string) => {
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) walk(path.join(dir, e.name), r);
      else if (r.startsWith('multi-pack-index')) out.set(r, fs.readFileSync(path.join(dir, e.name)));
    }
  };
  walk(packDir(gitdir), '');
  return out;
}

function copy(from = base): string {
  const dest = path.join(tmpdir('midx-bmw-'), 'repo.git');
  fs.cpSync(from, dest, { recursive: true, preserveTimestamps: true });
  return dest;
}

type Step = { verb: 'write'; args: string[]; options: WriteMidxOptions } | { verb: 'compact'; args: string[]; options: Omit<CompactMidxOptions, 'from' | 'to'>; layers: [number, number] };

/** Runs the same steps with git 2.55 in one copy and with us in another; every MIDX file must be identical after each. */
async function same(steps: Step[], prepare?: (gitdir: string) => void): Promise<{ ours: string; theirs: string }> {
  const theirs = copy();
  const ours = copy();
  for (const d of [theirs, ours]) prepare?.(d);
  const odb = await openOdb({ fs, gitdir: ours });
  for (const step of steps) {
    if (step.verb === 'write') {
      git255(['--git-dir', theirs, 'multi-pack-index', 'write', ...step.args]);
      await odb.writeMidx(step.options);
    } else {
      const chain = fs.readFileSync(path.join(packDir(theirs), 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n');
      const [a, b] = step.layers;
      git255(['--git-dir', theirs, 'multi-pack-index', 'compact', ...step.args, chain[a], chain[b]]);
      await odb.compactMidx({ ...step.options, from: chain[a], to: chain[b] });
    }
    const g = midxFiles(theirs);
    const o = midxFiles(ours);
    expect([...o.keys()].sort(), step.args.join(' ')).toEqual([...g.keys()].sort());
    expect([...g.keys()].some((k) => k.endsWith('.bitmap'))).toBe(true);
    for (const [k, v] of g) expect(o.get(k)!.equals(v), `${step.verb} ${step.args.join(' ')}: ${k}`).toBe(true);
  }
  await odb.close();
  return { ours, theirs };
}

beforeAll(() => {
  base = path.join(tmpdir('midx-bmw-base-'), 'repo.git');
  buildHistory(base);
  commits = git255(['--git-dir', base, 'rev-list', '--first-parent', 'main']).toString().trim().split('\n').reverse();
  // the history in four packs (each with what the one before lacks) and one of the rest
  // (tags, the side branch's tip); fast-import's own pack goes
  const imported = fs.readdirSync(packDir(base)).filter((n) => n.startsWith('pack-'));
  const refs = git255(['--git-dir', base, 'for-each-ref', '--format=%(objectname)']).toString().trim().split('\n');
  let prev = '';
  for (const cut of [100, 220, 330, commits.length]) {
    const tip = commits[cut - 1];
    packs.push(packRevs(base, prev ? [tip, `^${prev}`] : [tip]));
    prev = tip;
  }
  packs.push(packRevs(base, [...refs, `^${prev}`]));
  for (const n of imported) fs.rmSync(path.join(packDir(base), n));
  let t = 1_700_100_000;
  for (const n of fs.readdirSync(packDir(base)).filter((n) => n.endsWith('.pack')).sort()) fs.utimesSync(path.join(packDir(base), n), (t += 10), t);
}, 120_000);

describe('.bitmap byte for byte with git 2.55', () => {
  it('a full write (commit selection over 400+ commits, merges, equal dates, tags)', async () => {
    const { ours } = await same([{ verb: 'write', args: ['--bitmap'], options: { bitmap: true } }]);
    const tip = git255(['--git-dir', ours, 'rev-parse', 'main']).toString().trim();
    // git checks every bitmap against a walk (it fails otherwise)
    git255(['--git-dir', ours, 'rev-list', '--test-bitmap', tip]);
    // the selection skipped commits, and some bitmaps are XOR-ed
    const [, bytes] = [...midxFiles(ours)].find(([k]) => k.endsWith('.bitmap'))!;
    const inPack = Number(/in-pack: (\d+)/.exec(git255(['--git-dir', ours, 'count-objects', '-v']).toString())![1]);
    const entries = parseLayerBitmap('b', new Uint8Array(bytes), SHA1, null, 0, inPack).entries;
    expect(entries.length).toBeGreaterThan(100);
    expect(entries.length).toBeLessThan(commits.length);
    expect(entries.some((e) => e.xorOffset > 0)).toBe(true);
    // reachability from our bitmaps equals git's
    const odb = await openOdb({ fs, gitdir: ours });
    const want = git255(['--git-dir', ours, 'rev-list', '--objects', '--no-object-names', '--all', `^${commits[200]}`]).toString().trim().split('\n').sort();
    const refs = git255(['--git-dir', ours, 'for-each-ref', '--format=%(objectname)']).toString().trim().split('\n');
    expect((await odb.reachableObjects({ include: refs, exclude: [commits[200]] })).sort()).toEqual(want);
    await odb.close();
  });

  it('with the lookup table and preferred tips', async () => {
    await same([{ verb: 'write', args: ['--bitmap'], options: { bitmap: true } }], (d) => {
      git255(['--git-dir', d, 'config', 'pack.writeBitmapLookupTable', 'true']);
      git255(['--git-dir', d, 'config', 'pack.preferBitmapTips', 'refs/tags/light']);
    });
  });

  it('from a refs snapshot (preferred lines, a tag line)', async () => {
    const snap = path.join(tmpdir('midx-snap-'), 'snapshot');
    const tag = git255(['--git-dir', base, 'rev-parse', 'v300']).toString().trim();
    fs.writeFileSync(snap, `${commits[150]}\n+${commits[399]}\n${tag}\n+${commits[77]}\n`);
    await same([{ verb: 'write', args: ['--bitmap', `--refs-snapshot=${snap}`], options: { bitmap: true, refsSnapshot: snap } }]);
  });

  it('the name-hash cache carried from a pack bitmap, then from the MIDX bitmap', async () => {
    const { ours } = await same(
      [
        { verb: 'write', args: ['--bitmap'], options: { bitmap: true } },
        { verb: 'write', args: ['--bitmap', '--preferred-pack=' + fs.readdirSync(packDir(base)).filter((n) => n.endsWith('.idx')).sort()[1]], options: { bitmap: true, preferredPack: fs.readdirSync(packDir(base)).filter((n) => n.endsWith('.idx')).sort()[1] } },
      ],
      (d) => {
        // one pack of everything with a pack bitmap (name hashes), beside the four packs
        git255(['--git-dir', d, 'pack-objects', '--all', '-q', '--write-bitmap-index', path.join(packDir(d), 'pack')], { input: '' });
      },
    );
    // the cache holds name hashes, not zeros
    const [, bytes] = [...midxFiles(ours)].find(([k]) => k.endsWith('.bitmap'))!;
    expect(bytes.subarray(bytes.length - 20 - 4 * 100, bytes.length - 20).some((b) => b !== 0)).toBe(true);
  });

  it('incremental layers, then compaction', async () => {
    const idx = packs;
    const shelf = tmpdir('midx-shelf-');
    const steps: Step[] = [
      { verb: 'write', args: ['--incremental', '--bitmap'], options: { incremental: true, bitmap: true } },
      { verb: 'write', args: ['--incremental', '--bitmap'], options: { incremental: true, bitmap: true } },
      { verb: 'write', args: ['--incremental', '--bitmap'], options: { incremental: true, bitmap: true } },
    ];
    // each layer adds packs: reveal them between steps by running the steps one at a time
    const theirs = copy();
    const ours = copy();
    const hidden = new Map<string, string[]>();
    for (const d of [theirs, ours]) {
      const list: string[] = [];
      for (const n of fs.readdirSync(packDir(d))) {
        if (idx.slice(2).some((i) => n.startsWith(i.replace(/\.idx$/, '.')))) {
          fs.renameSync(path.join(packDir(d), n), path.join(shelf, `${d === theirs ? 't' : 'o'}-${n}`));
          list.push(n);
        }
      }
      hidden.set(d, list);
    }
    const odb = await openOdb({ fs, gitdir: ours });
    const tips = new Map<string, string>();
    for (let k = 0; k < steps.length; k++) {
      if (k > 0) {
        const stem = idx[k + 1].replace(/\.idx$/, '.');
        for (const d of [theirs, ours]) for (const n of hidden.get(d)!.filter((n) => n.startsWith(stem))) fs.renameSync(path.join(shelf, `${d === theirs ? 't' : 'o'}-${n}`), path.join(packDir(d), n));
      }
      // the branch stands where the packs present end (git would die on a ref to a missing commit)
      for (const d of [theirs, ours]) {
        const present = new Set<string>();
        for (const i of fs.readdirSync(packDir(d)).filter((n) => n.endsWith('.idx'))) {
          for (const l of git255(['show-index'], { input: fs.readFileSync(path.join(packDir(d), i)) }).toString().split('\n')) present.add(l.split(' ')[1]);
        }
        const tip = [...commits].reverse().find((c) => present.has(c))!;
        tips.set(d, tip);
        fs.rmSync(path.join(d, 'packed-refs'), { force: true });
        fs.rmSync(path.join(d, 'refs'), { recursive: true });
        fs.mkdirSync(path.join(d, 'refs', 'heads'), { recursive: true });
        fs.writeFileSync(path.join(d, 'refs', 'heads', 'main'), `${tip}\n`);
      }
      git255(['--git-dir', theirs, 'multi-pack-index', 'write', ...steps[k].args]);
      await odb.writeMidx((steps[k] as { options: WriteMidxOptions }).options);
      const g = midxFiles(theirs);
      const o = midxFiles(ours);
      expect([...o.keys()].sort()).toEqual([...g.keys()].sort());
      for (const [key, v] of g) expect(o.get(key)!.equals(v), `layer ${k + 1}: ${key}`).toBe(true);
    }
    const chain = fs.readFileSync(path.join(packDir(theirs), 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n');
    git255(['--git-dir', theirs, 'multi-pack-index', 'compact', '--incremental', '--bitmap', chain[0], chain[1]]);
    await odb.compactMidx({ incremental: true, bitmap: true, from: chain[0], to: chain[1] });
    const g = midxFiles(theirs);
    const o = midxFiles(ours);
    expect([...o.keys()].sort()).toEqual([...g.keys()].sort());
    for (const [key, v] of g) expect(o.get(key)!.equals(v), `compacted: ${key}`).toBe(true);
    // git reads our chain's bitmaps
    const r = git255(['--git-dir', ours, 'rev-list', '--test-bitmap', tips.get(ours)!]);
    expect(r).toBeTruthy();
    await odb.close();
  });
});
