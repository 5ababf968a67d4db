/**
 * odb.readObject against isomorphic-git's own readObject: for every object of every
 * SHA-1 fixture and each format, the same result (key order, Buffer vs Uint8Array,
 * bytes, parsed bodies, `source`).
 *
 * The one difference allowed: an object stored in several packs. isomorphic-git names
 * the first `.idx` in file-name order that lists it; we name the pack we read it from
 * (the MIDX's choice). Both must then be packs that really hold the object.
 */

import { afterAll, describe, expect, it } from 'vitest';
import fs from 'node:fs';
import path from 'node:path';
import git from 'isomorphic-git';
import { openOdb } from '../src/index.js';
import type { ReadObjectFormat } from '../src/object/shapes.js';
import { expectedObjects, fixtures, git as sysGit, isogitReadableGitdir, tmpdir } from './helpers.js';

const FORMATS: ReadObjectFormat[] = ['deflated', 'wrapped', 'content', 'parsed'];
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

async function readableGitdir(gitdir: string): Promise<string> {
  const root = tmpdir();
  scratch.push(root);
  return isogitReadableGitdir(gitdir, root);
}

/** oid -> the `.pack` sources ('objects/pack/pack-….pack') of every pack that lists it. */
function packsHolding(gitdir: string): Map<string, Set<string>> {
  const map = new Map<string, Set<string>>();
  const packDir = path.join(gitdir, 'objects/pack');
  for (const f of fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'))) {
    const out = sysGit(['show-index'], { input: fs.readFileSync(path.join(packDir, f)) }).toString();
    for (const line of out.split('\n').filter(Boolean)) {
      const oid = line.split(' ')[1];
      if (!map.has(oid)) map.set(oid, new Set());
      map.get(oid)!.add(`objects/pack/${f.replace(/\.idx$/, '.pack')}`);
    }
  }
  return map;
}

type AnyResult = Record<string, unknown>;

async function settle<T>(p: Promise<T>): Promise<T | Error> {
  try {
    return await p;
  } catch (err) {
    return err as Error;
  }
}

describe('odb.readObject equals git.readObject', () => {
  for (const f of fixtures()) {
    if (f.algorithm !== 'sha1' || f.name === 'sha1-large-offsets') continue;
    it(f.name, async () => {
      const gitdir = await readableGitdir(f.gitdir);
      const holders = packsHolding(gitdir);
      const odb = await openOdb({ fs, gitdir });
      const cache = {};
      let compared = 0;
      let duplicated = 0;
      for (const { oid } of expectedObjects(f)) {
        for (const format of FORMATS) {
          const theirs = (await settle(git.readObject({ fs, gitdir, oid, format, cache }))) as AnyResult | Error;
          const mine = (await settle(odb.readObject({ oid, format }))) as AnyResult | Error;
          const what = `${f.name} ${oid} ${format}`;
          if (theirs instanceof Error) {
            expect(mine, `${what}: isomorphic-git threw ${theirs.message}`).toBeInstanceOf(Error);
            continue;
          }
          if (mine instanceof Error) throw new Error(`${what}: we threw ${mine.message}`);
          expect(Object.keys(mine), `${what}: keys`).toEqual(Object.keys(theirs));
          let a = mine;
          let b = theirs;
          if (a.object instanceof Uint8Array && b.object instanceof Uint8Array) {
            expect(a.object.constructor, `${what}: object class`).toBe(b.object.constructor);
            expect(Buffer.compare(a.object, b.object), `${what}: bytes`).toBe(0);
            a = { ...a, object: 'bytes' };
            b = { ...b, object: 'bytes' };
          }
          if (a.source !== b.source) {
            // the only legitimate difference: several packs hold the object
            const held = holders.get(oid) ?? new Set();
            expect(held.size, `${what}: source ${String(a.source)} vs ${String(b.source)}`).toBeGreaterThan(1);
            expect(held.has(a.source as string), `${what}: our source holds it`).toBe(true);
            expect(held.has(b.source as string), `${what}: their source holds it`).toBe(true);
            a = { ...a, source: 'pack' };
            b = { ...b, source: 'pack' };
            if (format === 'content') duplicated++;
          }
          expect(a, what).toStrictEqual(b);
          compared++;
        }
      }
      expect(compared).toBe(expectedObjects(f).length * FORMATS.length);
      if (f.name === 'sha1-duplicates') expect(duplicated).toBeGreaterThan(0);
      await odb.close();
    });
  }

  it('the empty tree, a missing object, a bad format', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const odb = await openOdb({ fs, gitdir: f.gitdir });
    const empty = '4b825dc642cb6eb9a060e54bf8d69288fbee4904';
    for (const format of FORMATS) {
      expect(await odb.readObject({ oid: empty, format })).toStrictEqual(await git.readObject({ fs, gitdir: f.gitdir, oid: empty, format }));
    }
    await expect(odb.readObject({ oid: '1'.repeat(40) })).rejects.toThrow(/1111/);
    await expect(odb.readObject({ oid: empty, format: 'bogus' as ReadObjectFormat })).rejects.toThrow(/format/);
    await odb.close();
  });
});
