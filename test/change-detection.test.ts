/**
 * The change check (midxFileStamp: size and trailing checksum of the MIDX, the
 * chain file's bytes) must see a MIDX rewritten in place with the same size:
 * git 2.55 rewriting the MIDX of the same packs with another preferred pack
 * moves duplicated objects to another pack, and a refresh must pick that up.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git255 } from './git255.js';
import { copyRepo, fixtures } from './helpers.js';

describe('change detection', () => {
  it('a MIDX rewritten with the same size (another preferred pack) is seen by refresh()', async () => {
    const f = fixtures().find((x) => x.name === 'sha1-duplicates')!;
    const gitdir = copyRepo(f);
    const packDir = path.join(gitdir, 'objects', 'pack');
    const packs = fs.readdirSync(packDir).filter((n) => n.endsWith('.pack')).sort();
    // git keeps an up-to-date MIDX whatever the preferred pack: remove it before each write
    const write = (pref: string) => {
      for (const n of fs.readdirSync(packDir)) if (n.startsWith('multi-pack-index')) fs.rmSync(path.join(packDir, n));
      git255(['--git-dir', gitdir, 'multi-pack-index', 'write', `--preferred-pack=${pref}`]);
    };
    write(packs[0]);
    const before = fs.readFileSync(path.join(packDir, 'multi-pack-index'));
    const odb = await openOdb({ fs, gitdir });
    try {
      // an object in two packs, one of them the preferred one
      let oid = '';
      let other = '';
      for await (const id of odb.listOids()) {
        const loc = await odb.locate(id);
        if (loc?.pack === packs[0].replace(/\.pack$/, '.idx')) {
          const owners = packs.filter((p) => git255(['--git-dir', gitdir, 'show-index'], { input: fs.readFileSync(path.join(packDir, p.replace(/\.pack$/, '.idx'))) }).toString().includes(id));
          if (owners.length > 1) {
            oid = id;
            other = owners.find((p) => p !== packs[0])!;
            break;
          }
        }
      }
      expect(oid, 'an object stored in the preferred pack and another').not.toBe('');
      write(other);
      const after = fs.readFileSync(path.join(packDir, 'multi-pack-index'));
      expect(after.length).toBe(before.length);
      expect(after.equals(before)).toBe(false);
      expect(await odb.refresh()).toBe(true);
      expect((await odb.locate(oid))?.pack).toBe(other.replace(/\.pack$/, '.idx'));
      // and nothing more to see on the next check
      expect(await odb.refresh()).toBe(false);
    } finally {
      await odb.close();
    }
  }, 60_000);
});
