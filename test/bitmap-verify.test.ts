/**
 * verifyMidx checks the layers' `.bitmap` files (beyond git's verify, which
 * reads none): git-written ones are clean; a bad trailer, a truncated file,
 * an EWAH running past the objects, a bitmapped blob, a wrong MIDX checksum
 * are reported (not as git's), and git's own exit status stays 0.
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { copyRepo, fixtures, walk } from './helpers.js';

const withBitmaps = fixtures().filter((f) => walk(path.join(f.gitdir, 'objects', 'pack')).some((p) => p.endsWith('.bitmap')));

async function verify(gitdir: string) {
  const odb = await openOdb({ fs, gitdir });
  try {
    return await odb.verifyMidx();
  } finally {
    await odb.close();
  }
}

/** Rewrites a bitmap with `edit` applied and a fresh trailer (SHA-1). */
function damage(file: string, edit: (b: Buffer) => Buffer): void {
  let b = Buffer.from(fs.readFileSync(file));
  b = edit(b);
  const body = b.subarray(0, b.length - 20);
  crypto.createHash('sha1').update(body).digest().copy(b, b.length - 20);
  fs.chmodSync(file, 0o644);
  fs.writeFileSync(file, b);
}

describe('verifyMidx and .bitmap files', () => {
  for (const f of withBitmaps) {
    it(`${f.name}: git's bitmaps are clean`, async () => {
      const r = await verify(copyRepo(f));
      expect(r.problems.filter((p) => p.file?.endsWith('.bitmap'))).toEqual([]);
    });
  }

  it('damaged bitmaps are reported, and git would still exit 0', async () => {
    const f = withBitmaps.find((x) => x.name === 'sha1-bitmap')!;
    const cases: Array<[string, (b: Buffer) => Buffer, RegExp, boolean?]> = [
      ['trailer', (b) => b, /has invalid checksum/, true],
      ['truncated', (b) => b.subarray(0, 200), /eof|too short|truncated/],
      ['midx checksum', (b) => ((b[12] ^= 1), b), /checksum doesn't match in MIDX and bitmap/],
      ['first commit position on a blob', (b) => b, /not a commit/],
      ['EWAH past the objects', (b) => b, /past the/],
    ];
    for (const [name, edit, want, keepTrailer] of cases) {
      const gitdir = copyRepo(f);
      const file = walk(path.join(gitdir, 'objects', 'pack')).find((p) => p.endsWith('.bitmap'))!;
      if (keepTrailer) {
        const b = fs.readFileSync(file);
        b[b.length - 1] ^= 0xff;
        fs.writeFileSync(file, b);
      } else if (name === 'first commit position on a blob' || name === 'EWAH past the objects') {
        damage(file, (b) => {
          // walk to the first entry: header, then four EWAHs
          let at = 32;
          for (let t = 0; t < 4; t++) at += 12 + 8 * b.readUInt32BE(at + 4);
          if (name === 'EWAH past the objects') {
            // a run of ones far longer than the MIDX: the entry's first marker word
            b.writeUInt32BE(0x00000000, at + 6 + 8);
            b.writeUInt32BE(0x000fffff, at + 6 + 12);
            return b;
          }
          // the MIDX position of a blob (git's read-midx dump lists the layer's objects in MIDX order)
          const listed = fs.readFileSync(path.join(f.dir, 'expect', 'read-midx.1.txt'), 'utf8').split('\n').filter((l) => /^[0-9a-f]{40} /.test(l)).map((l) => l.slice(0, 40));
          const types = new Map(fs.readFileSync(path.join(f.dir, 'expect', 'objects.txt'), 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ') as [string, string]));
          b.writeUInt32BE(listed.findIndex((o) => types.get(o) === 'blob'), at);
          return b;
        });
      } else damage(file, edit);
      const r = await verify(gitdir);
      const msgs = r.problems.map((p) => p.message);
      expect(msgs.some((m) => want.test(m)), `${name}: ${msgs.join('; ')}`).toBe(true);
      expect(r.problems.every((p) => p.git === false || !p.file?.endsWith('.bitmap'))).toBe(true);
      expect(r.gitExitCode).toBe(0);
      expect(r.exitCode).toBe(1);
    }
  });
});
