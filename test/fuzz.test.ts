/**
 * Damaged files, at random (seeded): every read either succeeds with git's
 * bytes or fails with one of the library's typed errors. Never a TypeError,
 * a RangeError, an out-of-range read or a hang.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MidxOdbError, openOdb } from '../src/index.js';
import { copyRepo, expectedObjects, fixtures, gitHash } from './helpers.js';

function rng(seed: number) {
  let s = seed >>> 0;
  return (n: number) => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s % n;
  };
}

const FUZZED = ['sha1-chain', 'sha1-single', 'sha256-chain'].map((n) => fixtures().find((x) => x.name === n)!);

/** Every object read, header and lookup: good answers or typed errors only. */
async function sweep(f: (typeof FUZZED)[number], gitdir: string): Promise<{ ok: number; typed: number }> {
  const objects = expectedObjects(f);
  const odb = await openOdb({ fs, gitdir, onWarning: () => {} });
  let ok = 0;
  let typed = 0;
  const check = async (op: () => Promise<unknown>, verify?: (v: unknown) => void) => {
    try {
      const v = await op();
      verify?.(v);
      ok++;
    } catch (err) {
      if (!(err instanceof MidxOdbError)) throw err;
      typed++;
    }
  };
  for (const o of objects) {
    await check(
      () => odb.read(o.oid),
      (v) => {
        const obj = v as { type: string; data: Uint8Array };
        // a damaged pack may still inflate: then its bytes must not pass for the object
        if (gitHash(f.algorithm, obj.type, obj.data) !== o.oid) throw new Error(`read ${o.oid} returned other bytes without an error`);
      },
    );
    await check(() => odb.readHeader(o.oid));
    await check(() => odb.exists(o.oid));
  }
  await check(() => odb.expandOid(objects[0].oid.slice(0, 6)));
  await check(async () => {
    let n = 0;
    for await (const _ of odb.listOids()) n++;
    return n;
  });
  await check(() => odb.stats());
  await check(() => odb.verifyMidx());
  await odb.close();
  return { ok, typed };
}

/** MIDX files and layers, the chain file, .idx and .pack files, and a few loose objects */
const targets = (gitdir: string) => {
  const packDir = path.join(gitdir, 'objects', 'pack');
  const dDir = path.join(packDir, 'multi-pack-index.d');
  const inD = fs.existsSync(dDir) ? fs.readdirSync(dDir).map((n) => path.join(dDir, n)) : [];
  const loose = fs
    .readdirSync(path.join(gitdir, 'objects'))
    .filter((d) => /^[0-9a-f]{2}$/.test(d))
    .slice(0, 3)
    .map((d) => path.join(gitdir, 'objects', d, fs.readdirSync(path.join(gitdir, 'objects', d))[0]));
  return [...inD, ...fs.readdirSync(packDir).filter((n) => n.endsWith('.idx') || n.endsWith('.pack') || n === 'multi-pack-index').map((n) => path.join(packDir, n)), ...loose].sort();
};

describe('randomly damaged files', () => {
  it.each(Array.from({ length: Number(process.env.FUZZ_SEEDS ?? 9) }, (_, i) => i + 1))('seed %i: byte flips, truncations and zeroed runs in MIDX files, chains, .idx, .pack and loose files', async (seed) => {
    const next = rng(seed * 7919);
    const f = FUZZED[seed % FUZZED.length];
    const objects = expectedObjects(f);
    const gitdir = copyRepo(f);
    const files = targets(gitdir);
    for (let k = 0; k < 3; k++) {
      const file = files[next(files.length)];
      const b = fs.readFileSync(file);
      const kind = next(3);
      if (kind === 0) for (let i = 0; i < 8; i++) b[next(b.length)] ^= 1 + next(255);
      else if (kind === 1) {
        fs.writeFileSync(file, b.subarray(0, next(b.length)));
        continue;
      } else b.fill(0, next(b.length), Math.min(b.length, next(b.length) + 64));
      fs.writeFileSync(file, b);
    }
    // a hang would time out; a wrong error type or wrong bytes throw
    const { ok, typed } = await sweep(f, gitdir);
    expect(ok + typed).toBe(objects.length * 3 + 4);
  });

  it.each(FUZZED.map((f) => [f.name, f] as const))('an undamaged copy of %s answers everything', async (_name, f) => {
    const { ok, typed } = await sweep(f, copyRepo(f));
    expect(typed).toBe(0);
    expect(ok).toBe(expectedObjects(f).length * 3 + 4);
  });

  it('garbage in place of every file', async () => {
    const f = FUZZED[0];
    const objects = expectedObjects(f);
    const gitdir = copyRepo(f);
    const next = rng(42);
    for (const file of targets(gitdir)) fs.writeFileSync(file, crypto.randomBytes(next(4096)));
    const { ok, typed } = await sweep(f, gitdir);
    expect(ok + typed).toBe(objects.length * 3 + 4);
    expect(typed).toBeGreaterThan(0);
  });
});
