/**
 * Alternate object directories (objects/info/alternates), as `git clone --shared`
 * and `--reference` make them: objects there read, locate, expand and list as
 * git sees them, through MIDX chains of the alternate too.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { NotFoundError, openOdb } from '../src/index.js';
import { allObjects, buildMixedRepo } from './gitrepo.js';
import { git, tmpdir } from './helpers.js';

/** A repository sharing `source`'s objects, with commits of its own on top. */
function sharedClone(source: string, name: string, relative = false): string {
  const clone = path.join(tmpdir(), name);
  git(['clone', '-q', '--bare', '--shared', source, clone]);
  const alternates = path.join(clone, 'objects', 'info', 'alternates');
  if (relative) fs.writeFileSync(alternates, `# made relative by the test\n\n${path.relative(path.join(clone, 'objects'), path.join(source, 'objects'))}\n`);
  const work = path.join(tmpdir(), `${name}-work`);
  git(['clone', '-q', '--no-local', '-b', 'main', clone, work]);
  for (let i = 0; i < 3; i++) {
    fs.writeFileSync(path.join(work, `own-${name}-${i}.txt`), `only in ${name}, ${i}\n`.repeat(20));
    git(['add', '-A'], { cwd: work });
    git(['commit', '-q', '-m', `${name} ${i}`], { cwd: work });
  }
  git(['push', '-q', clone, 'HEAD:main'], { cwd: work });
  return clone;
}

describe('alternates', () => {
  it('reads, locates, expands and lists objects of the alternate as git does (and of its own alternate)', async () => {
    const source = buildMixedRepo();
    // the source has a MIDX layer; the clone's objects are its own loose objects
    const sourceOdb = await openOdb({ fs, gitdir: source });
    expect(await sourceOdb.writeMidx({ incremental: true })).toBeTruthy();
    await sourceOdb.close();
    const middle = sharedClone(source, 'middle.git', true);
    const top = sharedClone(middle, 'top.git');
    const expected = allObjects(top);
    const own = new Set(allObjects(middle).keys());
    expect(expected.size).toBeGreaterThan(own.size);

    const warnings: unknown[] = [];
    const odb = await openOdb({ fs, gitdir: top, onWarning: (w) => warnings.push(w) });
    for (const [oid, o] of expected) {
      const obj = await odb.read(oid);
      expect(obj.type, oid).toBe(o.type);
      expect(Buffer.from(obj.data).equals(o.data), oid).toBe(true);
      expect(await odb.readHeader(oid)).toEqual({ type: o.type, size: o.data.length });
      expect(await odb.exists(oid)).toBe(true);
    }
    // objects of the source come through its MIDX, from the source's objects directory
    const fromSource = [...expected.keys()].find((oid) => !fs.existsSync(path.join(middle, 'objects', oid.slice(0, 2), oid.slice(2))) && !fs.existsSync(path.join(top, 'objects', oid.slice(0, 2), oid.slice(2))))!;
    expect(await odb.locate(fromSource)).toMatchObject({ source: 'midx', alternate: path.join(source, 'objects') });
    const listed: string[] = [];
    for await (const oid of odb.listOids()) listed.push(oid);
    expect(listed).toEqual([...expected.keys()].sort());
    for (const oid of [...expected.keys()].slice(0, 30)) expect(await odb.expandOid(oid.slice(0, 10))).toBe(oid);
    const stats = await odb.stats();
    expect(stats.alternates).toEqual([path.join(middle, 'objects'), path.join(source, 'objects')]);
    expect(warnings).toEqual([]);
    await expect(odb.read('0'.repeat(40))).rejects.toBeInstanceOf(NotFoundError);
    await odb.close();
  });

  it('an alternate that does not exist is a warning, and the rest reads', async () => {
    const source = buildMixedRepo();
    const clone = sharedClone(source, 'clone.git');
    const alternates = path.join(clone, 'objects', 'info', 'alternates');
    fs.writeFileSync(alternates, `/nonexistent/objects\n${fs.readFileSync(alternates, 'utf8')}`);
    const warnings: Array<{ file: string; reason: string }> = [];
    const odb = await openOdb({ fs, gitdir: clone, onWarning: (w) => warnings.push(w) });
    for (const oid of allObjects(clone).keys()) expect(await odb.exists(oid)).toBe(true);
    expect(warnings.map((w) => w.reason)).toEqual([`object directory /nonexistent/objects does not exist; check ${alternates}`]);
  });
});
