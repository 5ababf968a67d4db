/**
 * Odb.verifyMidx(): git's `multi-pack-index verify` (spec 5), on every layer.
 *
 * (a) every fixture git 2.55 verified passes;
 * (b) t5319's corruption cases (spec 5.2), reproduced on copies of fixture
 *     MIDX files with positions taken from each file's table of contents, give
 *     git 2.55's messages and exit codes; where the system git (2.39) agrees
 *     with 2.55 the same copies are also run through `git multi-pack-index
 *     verify` and its stderr must equal ours line for line;
 * (c) the same cross-check on a MIDX that git 2.39 wrote itself;
 * (d) chains: checks on lower layers (documented divergences from git),
 *     missing layers, git's repeated OID-order loop;
 * and after every corruption, every object still reads (a bad MIDX never
 * makes a read fail), and verify never reads a pack beyond its header and
 * trailer.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as nfs from 'node:fs';
import * as fsp from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openOdb } from '../src/index.js';
import type { VerifyOptions, VerifyResult } from '../src/types.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'git');
const tmpRoot = nfs.mkdtempSync(path.join(os.tmpdir(), 'midx-verify-'));
afterAll(() => nfs.rmSync(tmpRoot, { recursive: true, force: true }));

const GIT_ENV = {
  ...process.env,
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_CONFIG_GLOBAL: '/dev/null',
  GIT_AUTHOR_NAME: 'A U Thor',
  GIT_AUTHOR_EMAIL: 'author@example.com',
  GIT_COMMITTER_NAME: 'C O Mitter',
  GIT_COMMITTER_EMAIL: 'committer@example.com',
  GIT_AUTHOR_DATE: '1112354055 +0200',
  GIT_COMMITTER_DATE: '1112354055 +0200',
};
const hasGit = spawnSync('git', ['--version'], { env: GIT_ENV }).status === 0;

// ---------------------------------------------------------------- helpers

let copies = 0;

/** A writable copy of a fixture's repo.git (fixture files are mode 0444). */
async function copyFixture(name: string): Promise<string> {
  const dst = path.join(tmpRoot, `${name}-${++copies}`);
  await fsp.cp(path.join(FIXTURES, name, 'repo.git'), dst, { recursive: true });
  const chmod = (p: string) => {
    const st = nfs.statSync(p);
    nfs.chmodSync(p, st.mode | 0o200);
    if (st.isDirectory()) for (const e of nfs.readdirSync(p)) chmod(path.join(p, e));
  };
  chmod(dst);
  return dst;
}

const packDir = (gitdir: string) => path.join(gitdir, 'objects', 'pack');
const midxOf = (gitdir: string) => path.join(packDir(gitdir), 'multi-pack-index');
const layerFile = (gitdir: string, hex: string) => path.join(packDir(gitdir), 'multi-pack-index.d', `multi-pack-index-${hex}.midx`);

interface Layout {
  bytes: Uint8Array;
  size: number;
  H: number;
  chunks: Map<string, { offset: number; size: number }>;
  numPacks: number;
  numObjects: number;
  fanout: number[];
  packNames: string[];
  oid(i: number): string;
  packOf(i: number): number;
  offsetField(i: number): number;
}

/** Reads a MIDX's layout from its own table of contents (the corruption positions come from here). */
function layout(file: string, H = 20): Layout {
  const bytes = new Uint8Array(nfs.readFileSync(file));
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const count = bytes[6];
  const chunks = new Map<string, { offset: number; size: number }>();
  for (let i = 0; i < count; i++) {
    const at = 12 + 12 * i;
    const id = String.fromCharCode(...bytes.subarray(at, at + 4));
    const offset = Number(dv.getBigUint64(at + 4));
    chunks.set(id, { offset, size: Number(dv.getBigUint64(at + 16)) - offset });
  }
  const oidf = chunks.get('OIDF')!.offset;
  const fanout = Array.from({ length: 256 }, (_, i) => dv.getUint32(oidf + 4 * i));
  const pnam = chunks.get('PNAM')!;
  const names = new TextDecoder().decode(bytes.subarray(pnam.offset, pnam.offset + pnam.size)).split('\0');
  const numPacks = dv.getUint32(8);
  const oidl = chunks.get('OIDL')!.offset;
  const ooff = chunks.get('OOFF')!.offset;
  return {
    bytes,
    size: bytes.length,
    H,
    chunks,
    numPacks,
    numObjects: fanout[255],
    fanout,
    packNames: names.slice(0, numPacks),
    oid: (i) => Buffer.from(bytes.subarray(oidl + i * H, oidl + (i + 1) * H)).toString('hex'),
    packOf: (i) => dv.getUint32(ooff + 8 * i),
    offsetField: (i) => dv.getUint32(ooff + 8 * i + 4),
  };
}

/** `dd conv=notrunc`: writes bytes at a position. */
function patch(file: string, pos: number, data: Uint8Array | string | number[]): void {
  const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data as Uint8Array);
  const fd = nfs.openSync(file, 'r+');
  try {
    nfs.writeSync(fd, bytes, 0, bytes.length, pos);
  } finally {
    nfs.closeSync(fd);
  }
}

/**
 * t5319's chunk surgery (t/lib-chunk/corrupt-chunk-file.pl): 'clear' replaces
 * the chunk's contents and shifts the ToC offsets of it and the chunks after
 * it; a number overwrites bytes at that offset inside the chunk. The trailer
 * is left as it was.
 */
