/**
 * Defaults that match isomorphic-git's, so that swapping `git.readObject` for
 * `odb.readObject` changes no shape: with no `format`, both answer 'parsed'.
 * And the types: `readObject` is overloaded by `format`, so `r.object` narrows
 * (checked by the compiler through expectTypeOf; vitest runs the assertions as
 * no-ops and `tsc --noEmit` on this file is part of the test).
 */

import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import git from 'isomorphic-git';
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { openOdb, type CommitObject, type Odb, type TreeObject } from '../src/index.js';
import type { DeflatedObject, ParsedObject, RawObject, WrappedObject } from '../src/object/shapes.js';
import { expectedObjects, fixtures, isogitReadableGitdir, tmpdir } from './helpers.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const scratch: string[] = [];
afterAll(() => {
  for (const d of scratch) fs.rmSync(d, { recursive: true, force: true });
});

type AnyResult = Record<string, unknown>;

/** What the compiler must conclude; never called. */
function typeChecks(odb: Odb) {
  return async () => {
    const r = await odb.readObject({ oid: 'x' });
    expectTypeOf(r).toEqualTypeOf<ParsedObject>();
    expectTypeOf(r.format).toEqualTypeOf<'parsed' | 'content'>();
    if (r.type === 'commit') {
      expectTypeOf(r.object).toEqualTypeOf<CommitObject>();
      expectTypeOf(r.object.message).toBeString();
    } else if (r.type === 'tree') {
      expectTypeOf(r.object).toEqualTypeOf<TreeObject>();
    } else if (r.type === 'blob') {
      expectTypeOf(r.object).toEqualTypeOf<Uint8Array>();
    }
    expectTypeOf(await odb.readObject({ oid: 'x', format: 'parsed' })).toEqualTypeOf<ParsedObject>();
    const c = await odb.readObject({ oid: 'x', format: 'content' });
    expectTypeOf(c).toEqualTypeOf<RawObject>();
    expectTypeOf(c.object).toEqualTypeOf<Uint8Array>();
    expectTypeOf(await odb.readObject({ oid: 'x', format: 'wrapped' })).toEqualTypeOf<WrappedObject | RawObject>();
    expectTypeOf(await odb.readObject({ oid: 'x', format: 'deflated' })).toEqualTypeOf<DeflatedObject | WrappedObject | RawObject>();
    // a format only known at run time still compiles, to the union
    const format = 'content' as 'content' | 'parsed';
    const u = await odb.readObject({ oid: 'x', format });
    expectTypeOf(u.object).toEqualTypeOf<Uint8Array | CommitObject | TreeObject | import('../src/index.js').TagObject>();
  };
}
void typeChecks;

describe('readObject defaults to format parsed, as isomorphic-git', () => {
  it('with no format, every object of sha1-chain equals git.readObject with no format', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-chain')!;
    const root = tmpdir();
    scratch.push(root);
    const gitdir = await isogitReadableGitdir(f.gitdir, root);
    const odb = await openOdb({ fs, gitdir });
    const cache = {};
    const types = new Set<string>();
    for (const { oid, type } of expectedObjects(f)) {
      const theirs = (await git.readObject({ fs, gitdir, oid, cache })) as unknown as AnyResult;
      const mine = (await odb.readObject({ oid })) as unknown as AnyResult;
      expect(Object.keys(mine), oid).toEqual(Object.keys(theirs));
      expect(mine.format, oid).toBe(type === 'blob' ? 'content' : 'parsed');
      expect(mine.format).toBe(theirs.format);
      const strip = (r: AnyResult) => (r.object instanceof Uint8Array ? { ...r, object: Buffer.from(r.object).toString('hex') } : r);
      expect(strip(mine), oid).toStrictEqual(strip(theirs));
      types.add(type);
    }
    expect([...types].sort()).toEqual(['blob', 'commit', 'tree']);
    await odb.close();
  });

  it('the overloads narrow r.object by format and type (tsc on this file)', () => {
    const tsconfig = path.join(tmpdir(), 'tsconfig.json');
    scratch.push(path.dirname(tsconfig));
    fs.writeFileSync(
      tsconfig,
      JSON.stringify({
        compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', lib: ['ES2022', 'DOM'], strict: true, noEmit: true, skipLibCheck: true, types: ['node'], typeRoots: [path.join(ROOT, 'node_modules/@types')] },
        files: [path.join(ROOT, 'test/api-defaults.test.ts')],
      }),
    );
    const r = spawnSync(process.execPath, [path.join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', tsconfig], { cwd: ROOT, encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
});
