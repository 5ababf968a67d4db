/**
 * onProgress and signal on the long operations. Each operation is aborted at
 * every point it reaches: at the k-th call it makes to the fs client and at its
 * k-th progress event, for every k until it runs to the end. A call that rejects
 * must reject with the AbortError and leave the repository byte for byte as it
 * was (every file and directory, no lock, no temporary file); a call that
 * resolves (the abort came after its point of no return) must leave exactly
 * what an uninterrupted run leaves, which for the MIDX writes is git 2.55's
 * output.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openOdb, writePack, type Odb, type ProgressEvent } from '../src/index.js';
import { git255 } from './git255.js';
import { copyRepo, fixtures, walk } from './helpers.js';

const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

/**
 * A copy of a fixture; `+pack` adds an unindexed pack of one new blob (the same
 * bytes every time); `+repacked` runs git 2.55's `multi-pack-index repack` (one
 * thread: the same pack every time), leaving packs the MIDX no longer uses.
 */
function fresh(name: string): string {
  const [fixture, extra] = name.split('+');
  const gitdir = copyRepo(fixtures().find((f) => f.name === fixture)!);
  scratch.push(path.dirname(gitdir));
  if (extra === 'pack') {
    const blob = git255(['--git-dir', gitdir, 'hash-object', '-w', '--stdin'], { input: 'one more blob\n' });
    git255(['--git-dir', gitdir, 'pack-objects', '-q', path.join(gitdir, 'objects/pack/pack')], { input: blob });
  }
  if (extra === 'repacked') git255(['-c', 'pack.threads=1', '--git-dir', gitdir, 'multi-pack-index', 'repack', '--batch-size=0']);
  return gitdir;
}

/** Every directory and file under `root`, with a digest of each file's bytes. */
function snapshot(root: string): string[] {
  const out: string[] = [];
  const visit = (dir: string) => {
    for (const name of fs.readdirSync(dir).sort()) {
      const p = path.join(dir, name);
      const rel = path.relative(root, p);
      if (fs.statSync(p).isDirectory()) {
        out.push(`${rel}/`);
        visit(p);
      } else out.push(`${rel} ${crypto.createHash('sha1').update(fs.readFileSync(p)).digest('hex')}`);
    }
  };
  visit(root);
  return out;
}

/** node's fs, calling `onCall` before each method call (promises API included). */
function hookedFs(onCall: () => void): typeof fs {
  const wrap = (obj: any): any =>
    new Proxy(obj, {
      get(target, prop, recv) {
        const v = Reflect.get(target, prop, recv);
        if (prop === 'promises' && v && typeof v === 'object') return wrap(v);
        if (typeof v !== 'function' || prop === 'constants') return v;
        return (...args: unknown[]) => {
          onCall();
          return v.apply(target, args);
        };
      },
    });
  return wrap(fs);
}

type Op = (odb: Odb, extra: { signal: AbortSignal; onProgress: (e: ProgressEvent) => void }) => Promise<unknown>;

interface Outcome {
  aborted: number;
  completed: number;
  events: number;
  calls: number;
}

/**
 * Runs `op` on a copy of `fixture` once to the end (the reference), then again
 * aborting at each fs call and each progress event.
 */
async function abortEverywhere(fixture: string, op: Op, check?: (gitdir: string, result: unknown) => void): Promise<Outcome> {
  // the reference run: how many calls and events, and what it leaves
  const ref = fresh(fixture);
  let calls = 0;
  const events: ProgressEvent[] = [];
  const refOdb = await openOdb({ fs: hookedFs(() => calls++), gitdir: ref });
  const refResult = await op(refOdb, { signal: new AbortController().signal, onProgress: (e) => events.push(e) });
  await refOdb.close();
  const after = snapshot(ref);
  check?.(ref, refResult);
  expect(events.length).toBeGreaterThan(0);
  for (const e of events) {
    expect(typeof e.phase).toBe('string');
    expect(Number.isInteger(e.loaded) && Number.isInteger(e.total)).toBe(true);
    if (e.total > 0) expect(e.loaded).toBeLessThanOrEqual(e.total);
  }

  const outcome: Outcome = { aborted: 0, completed: 0, events: events.length, calls };
  let gitdir = fresh(fixture);
  const tries: Array<{ at: number; on: 'call' | 'event' }> = [];
  // the first call may be before openOdb's config read: abort from call 1 on
  // every call and event when there are few; else ~60 and ~30 points spread over them, the last ones included
  const spread = (n: number, points: number, on: 'call' | 'event') => {
    const stride = Math.max(1, Math.ceil(n / points));
    for (let k = 1; k <= n + 1; k += k > n - 8 ? 1 : stride) tries.push({ at: k, on });
  };
  spread(calls, 60, 'call');
  spread(events.length, 30, 'event');
  for (const t of tries) {
    const before = snapshot(gitdir);
    const controller = new AbortController();
    let n = 0;
    let seen = 0;
    const odb = await openOdb({
      fs: hookedFs(() => {
        if (t.on === 'call' && ++n === t.at) controller.abort();
      }),
      gitdir,
    });
    let result: unknown;
    let error: unknown = null;
    try {
      result = await op(odb, {
        signal: controller.signal,
        onProgress: () => {
          if (t.on === 'event' && ++seen === t.at) controller.abort();
        },
      });
    } catch (err) {
      error = err;
    }
    await odb.close();
    const what = `abort at ${t.on} ${t.at}`;
    if (error) {
      expect((error as Error).name, `${what}: ${String(error)}`).toBe('AbortError');
      expect(snapshot(gitdir), what).toEqual(before);
      outcome.aborted++;
    } else {
      expect(snapshot(gitdir), what).toEqual(after);
      expect(result, what).toEqual(refResult);
      outcome.completed++;
      gitdir = fresh(fixture);
    }
  }
  console.log(`${fixture}: ${calls} fs calls, ${events.length} progress events; ${outcome.aborted} aborted, ${outcome.completed} completed`);
  return outcome;
}