function surgery(file: string, chunk: string, seek: number | 'clear', data: Uint8Array): void {
  const L = layout(file);
  const c = L.chunks.get(chunk)!;
  const out = Buffer.from(L.bytes);
  if (seek !== 'clear') {
    out.set(data, c.offset + seek);
    nfs.writeFileSync(file, out);
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const count = out[6];
  let seen = false;
  for (let i = 0; i <= count; i++) {
    const at = 12 + 12 * i;
    const id = String.fromCharCode(...out.subarray(at, at + 4));
    // the perl script rewrites the offsets of the entries after the chunk's own
    if (seen) dv.setBigUint64(at + 4, dv.getBigUint64(at + 4) - BigInt(c.size) + BigInt(data.length));
    if (id === chunk) seen = true;
  }
  nfs.writeFileSync(file, Buffer.concat([out.subarray(0, c.offset), data, out.subarray(c.offset + c.size)]));
}

async function verify(gitdir: string, options?: VerifyOptions): Promise<VerifyResult> {
  const odb = await openOdb({ fs: nfs, gitdir });
  try {
    return await odb.verifyMidx(options);
  } finally {
    await odb.close();
  }
}

/** What git would print: our problems git reports, as git's stderr lines. */
const gitLines = (r: VerifyResult) => r.problems.filter((p) => p.git).map((p) => p.stderr);
const allLines = (r: VerifyResult) => r.problems.map((p) => p.stderr);

/** The system git's `multi-pack-index verify` on a gitdir. */
function systemGitVerify(gitdir: string): { status: number; lines: string[] } {
  const r = spawnSync('git', ['multi-pack-index', 'verify'], { env: { ...GIT_ENV, GIT_DIR: gitdir }, encoding: 'utf8' });
  return { status: r.status ?? -1, lines: r.stderr.split('\n').filter((l) => l !== '') };
}

/** Every object of the fixture (expect/objects.txt) read through a fresh Odb: the failures. */
async function readFailures(gitdir: string, fixture: string): Promise<string[]> {
  const list = nfs.readFileSync(path.join(FIXTURES, fixture, 'expect', 'objects.txt'), 'utf8').trim().split('\n');
  const odb = await openOdb({ fs: nfs, gitdir });
  const failures: string[] = [];
  try {
    for (const line of list) {
      const [oid, type, size] = line.split(' ');
      try {
        const obj = await odb.read(oid);
        if (obj.type !== type || obj.data.length !== Number(size)) failures.push(`${oid}: read ${obj.type} ${obj.data.length}, want ${type} ${size}`);
      } catch (err) {
        failures.push(`${oid}: ${(err as Error).message}`);
      }
    }
  } finally {
    await odb.close();
  }
  return failures;
}

const hex = (n: number | bigint) => n.toString(16);

/** t5319's no-objects.midx: 0 packs, 0 objects, 4 chunks (1116 bytes). */
function noObjectsMidx(): Buffer {
  const b = Buffer.alloc(1116 - 20);
  b.write('MIDX', 0, 'latin1');
  b[4] = 1;
  b[5] = 1;
  b[6] = 4;
  const toc: Array<[string, number]> = [
    ['PNAM', 72],
    ['OIDF', 72],
    ['OIDL', 1096],
    ['OOFF', 1096],
    ['\0\0\0\0', 1096],
  ];
  toc.forEach(([id, off], i) => {
    b.write(id, 12 + 12 * i, 'latin1');
    b.writeBigUInt64BE(BigInt(off), 16 + 12 * i);
  });
  return Buffer.concat([b, createHash('sha1').update(b).digest()]);
}

/**
 * A chain layer with one pack and no object, as git writes when a new pack
 * holds only objects the chain already has (spec 6.5): 4 chunks, no RIDX.
 */
function emptyLayer(packName: string): { bytes: Buffer; hex: string } {
  const name = Buffer.from(packName + '\0', 'latin1');
  const pnam = Buffer.concat([name, Buffer.alloc((4 - (name.length % 4)) % 4)]);
  const head = Buffer.alloc(72);
  head.write('MIDX', 0, 'latin1');
  head[4] = 1;
  head[5] = 1;
  head[6] = 4;
  head.writeUInt32BE(1, 8);
  const oidf = 72 + pnam.length;
  const toc: Array<[string, number]> = [
    ['PNAM', 72],
    ['OIDF', oidf],
    ['OIDL', oidf + 1024],
    ['OOFF', oidf + 1024],
    ['\0\0\0\0', oidf + 1024],
  ];
  toc.forEach(([id, off], i) => {
    head.write(id, 12 + 12 * i, 'latin1');
    head.writeBigUInt64BE(BigInt(off), 16 + 12 * i);
  });
  const body = Buffer.concat([head, pnam, Buffer.alloc(1024)]);
  const sum = createHash('sha1').update(body).digest();
  return { bytes: Buffer.concat([body, sum]), hex: sum.toString('hex') };
}

/**
 * A `.pack` that passes git's pack open (header, object count, trailer equal
 * to the .idx's copy) without any entry: enough for verify, which compares
 * offsets with the .idx and never reads the pack (sha1-large-offsets ships no
 * .pack; the real one would be 6 GiB).
 */
function fakePackFor(idxFile: string, H = 20): void {
  const idx = nfs.readFileSync(idxFile);
  const count = idx.readUInt32BE(8 + 255 * 4);
  const head = Buffer.alloc(12);
  head.write('PACK', 0, 'latin1');
  head.writeUInt32BE(2, 4);
  head.writeUInt32BE(count, 8);
  const trailer = idx.subarray(idx.length - 2 * H, idx.length - H);
  nfs.writeFileSync(idxFile.replace(/\.idx$/, '.pack'), Buffer.concat([head, trailer]));
}

// ---------------------------------------------------------------- (a) fixtures

describe('fixtures git 2.55 verified', () => {
  const names = nfs.readdirSync(FIXTURES).filter((n) => nfs.existsSync(path.join(FIXTURES, n, 'expect', 'verify.out')));

  it('covers every fixture with a verify.out', () => {
    expect(names.length).toBeGreaterThanOrEqual(10);
  });

  for (const name of names) {
    it(`${name}: ok, as git's verify.out says`, async () => {
      const out = nfs.readFileSync(path.join(FIXTURES, name, 'expect', 'verify.out'), 'utf8');
      expect(out.trim()).toBe('exit 0');
      const gitdir = path.join(FIXTURES, name, 'repo.git');
      const layers = nfs.readFileSync(path.join(FIXTURES, name, 'expect', 'layers.txt'), 'utf8').trim().split('\n');
      for (const options of [undefined, { gitOnly: true }]) {
        const r = await verify(gitdir, options);
        expect(r.problems).toEqual([]);
        expect(r).toMatchObject({ ok: true, exitCode: 0, gitExitCode: 0 });
        expect(r.layers).toEqual(layers);
      }
    });
  }

  it('sha1-large-offsets without its .pack: git 2.55 fails to load the pack and every entry', async () => {
    const gitdir = path.join(FIXTURES, 'sha1-large-offsets', 'repo.git');
    const L = layout(midxOf(gitdir));
    const r = await verify(gitdir);
    expect(r).toMatchObject({ ok: false, exitCode: 1, gitExitCode: 1 });
    expect(gitLines(r)).toEqual([
      'failed to load pack in position 0',
      ...Array.from({ length: L.numObjects }, (_, i) => `failed to load pack entry for oid[${i}] = ${L.oid(i)}`),
    ]);
    expect(new Set(r.problems.map((p) => p.layer))).toEqual(new Set(['5f14bd0470dfce8aa1523d7f11bcfdaa6605fb4b']));
    if (hasGit) expect(systemGitVerify(gitdir)).toEqual({ status: 1, lines: gitLines(r) });
  });

  it('sha1-large-offsets with a stand-in .pack: LOFF offsets agree with the .idx', async () => {
    const gitdir = await copyFixture('sha1-large-offsets');
    const idx = nfs.readdirSync(packDir(gitdir)).find((n) => n.endsWith('.idx'))!;
    fakePackFor(path.join(packDir(gitdir), idx));
    const r = await verify(gitdir);
    expect(r.problems).toEqual([]);
    expect(r.exitCode).toBe(0);
  });
});

// ---------------------------------------------------------------- (b) t5319 corruption cases

interface Case {
  /** t5319 test number and title */
  title: string;
  fixture?: string;
  /** extra setup on the copy (before the corruption) */
  setup?(gitdir: string): void;
  corrupt(file: string, L: Layout, gitdir: string): void;
  /** git's stderr lines (ours, filtered to what git prints) and exit code */
  expect(L: Layout): { exit: 0 | 1 | 128; lines: string[] };
  /** the system git (2.39) prints the same: cross-checked. Otherwise why it differs. */
  git239: true | string;
}

const largeOffsetSetup = (gitdir: string) => {
  const idx = nfs.readdirSync(packDir(gitdir)).find((n) => n.endsWith('.idx'))!;
  fakePackFor(path.join(packDir(gitdir), idx));
};

const CASES: Case[] = [
  {
    title: '3 warn if a midx contains no oid',
    corrupt: (file) => nfs.writeFileSync(file, noObjectsMidx()),
    expect: () => ({ exit: 1, lines: ['the midx contains no oid'] }),
    git239: true,
  },
  {
    title: '33 verify bad signature',
    corrupt: (file) => patch(file, 0, [0]),
    expect: () => ({ exit: 128, lines: ['fatal: multi-pack-index signature 0x00494458 does not match signature 0x4d494458'] }),
    git239: true,
  },
  {
    title: '34 verify bad version',
    corrupt: (file) => patch(file, 4, [0]),
    expect: () => ({ exit: 128, lines: ['fatal: multi-pack-index version 0 not recognized'] }),
    git239: true,
  },
  {
    title: '35 verify bad OID version',
    corrupt: (file) => patch(file, 5, [3]),
    expect: () => ({
      exit: 1,
      lines: ['error: multi-pack-index hash version 3 does not match version 1', 'error: multi-pack-index file exists, but failed to parse'],
    }),
    git239: true,
  },
  {
    title: '36 verify truncated chunk count',
    corrupt: (file) => patch(file, 6, [1]),
    expect: () => ({ exit: 1, lines: ['error: final chunk has non-zero id 4f494446', 'error: multi-pack-index file exists, but failed to parse'] }),
    git239: true,
  },
  {
    title: '37 verify extended chunk count',
    corrupt: (file) => patch(file, 6, [7]),
    expect: () => ({
      exit: 1,
      lines: ['error: terminating chunk id appears earlier than expected', 'error: multi-pack-index file exists, but failed to parse'],
    }),
    git239: true,
  },
  {
    title: '38 verify missing required chunk',
    corrupt: (file) => patch(file, 12, [1]),
    expect: () => ({ exit: 128, lines: ['fatal: multi-pack-index required pack-name chunk missing or corrupted'] }),
    git239: "2.39 words it 'multi-pack-index missing required pack-name chunk'",
  },
  {
    title: '39 verify invalid chunk offset',
    corrupt: (file) => patch(file, 16, [1]),
    expect: (L) => ({
      exit: 1,
      lines: [
        `error: improper chunk offset(s) ${hex((1n << 56n) + BigInt(L.chunks.get('PNAM')!.offset))} and ${hex(L.chunks.get('OIDF')!.offset)}`,
        'error: multi-pack-index file exists, but failed to parse',
      ],
    }),
    git239: true,
  },
  {
    title: '40 verify packnames out of order / missing pack',
    corrupt: (file, L) => patch(file, L.chunks.get('PNAM')!.offset + 2, 'a'),
    expect: (L) => {
      const inPack0 = Array.from({ length: L.numObjects }, (_, i) => i).filter((i) => L.packOf(i) === 0);
      expect(inPack0.length).toBeGreaterThan(0);
      return {
        exit: 1,
        lines: [
          'incorrect checksum',
          'failed to load pack in position 0',
          // pack-int-id 0 sorts last (git sorts by descending pack-int-id)
          ...inPack0.map((i) => `failed to load pack entry for oid[${i}] = ${L.oid(i)}`),
        ],
      };
    },
    git239: true,
  },
  {
    title: '41 verify oid fanout out of order',
    corrupt: (file, L) => patch(file, L.chunks.get('OIDF')!.offset + 250 * 4 + 1, [1]),
    expect: (L) => ({
      exit: 128,
      lines: [
        `error: oid fanout out of order: fanout[250] = ${hex(L.fanout[250] | 0x10000)} > ${hex(L.fanout[251])} = fanout[251]`,
        'fatal: multi-pack-index required OID fanout chunk missing or corrupted',
      ],
    }),
    git239: '2.39 checks the fanout in verify, not at load: it prints the line without a prefix and goes on (exit 1)',
  },
  {
    title: '42 verify oid lookup out of order',
    corrupt: (file, L) => patch(file, L.chunks.get('OIDL')!.offset + 16 * L.H, [0]),
    expect: (L) => {
      const oid16 = '00' + L.oid(16).slice(2);
      expect(L.oid(15) > oid16).toBe(true);
      return {
        exit: 1,
        lines: [
          'incorrect checksum',
          `oid lookup out of order: oid[15] = ${L.oid(15)} >= ${oid16} = oid[16]`,
          // a lookup of the changed OID searches the 0x00 bucket and misses
          `failed to load pack entry for oid[16] = ${oid16}`,
        ],
      };
    },
    git239: true,
  },
  {
    title: '43 verify incorrect pack-int-id',
    corrupt: (file, L) => patch(file, L.chunks.get('OOFF')!.offset + 16 * 8 + 2, [7]),
    expect: (L) => ({ exit: 128, lines: ['incorrect checksum', `fatal: bad pack-int-id: ${L.packOf(16) | 0x700} (${L.numPacks} total packs)`] }),
    git239: true,
  },
  {
    title: '44 verify incorrect offset',
    corrupt: (file, L) => patch(file, L.chunks.get('OOFF')!.offset + 16 * 8 + 6, [0xff]),
    expect: (L) => ({
      exit: 1,
      lines: ['incorrect checksum', `incorrect object offset for oid[16] = ${L.oid(16)}: ${hex(L.offsetField(16) | 0xff00)} != ${hex(L.offsetField(16))}`],
    }),
    git239: true,
  },
  {
    title: '49 verify incorrect checksum',
    corrupt: (file, L) => patch(file, L.size - 10, new Array(10).fill(0xff)),
    expect: () => ({ exit: 1, lines: ['incorrect checksum'] }),
    git239: true,
  },
  {
    title: '51 verify packnames out of order (v1)',
    corrupt: (file, L) => patch(file, L.chunks.get('PNAM')!.offset + 2, 'z'),
    expect: (L) => ({
      exit: 128,
      lines: [`fatal: multi-pack-index pack names out of order: '${'paz' + L.packNames[0].slice(3)}' before '${L.packNames[1]}'`],
    }),
    git239: true,
  },
  {
    title: '65 verify incorrect 64-bit offset (LOFF entry 0, byte 3)',
    fixture: 'sha1-large-offsets',
    setup: largeOffsetSetup,
    corrupt: (file, L) => patch(file, L.chunks.get('LOFF')!.offset + 3, [7]),
    expect: (L) => {
      const loff = L.chunks.get('LOFF')!.offset;
      const k = Array.from({ length: L.numObjects }, (_, i) => i).find((i) => L.offsetField(i) === 0x80000000)!;
      const old = Buffer.from(L.bytes).readBigUInt64BE(loff);
      const now = (old & ~(0xffn << 32n)) | (7n << 32n);
      return { exit: 1, lines: ['incorrect checksum', `incorrect object offset for oid[${k}] = ${L.oid(k)}: ${hex(now)} != ${hex(old)}`] };
    },
    git239: true,
  },
  {
    title: '89 reader notices too-small oid fanout chunk',
    corrupt: (file) => surgery(file, 'OIDF', 'clear', new Uint8Array(4)),
    expect: () => ({
      exit: 128,
      lines: ['error: multi-pack-index OID fanout is of the wrong size', 'fatal: multi-pack-index required OID fanout chunk missing or corrupted'],
    }),
    git239: '2.39 does not check chunk sizes (added in 2.43)',
  },
  {
    title: '90 reader notices too-small oid lookup chunk',
    corrupt: (file) => surgery(file, 'OIDL', 'clear', new Uint8Array(4)),
    expect: () => ({
      exit: 128,
      lines: ['error: multi-pack-index OID lookup chunk is the wrong size', 'fatal: multi-pack-index required OID lookup chunk missing or corrupted'],
    }),
    git239: '2.39 does not check chunk sizes (added in 2.43)',
  },
  {
    title: '91 reader notices too-small pack names chunk',
    corrupt: (file) => surgery(file, 'PNAM', 'clear', Buffer.from('peff')),
    expect: () => ({ exit: 128, lines: ['fatal: multi-pack-index pack-name chunk is too short'] }),
    git239: '2.39 reads past the chunk (no bounds check on PNAM)',
  },
  {
    title: '92 reader handles unaligned chunks',
    corrupt: (file) => surgery(file, 'PNAM', 'clear', Buffer.from('foo.pack\0', 'latin1')),
    expect: () => ({ exit: 1, lines: ['error: chunk id 4f494446 not 4-byte aligned', 'error: multi-pack-index file exists, but failed to parse'] }),
    git239: '2.39 has no alignment check (added in 2.44)',
  },
  {
    title: '93 reader notices too-small object offset chunk',
    corrupt: (file) => surgery(file, 'OOFF', 'clear', new Uint8Array(4)),
    expect: () => ({
      exit: 128,
      lines: ['error: multi-pack-index object offset chunk is the wrong size', 'fatal: multi-pack-index required object offsets chunk missing or corrupted'],
    }),
    git239: '2.39 does not check chunk sizes (added in 2.43)',
  },
  {
    title: '94 reader bounds-checks large offset table',
    fixture: 'sha1-large-offsets',
    setup: largeOffsetSetup,
    corrupt: (file) => surgery(file, 'LOFF', 'clear', new Uint8Array(0)),
    expect: () => ({ exit: 128, lines: ['incorrect checksum', 'fatal: multi-pack-index large offset out of bounds'] }),
    git239: '2.39 does not bounds-check LOFF (added in 2.43)',
  },
  {
    title: '96 reader notices out-of-bounds fanout',
    corrupt: (file) => {
      const b = Buffer.alloc(255 * 4);
      for (let i = 0; i < 255; i++) b.writeUInt32BE((i << 24) >>> 0, 4 * i);
      surgery(file, 'OIDF', 0, b);
    },
    expect: (L) => ({
      exit: 128,
      lines: [`error: oid fanout out of order: fanout[254] = fe000000 > ${hex(L.numObjects)} = fanout[255]`, 'fatal: multi-pack-index required OID fanout chunk missing or corrupted'],
    }),
    git239: '2.39 checks the fanout in verify, not at load',
  },
];

describe('t5319 corruption cases (spec 5.2)', () => {
  for (const c of CASES) {
    const fixture = c.fixture ?? 'sha1-single';
    it(`${c.title} (${fixture})`, async () => {
      const gitdir = await copyFixture(fixture);
      c.setup?.(gitdir);
      const file = midxOf(gitdir);
      const L = layout(file);
      c.corrupt(file, L, gitdir);
      const want = c.expect(L);
      const r = await verify(gitdir);
      expect(gitLines(r)).toEqual(want.lines);
      expect(r.gitExitCode).toBe(want.exit);
      // a non-incremental MIDX: our every-layer checks are git's checks
      expect(allLines(r)).toEqual(want.lines);
      expect(r.exitCode).toBe(want.exit);
      expect(r.ok).toBe(want.exit === 0);
      expect(await verify(gitdir, { gitOnly: true })).toEqual(r);
      for (const p of r.problems) if (p.level !== 'fatal' && !/exists, but failed/.test(p.message)) expect(p.file).toBeTruthy();
      if (hasGit && c.git239 === true) {
        const git = systemGitVerify(gitdir);
        expect(git.lines).toEqual(want.lines);
        expect(git.status).toBe(want.exit);
      }
    });
  }
});

/**
 * An object whose MIDX entry is unusable (its OID altered in OIDL so lookups
 * miss it, or its pack-int-id out of range) lives in a pack the MIDX covers:
 * the read path drops the damaged layer (bad pack-int-id at once; a bad OID
 * table when the miss makes it check the layer's checksum) and reads the pack.
 */
describe('reads never fail because of a bad MIDX', () => {
  for (const c of CASES) {
    const fixture = c.fixture ?? 'sha1-single';
    if (fixture === 'sha1-large-offsets') continue; // no real .pack: nothing can be read
    it(`every object reads after: ${c.title}`, async () => {
      const gitdir = await copyFixture(fixture);
      c.setup?.(gitdir);
      const file = midxOf(gitdir);
      c.corrupt(file, layout(file), gitdir);
      expect(await readFailures(gitdir, fixture)).toEqual([]);
    });
  }
});

// ---------------------------------------------------------------- (c) a MIDX git 2.39 wrote

describe.runIf(hasGit)('cross-check with the system git on a MIDX it wrote', () => {
  let repo = '';
  const git = (...args: string[]) => execFileSync('git', args, { cwd: repo, env: GIT_ENV, encoding: 'utf8' });

  beforeAll(() => {
    // like t5319's setup: several packs, one of them with a v1 .idx
    repo = path.join(tmpRoot, 'git239');
    nfs.mkdirSync(repo);
    git('init', '-q');
    git('config', 'gc.auto', '0');
    for (let round = 1; round <= 5; round++) {
      for (let f = 0; f < 4; f++) nfs.writeFileSync(path.join(repo, `file-${f}.txt`), `round ${round} file ${f}\n`.repeat(20 + round * f));
      nfs.mkdirSync(path.join(repo, `dir-${round}`));
      nfs.writeFileSync(path.join(repo, `dir-${round}`, 'a'), `a ${round}\n`);
      git('add', '-A');
      git('commit', '-q', '-m', `round ${round}`);
      git('-c', `pack.indexVersion=${round === 1 ? 1 : 2}`, 'repack', '-d', '-q');
    }
    git('multi-pack-index', 'write');
    expect(systemGitVerify(path.join(repo, '.git')).status).toBe(0);
  });

  async function copyRepo(): Promise<string> {
    const dst = path.join(tmpRoot, `git239-${++copies}`);
    await fsp.cp(path.join(repo, '.git'), dst, { recursive: true });
    return dst;
  }

  it('the untouched MIDX verifies in both', async () => {
    const gitdir = await copyRepo();
    const r = await verify(gitdir);
    expect(r.problems).toEqual([]);
    expect(r.exitCode).toBe(0);
    expect(layout(midxOf(gitdir)).numPacks).toBe(5);
  });

  const same = CASES.filter((c) => c.git239 === true && !c.fixture);
  for (const c of same) {
    it(`same stderr and exit code: ${c.title}`, async () => {
      const gitdir = await copyRepo();
      const file = midxOf(gitdir);
      c.corrupt(file, layout(file), gitdir);
      const r = await verify(gitdir);
      const g = systemGitVerify(gitdir);
      expect(gitLines(r)).toEqual(g.lines);
      expect(r.gitExitCode).toBe(g.status);
      expect(allLines(r)).toEqual(g.lines);
    });
  }

  it('random byte changes in OIDL and OOFF (fixed seed): the same stderr, in the same order, as git', async () => {
    const gitdir = await copyRepo();
    const file = midxOf(gitdir);
    const L = layout(file);
    let seed = 20260;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let t = 0; t < 24; t++) {
      const b = Buffer.from(L.bytes);
      const c = L.chunks.get(t % 2 ? 'OOFF' : 'OIDL')!;
      for (let k = 1 + rnd(3); k > 0; k--) b[c.offset + rnd(c.size)] = rnd(256);
      nfs.writeFileSync(file, b);
      const r = await verify(gitdir);
      const g = systemGitVerify(gitdir);
      expect({ t, lines: gitLines(r), exit: r.gitExitCode }).toEqual({ t, lines: g.lines, exit: g.status });
    }
  });

  it('a missing .idx beside its .pack: git loads the pack position, then fails every entry of it', async () => {
    const gitdir = await copyRepo();
    const L = layout(midxOf(gitdir));
    nfs.unlinkSync(path.join(packDir(gitdir), L.packNames[2]));
    const r = await verify(gitdir);
    const g = systemGitVerify(gitdir);
    // git also prints `error: packfile <path> index unavailable` before each entry: not among our messages (detail says why)
    expect(gitLines(r)).toEqual(g.lines.filter((l) => !/^error: packfile .* index unavailable$/.test(l)));
    expect(r.gitExitCode).toBe(g.status);
    expect(r.problems.length).toBeGreaterThan(0);
    expect(r.problems.every((p) => /index unavailable/.test(p.detail ?? ''))).toBe(true);
  });

  it('a pack whose trailer no longer matches its .idx', async () => {
    const gitdir = await copyRepo();
    const L = layout(midxOf(gitdir));
    const pack = path.join(packDir(gitdir), L.packNames[1].replace(/\.idx$/, '.pack'));
    nfs.chmodSync(pack, 0o644);
    const size = nfs.statSync(pack).size;
    patch(pack, size - 1, [nfs.readFileSync(pack)[size - 1] ^ 0xff]);
    const r = await verify(gitdir);
    const g = systemGitVerify(gitdir);
    expect(gitLines(r)).toEqual(g.lines.filter((l) => !/^error: packfile .* does not match index$/.test(l)));
    expect(r.gitExitCode).toBe(g.status);
    expect(r.gitExitCode).toBe(1);
  });

  it('a MIDX only our reader refuses (first chunk overlapping the ToC): our error is not git\'s, and git verifies the file', async () => {
    const gitdir = await copyRepo();
    // 0 packs, 0 objects; PNAM placed at offset 12, over the ToC (git reads no name from it)
    const b = noObjectsMidx();
    b.writeBigUInt64BE(12n, 16);
    b.set(createHash('sha1').update(b.subarray(0, b.length - 20)).digest(), b.length - 20);
    nfs.writeFileSync(midxOf(gitdir), b);
    const r = await verify(gitdir);
    expect(r.problems.map((p) => [p.level, p.git])).toEqual([
      ['error', false],
      ['error', false],
    ]);
    expect(r.problems[0].message).toMatch(/overlaps/);
    expect(r.problems[1].message).toBe('multi-pack-index file exists, but failed to parse');
    expect(r.exitCode).toBe(1);
    const g = systemGitVerify(gitdir);
    expect(g).toEqual({ status: 1, lines: ['the midx contains no oid'] });
  });

  it('documented difference, t5319 41: 2.39 reports a fanout out of order from verify, 2.55 dies at load', async () => {
    const gitdir = await copyRepo();
    const file = midxOf(gitdir);
    const L = layout(file);
    patch(file, L.chunks.get('OIDF')!.offset + 250 * 4 + 1, [1]);
    const fanoutLine = `oid fanout out of order: fanout[250] = ${hex(L.fanout[250] | 0x10000)} > ${hex(L.fanout[251])} = fanout[251]`;
    const g = systemGitVerify(gitdir);
    expect(g.lines).toContain(fanoutLine);
    expect(g.status).toBe(1);
    const r = await verify(gitdir);
    expect(gitLines(r)).toEqual([`error: ${fanoutLine}`, 'fatal: multi-pack-index required OID fanout chunk missing or corrupted']);
    expect(r.exitCode).toBe(128);
  });

  it('documented difference, t5319 38: 2.39 words the missing PNAM differently', async () => {
    const gitdir = await copyRepo();
    patch(midxOf(gitdir), 12, [1]);
    const g = systemGitVerify(gitdir);
    expect(g.status).toBe(128);
    expect(g.lines).toEqual(['fatal: multi-pack-index missing required pack-name chunk']);
    const r = await verify(gitdir);
    expect(gitLines(r)).toEqual(['fatal: multi-pack-index required pack-name chunk missing or corrupted']);
  });
});

