/**
 * Writing through every kind of fs client isomorphic-git accepts: node fs,
 * fs.promises, a memfs volume as is, a callback-only client, and a
 * LightningFS-like promise client without open(). Each writes git 2.55's
 * first layer of sha1-chain byte for byte.
 */

import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import { callbackFs, copyRepo, fixtures, memfsCopy, readFileOnlyFs } from './helpers.js';

const f = fixtures().find((x) => x.name === 'sha1-chain')!;
const step1 = fs.readFileSync(path.join(f.dir, 'steps', '1', 'packs'), 'utf8').trim().split('\n');
const expectedLayer = fs.readFileSync(path.join(f.dir, 'steps', '1', 'files', 'multi-pack-index.d', 'multi-pack-index-8408d533f1de72aafeb63d4e4d56a9ef9f2f4a96.midx'));
const expectedChain = fs.readFileSync(path.join(f.dir, 'steps', '1', 'files', 'multi-pack-index.d', 'multi-pack-index-chain'));

/** A copy of sha1-chain as it was before its first `write --incremental`. */
function stepOneRepo(): string {
  const gitdir = copyRepo(f);
  const packDir = path.join(gitdir, 'objects', 'pack');
  fs.rmSync(path.join(packDir, 'multi-pack-index.d'), { recursive: true });
  for (const n of fs.readdirSync(packDir)) if (!step1.includes(n.replace(/\.(pack|rev)$/, '.idx'))) fs.rmSync(path.join(packDir, n));
  return gitdir;
}

const clients: Array<[string, (gitdir: string) => Promise<{ client: unknown; read: (p: string) => Buffer }>]> = [
  ['node fs', async () => ({ client: fs, read: (p) => fs.readFileSync(p) })],
  ['fs.promises-style client', async () => ({ client: { promises: fs.promises }, read: (p) => fs.readFileSync(p) })],
  ['callback-only client', async () => ({ client: callbackFs(), read: (p) => fs.readFileSync(p) })],
  ['LightningFS-like client (no open)', async () => ({ client: readFileOnlyFs(), read: (p) => fs.readFileSync(p) })],
  [
    'memfs volume as is',
    async (gitdir) => {
      const vol = await memfsCopy(gitdir);
      return { client: vol, read: (p) => vol.readFileSync(p) as Buffer };
    },
  ],
];

describe.each(clients)('writeMidx through %s', (_label, make) => {
  it("writes git's first layer of sha1-chain byte for byte", async () => {
    const gitdir = stepOneRepo();
    const { client, read } = await make(gitdir);
    const odb = await openOdb({ fs: client, gitdir });
    const hex = await odb.writeMidx({ incremental: true });
    expect(hex).toBe('8408d533f1de72aafeb63d4e4d56a9ef9f2f4a96');
    const dDir = path.join(gitdir, 'objects', 'pack', 'multi-pack-index.d');
    expect(read(path.join(dDir, `multi-pack-index-${hex}.midx`)).equals(expectedLayer)).toBe(true);
    expect(read(path.join(dDir, 'multi-pack-index-chain')).equals(expectedChain)).toBe(true);
    expect((await odb.stats()).layers.map((l) => l.checksum)).toEqual([hex]);
    expect(await odb.writeMidx({ incremental: true })).toBe(null);
    await odb.close();
  });
});
