/**
 * Issue 3: a large MIDX is searched in place. Opening reads its header, table
 * of contents, pack names and fanout; the first lookups read one fanout
 * bucket of the OID table and one offset entry; only sustained lookups load
 * the tables whole.
 */

import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { git, tmpdir } from './helpers.js';
import { internalsOf } from '../src/odb/odb.js';

let gitdir: string;
let oids: string[];

beforeAll(() => {
  // 20k blobs in 4 packs, then a MIDX by the system git: a file of ~600 KiB
  gitdir = path.join(tmpdir(), 'repo.git');
  git(['init', '-q', '--bare', gitdir]);
  for (let p = 0; p < 4; p++) {
    let stream = '';
    for (let i = 0; i < 5000; i++) {
      const body = `blob ${p} ${i}\n`;
      stream += `blob\ndata ${body.length}\n${body}\n`;
    }
    git(['--git-dir', gitdir, 'fast-import', '--quiet'], { input: stream });
  }
  git(['--git-dir', gitdir, 'multi-pack-index', 'write']);
  oids = git(['--git-dir', gitdir, 'cat-file', '--batch-all-objects', '--batch-check=%(objectname)']).toString().trim().split('\n');
});

/** node fs, counting the bytes read from one file by positional reads and whole-file reads */
function countingBytes(file: string) {
  const counts = { bytes: 0, wholeReads: 0 };
  const fds = new Set<number>();
  const client = new Proxy(fs, {
    get(target, prop, recv) {
      const v = Reflect.get(target, prop, recv);
      if (prop === 'openSync') return (p: string, ...rest: unknown[]) => {
        const fd = (v as typeof fs.openSync)(p, ...(rest as [string]));
        if (p === file) fds.add(fd);
        return fd;
      };
      if (prop === 'readSync') return (fd: number, buf: Uint8Array, off: number, len: number, pos: number) => {
        const n = (v as typeof fs.readSync)(fd, buf, off, len, pos);
        if (fds.has(fd)) counts.bytes += n;
        return n;
      };
      if (prop === 'promises') return new Proxy(target.promises, {
        get(t, q, r) {
          const w = Reflect.get(t, q, r);
          if (q === 'readFile') return (p: string, ...rest: unknown[]) => {
            if (p === file) counts.wholeReads++;
            return (w as typeof fs.promises.readFile)(p, ...(rest as []));
          };
          return typeof w === 'function' ? w.bind(t) : w;
        },
      });
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { client, counts };
}

describe('a MIDX searched in place', () => {
  it('reads a few KiB for the first lookups, the tables only once lookups keep coming', async () => {
    const midx = path.join(gitdir, 'objects', 'pack', 'multi-pack-index');
    const size = fs.statSync(midx).size;
    expect(size).toBeGreaterThan(500 * 1024);
    const { client, counts } = countingBytes(midx);
    const odb = await openOdb({ fs: client, gitdir });
    expect(await odb.exists(oids[0])).toBe(true);
    const first = counts.bytes;
    // header + ToC + names + fanout + one bucket of ~80 ids + one offset
    expect(first).toBeLessThan(8 * 1024);
    for (const oid of oids.slice(1, 10)) expect((await odb.locate(oid))?.source).toBe('midx');
    expect(counts.bytes).toBeLessThan(24 * 1024);
    const layer = internalsOf(odb).packBackend.layers[0];
    expect(layer.tablesLoaded).toBe(false);
    for (const oid of oids.slice(10, 200)) expect(await odb.exists(oid)).toBe(true);
    expect(layer.tablesLoaded).toBe(true);
    // the OID and offset tables once, whole; never the file through readFile
    expect(counts.bytes).toBeLessThan(size + 64 * 1024);
    expect(counts.wholeReads).toBe(0);
    for (const oid of oids.slice(200, 2000)) expect(await odb.exists(oid)).toBe(true);
    expect(counts.bytes).toBeLessThan(size + 64 * 1024);
    await odb.close();
  });
});