// ---------------------------------------------------------------- (d) chains

describe('chains: every layer', () => {
  const chainOf = (gitdir: string) =>
    nfs.readFileSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain'), 'utf8').trim().split('\n');

  for (const fixture of ['sha1-chain', 'sha256-chain']) {
    const H = fixture === 'sha256-chain' ? 32 : 20;

    it(`${fixture}: a lower layer's bad checksum is reported for that layer (git checks the tip only)`, async () => {
      const gitdir = await copyFixture(fixture);
      const [root] = chainOf(gitdir);
      const file = layerFile(gitdir, root);
      const size = nfs.statSync(file).size;
      patch(file, size - 1, [nfs.readFileSync(file)[size - 1] ^ 0xff]);
      const r = await verify(gitdir);
      expect(r.problems).toEqual([{ level: 'error', message: 'incorrect checksum', stderr: 'incorrect checksum', file, layer: root, git: false }]);
      expect(r).toMatchObject({ ok: false, exitCode: 1, gitExitCode: 0 });
      const g = await verify(gitdir, { gitOnly: true });
      expect(g).toMatchObject({ ok: true, exitCode: 0, gitExitCode: 0, problems: [] });
      expect(await readFailures(gitdir, fixture)).toEqual([]);
    });

    it(`${fixture}: the tip's bad checksum is git's own report`, async () => {
      const gitdir = await copyFixture(fixture);
      const tip = chainOf(gitdir).at(-1)!;
      const file = layerFile(gitdir, tip);
      const size = nfs.statSync(file).size;
      patch(file, size - H, new Array(4).fill(0));
      const r = await verify(gitdir);
      expect(r.problems).toEqual([{ level: 'error', message: 'incorrect checksum', stderr: 'incorrect checksum', file, layer: tip, git: true }]);
      expect(r).toMatchObject({ exitCode: 1, gitExitCode: 1 });
    });
  }

  it('a missing tip layer: warning, the lower layers verify, exit 0 (spec 6.5)', async () => {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    nfs.unlinkSync(layerFile(gitdir, chain[2]));
    const r = await verify(gitdir);
    expect(r.problems).toEqual([
      { level: 'warning', message: 'unable to find all multi-pack index files', stderr: 'warning: unable to find all multi-pack index files', file: layerFile(gitdir, chain[2]), layer: chain[2], git: true },
    ]);
    expect(r).toMatchObject({ ok: true, exitCode: 0, gitExitCode: 0, source: 'chain', layers: chain.slice(0, 2) });
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  it('a missing root layer: no MIDX at all, a warning, exit 0 (spec 6.5)', async () => {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    nfs.unlinkSync(layerFile(gitdir, chain[0]));
    const r = await verify(gitdir);
    expect(allLines(r)).toEqual(['warning: unable to find all multi-pack index files']);
    expect(r).toMatchObject({ ok: true, exitCode: 0, gitExitCode: 0, source: 'none', layers: [] });
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  it("a lower layer's OIDL out of order: git sees only failed lookups; we also report the order and checksum of that layer (spec 6.5)", async () => {
    const gitdir = await copyFixture('sha1-chain');
    const [root] = chainOf(gitdir);
    const file = layerFile(gitdir, root);
    const L = layout(file);
    patch(file, L.chunks.get('OIDL')!.offset + 16 * 20, [0]);
    const oid16 = '00' + L.oid(16).slice(2);
    const r = await verify(gitdir);
    expect(gitLines(r)).toEqual([`failed to load pack entry for oid[16] = ${oid16}`]);
    expect(r.problems.filter((p) => !p.git)).toEqual([
      { level: 'error', message: 'incorrect checksum', stderr: 'incorrect checksum', file, layer: root, git: false },
      { level: 'error', message: `oid lookup out of order: oid[15] = ${L.oid(15)} >= ${oid16} = oid[16]`, stderr: `oid lookup out of order: oid[15] = ${L.oid(15)} >= ${oid16} = oid[16]`, file, layer: root, git: false },
    ]);
    expect(r.problems.find((p) => p.git)!.layer).toBe(root);
    expect(r).toMatchObject({ exitCode: 1, gitExitCode: 1 });
    const g = await verify(gitdir, { gitOnly: true });
    expect(allLines(g)).toEqual([`failed to load pack entry for oid[16] = ${oid16}`]);
  });

  it("the tip's OIDL out of order: git repeats its report once per layer; we report it once, for the tip", async () => {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    const file = layerFile(gitdir, chain[2]);
    const L = layout(file);
    patch(file, L.chunks.get('OIDL')!.offset + 16 * 20, [0]);
    const oid16 = '00' + L.oid(16).slice(2);
    const order = `oid lookup out of order: oid[15] = ${L.oid(15)} >= ${oid16} = oid[16]`;
    const r = await verify(gitdir);
    expect(r.problems.filter((p) => p.message === order).map((p) => [p.layer, p.git])).toEqual([[chain[2], true]]);
    const g = await verify(gitdir, { gitOnly: true });
    expect(g.problems.filter((p) => p.message === order)).toHaveLength(3);
    expect(g.exitCode).toBe(1);
  });

  // the altered OID is in a pack the chain covers: the tip's checksum fails, the tip is dropped
  it("every object reads after the tip's OIDL is put out of order", async () => {
    const gitdir = await copyFixture('sha1-chain');
    const file = layerFile(gitdir, chainOf(gitdir)[2]);
    patch(file, layout(file).chunks.get('OIDL')!.offset + 16 * 20, [0]);
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  /**
   * sha1-chain with an empty layer inserted at `at` in the chain. Its pack is
   * a copy of one the root layer covers: every object of it is in the chain
   * already, which is how git comes to write such a layer.
   */
  async function chainWithEmptyLayer(at: number): Promise<{ gitdir: string; hex: string; chain: string[] }> {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    const source = layout(layerFile(gitdir, chain[0])).packNames[0].replace(/\.idx$/, '');
    const copy = `pack-${'f'.repeat(40)}`;
    for (const ext of ['.idx', '.pack']) nfs.copyFileSync(path.join(packDir(gitdir), source + ext), path.join(packDir(gitdir), copy + ext));
    const { bytes, hex } = emptyLayer(`${copy}.idx`);
    nfs.writeFileSync(layerFile(gitdir, hex), bytes);
    const lines = [...chain];
    lines.splice(at, 0, hex);
    nfs.writeFileSync(path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain'), lines.map((l) => l + '\n').join(''));
    return { gitdir, hex, chain: lines };
  }

  it('an empty tip layer: git reports no oid and stops; the lower layers still check out (spec 6.5)', async () => {
    const { gitdir, hex, chain } = await chainWithEmptyLayer(3);
    const want = [{ level: 'error', message: 'the midx contains no oid', stderr: 'the midx contains no oid', file: layerFile(gitdir, hex), layer: hex, git: true }];
    const r = await verify(gitdir);
    expect(r.problems).toEqual(want);
    expect(r).toMatchObject({ ok: false, exitCode: 1, gitExitCode: 1, layers: chain });
    expect((await verify(gitdir, { gitOnly: true })).problems).toEqual(want);
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  it('an empty layer below the tip is not a problem', async () => {
    const { gitdir, chain } = await chainWithEmptyLayer(2);
    for (const options of [undefined, { gitOnly: true }]) {
      const r = await verify(gitdir, options);
      expect(r.problems).toEqual([]);
      expect(r).toMatchObject({ ok: true, exitCode: 0, layers: chain });
    }
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  it("a missing pack of the middle layer: global pack position, that layer's entries", async () => {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    const [l1, l2] = chain.map((h) => layout(layerFile(gitdir, h)));
    nfs.unlinkSync(path.join(packDir(gitdir), l2.packNames[0].replace(/\.idx$/, '.pack')));
    const r = await verify(gitdir);
    const position = l1.numPacks; // global pack-int-id of the middle layer's first pack
    expect(r.problems[0]).toMatchObject({
      message: `failed to load pack in position ${position}`,
      file: path.join(packDir(gitdir), l2.packNames[0].replace(/\.idx$/, '.pack')),
      layer: chain[1],
      git: true,
    });
    const entries = r.problems.slice(1);
    expect(entries.length).toBe(l2.numObjects);
    for (const p of entries) expect(p).toMatchObject({ layer: chain[1], git: true, message: expect.stringMatching(/^failed to load pack entry for oid\[\d+\] = [0-9a-f]{40}$/) });
    // global positions: the middle layer's objects come after the root's
    expect(entries.map((p) => Number(/oid\[(\d+)\]/.exec(p.message)![1])).sort((a, b) => a - b)).toEqual(Array.from({ length: l2.numObjects }, (_, i) => l1.numObjects + i));
    expect(r).toMatchObject({ exitCode: 1, gitExitCode: 1 });
    expect(await verify(gitdir, { gitOnly: true })).toEqual(r);
  });

  it('a fatal layer (bad signature) dies as git does: exit 128, nothing else checked', async () => {
    const gitdir = await copyFixture('sha1-chain');
    const chain = chainOf(gitdir);
    patch(layerFile(gitdir, chain[1]), 0, [0]);
    const r = await verify(gitdir);
    expect(allLines(r)).toEqual(['fatal: multi-pack-index signature 0x00494458 does not match signature 0x4d494458']);
    expect(r.problems[0].layer).toBe(chain[1]);
    expect(r).toMatchObject({ exitCode: 128, gitExitCode: 128, layers: [] });
    expect(await readFailures(gitdir, 'sha1-chain')).toEqual([]);
  });

  it('a bad non-incremental file beside a good chain: git prints the error and verifies the chain (sha1-both)', async () => {
    const gitdir = await copyFixture('sha1-both');
    patch(midxOf(gitdir), 6, [1]);
    const r = await verify(gitdir);
    expect(allLines(r)).toEqual(['error: final chunk has non-zero id 4f494446']);
    expect(r).toMatchObject({ ok: true, exitCode: 0, gitExitCode: 0, source: 'chain' });
    expect(r.layers).toHaveLength(2);
  });
});

// ---------------------------------------------------------------- reads only .idx files

describe('verify reads MIDX and .idx files, not packs', () => {
  it('reads at most the header and trailer of each .pack', async () => {
    const gitdir = path.join(FIXTURES, 'sha1-chain', 'repo.git');
    const packBytes = new Map<string, number>();
    const wholePackReads: string[] = [];
    const p = nfs.promises;
    // a promise-only client (no `promises` property, no sync calls), counting what is read from packs
    const client = {
      readFile: (f: string, ...rest: unknown[]) => {
        if (String(f).endsWith('.pack')) wholePackReads.push(String(f));
        return (p.readFile as (...a: unknown[]) => Promise<unknown>)(f, ...rest);
      },
      writeFile: p.writeFile,
      readdir: p.readdir,
      stat: p.stat,
      lstat: p.lstat,
      unlink: p.unlink,
      rename: p.rename,
      mkdir: p.mkdir,
      rmdir: p.rmdir,
      async open(f: string, flags: string) {
        const fh = await p.open(f, flags);
        return {
          stat: () => fh.stat(),
          close: () => fh.close(),
          async read(buf: Uint8Array, off: number, len: number, pos: number) {
            const r = await fh.read(buf, off, len, pos);
            if (f.endsWith('.pack')) packBytes.set(f, (packBytes.get(f) ?? 0) + r.bytesRead);
            return r;
          },
        };
      },
    };
    const odb = await openOdb({ fs: client, gitdir });
    const r = await odb.verifyMidx();
    await odb.close();
    expect(r.exitCode).toBe(0);
    expect(wholePackReads).toEqual([]);
    expect(packBytes.size).toBe(5);
    for (const n of packBytes.values()) expect(n).toBe(12 + 20);
  });
});