/** The fixture's repository with git 2.55 run on it. */
function gitDid(fixture: string, args: string[]): string[] {
  const gitdir = fresh(fixture);
  git255(['--git-dir', gitdir, ...args]);
  return snapshot(gitdir);
}

describe('abort leaves the repository as it was', () => {
  it('writeMidx({ incremental: true }): appending a layer', async () => {
    const o = await abortEverywhere(
      'sha1-chain',
      (odb, x) => odb.writeMidx({ incremental: true, ...x }),
      (gitdir) => expect(snapshot(gitdir)).toEqual(gitDid('sha1-chain', ['multi-pack-index', 'write', '--incremental'])),
    );
    expect(o.aborted).toBeGreaterThan(10);
    expect(o.completed).toBeGreaterThan(0);
  });

  it('writeMidx({ incremental: true }) over a non-incremental MIDX: the first layer (the directory is made after planning)', async () => {
    const o = await abortEverywhere(
      'sha1-single+pack',
      (odb, x) => odb.writeMidx({ incremental: true, ...x }),
      (gitdir) => expect(snapshot(gitdir)).toEqual(gitDid('sha1-single+pack', ['multi-pack-index', 'write', '--incremental'])),
    );
    expect(o.aborted).toBeGreaterThan(10);
  });

  it('writeMidx(): a non-incremental MIDX replacing the chain', async () => {
    const o = await abortEverywhere(
      'sha1-chain',
      (odb, x) => odb.writeMidx({ ...x }),
      (gitdir) => expect(snapshot(gitdir)).toEqual(gitDid('sha1-chain', ['multi-pack-index', 'write'])),
    );
    expect(o.aborted).toBeGreaterThan(10);
  });

  it('compactMidx(): two layers into one', async () => {
    const layers = fs.readFileSync(path.join(fixtures().find((f) => f.name === 'sha1-chain')!.gitdir, 'objects/pack/multi-pack-index.d/multi-pack-index-chain'), 'utf8').trim().split('\n');
    const o = await abortEverywhere(
      'sha1-chain',
      (odb, x) => odb.compactMidx({ from: layers[0], to: layers[1], incremental: true, ...x }),
      (gitdir) => expect(snapshot(gitdir)).toEqual(gitDid('sha1-chain', ['multi-pack-index', 'compact', '--incremental', layers[0], layers[1]])),
    );
    expect(o.aborted).toBeGreaterThan(10);
  });

  it('repackMidx(): a pack of every MIDX pack, then a new MIDX (the new pack is removed when aborted)', async () => {
    const o = await abortEverywhere('sha1-single', async (odb, x) => {
      const r = await odb.repackMidx({ ...x });
      expect(r.pack).not.toBeNull();
      return { repacked: r.repacked, midx: r.midx, pack: r.pack!.name };
    });
    expect(o.aborted).toBeGreaterThan(10);
  });

  it('expireMidx(): no pack deleted, no MIDX rewritten when aborted', async () => {
    const o = await abortEverywhere(
      'sha1-single+repacked',
      async (odb, x) => odb.expireMidx({ ...x }),
      (gitdir, r) => {
        expect((r as { expired: string[] }).expired.length).toBeGreaterThan(1);
        expect(snapshot(gitdir)).toEqual(gitDid('sha1-single+repacked', ['multi-pack-index', 'expire']));
      },
    );
    expect(o.aborted).toBeGreaterThan(10);
  });

  it('verifyMidx(): rejects or reports as an uninterrupted run', async () => {
    const o = await abortEverywhere('sha1-chain', (odb, x) => odb.verifyMidx({ ...x }));
    expect(o.aborted).toBeGreaterThan(5);
  });

  it('writePack(): no temporary file left', async () => {
    const oids = fs
      .readFileSync(path.join(fixtures().find((f) => f.name === 'sha1-chain')!.dir, 'expect/objects.txt'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' ')[0]);
    const o = await abortEverywhere('sha1-chain', async (odb, x) => (await writePack(odb, oids, { ...x })).name);
    expect(o.aborted).toBeGreaterThan(5);
  });

  it('a signal aborted beforehand rejects at once with its reason; onProgress sees git titles', async () => {
    const gitdir = fresh('sha1-chain');
    const before = snapshot(gitdir);
    const odb = await openOdb({ fs, gitdir });
    const reason = new Error('stop');
    const signal = AbortSignal.abort(reason);
    await expect(odb.writeMidx({ incremental: true, signal })).rejects.toBe(reason);
    await expect(odb.verifyMidx({ signal })).rejects.toBe(reason);
    await expect(odb.repackMidx({ signal })).rejects.toBe(reason);
    expect(snapshot(gitdir)).toEqual(before);
    const phases = new Set<string>();
    await odb.verifyMidx({ onProgress: (e) => phases.add(e.phase) });
    await odb.writeMidx({ incremental: true, onProgress: (e) => phases.add(e.phase) });
    expect([...phases]).toEqual(expect.arrayContaining(['Verifying OID order in multi-pack-index', 'Verifying object offsets', 'Adding packfiles to multi-pack-index', 'Writing chunks to multi-pack-index']));
    await expect(odb.writeMidx({ signal: 'no' as unknown as AbortSignal })).rejects.toThrow(/AbortSignal/);
    await odb.close();
  });
});
