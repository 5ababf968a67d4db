/**
 * Fetch-shaped repositories for the maintenance tests: a source history made
 * by fast-import, packs of commit ranges as a fetch would bring them, and the
 * shape of a repository's chain (layers of packs, each pack known by the
 * objects it holds, so two repositories whose packs have different bytes but
 * the same objects compare equal).
 */

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fastImportHistory, git255 } from './git255.js';
import { tmpdir } from './helpers.js';

export const packDir = (gitdir: string) => path.join(gitdir, 'objects', 'pack');

export interface Source {
  gitdir: string;
  commits: string[];
  stage: string;
}

export function makeSource(commits: number, opts: { files?: number; perCommit?: number } = {}): Source {
  const root = tmpdir('midx-maint-src-');
  const gitdir = path.join(root, 'src.git');
  const list = fastImportHistory(gitdir, { commits, files: opts.files ?? 60, perCommit: opts.perCommit ?? 3 });
  const stage = path.join(root, 'stage');
  fs.mkdirSync(stage);
  return { gitdir, commits: list, stage };
}

/** A pack of the objects of commits (from, to] (1-based commit numbers; from 0 = everything up to `to`); its files in the staging dir. */
export function fetchPack(src: Source, from: number, to: number): string[] {
  const revs = [src.commits[to - 1]];
  if (from > 0) revs.push(`^${src.commits[from - 1]}`);
  const hex = git255(['--git-dir', src.gitdir, 'pack-objects', '--revs', '-q', path.join(src.stage, 'pack')], { input: revs.join('\n') + '\n' })
    .toString()
    .trim();
  return ['.pack', '.idx', '.rev'].map((e) => path.join(src.stage, `pack-${hex}${e}`)).filter((f) => fs.existsSync(f));
}

/** Copies pack files into a repository (.idx last, as a fetch installs them). */
export function installPack(gitdir: string, files: string[]): string {
  const ordered = [...files.filter((f) => !f.endsWith('.idx')), ...files.filter((f) => f.endsWith('.idx'))];
  for (const f of ordered) fs.copyFileSync(f, path.join(packDir(gitdir), path.basename(f)));
  return path.basename(files.find((f) => f.endsWith('.idx'))!);
}

export function emptyRepo(name: string): string {
  const gitdir = path.join(tmpdir('midx-maint-'), name);
  git255(['init', '-q', '--bare', gitdir]);
  git255(['--git-dir', gitdir, 'config', 'maintenance.auto', 'false']);
  git255(['--git-dir', gitdir, 'config', 'gc.auto', '0']);
  return gitdir;
}

export function setRef(gitdir: string, oid: string): void {
  fs.writeFileSync(path.join(gitdir, 'refs', 'heads', 'main'), oid + '\n');
  fs.writeFileSync(path.join(gitdir, 'HEAD'), 'ref: refs/heads/main\n');
}

/** The object ids of an .idx (v2), hex, sorted. */
export function idxOids(file: string): string[] {
  const b = fs.readFileSync(file);
  const v2 = b.readUInt32BE(0) === 0xff744f63;
  const fan = v2 ? 8 : 0;
  const n = b.readUInt32BE(fan + 255 * 4);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const at = v2 ? 8 + 1024 + i * 20 : 1024 + i * 24 + 4;
    out.push(b.subarray(at, at + 20).toString('hex'));
  }
  return out;
}

/** A pack known by its objects: count and a digest of its sorted ids. */
export function packKey(gitdir: string, idx: string): string {
  const oids = idxOids(path.join(packDir(gitdir), idx));
  return `${oids.length}:${crypto.createHash('sha1').update(oids.join('\n')).digest('hex').slice(0, 12)}`;
}

export function chainLines(gitdir: string): string[] {
  const f = path.join(packDir(gitdir), 'multi-pack-index.d', 'multi-pack-index-chain');
  return fs.existsSync(f) ? fs.readFileSync(f, 'utf8').split('\n').filter(Boolean) : [];
}

/** PNAM and the object count of a layer file (a small parse: header, chunk table, PNAM, OIDF). */
export function layerInfo(file: string): { objects: number; packs: string[] } {
  const b = fs.readFileSync(file);
  const chunks = b[6];
  const toc = new Map<string, number>();
  for (let i = 0; i <= chunks; i++) {
    const at = 12 + i * 12;
    toc.set(b.subarray(at, at + 4).toString('latin1'), Number(b.readBigUInt64BE(at + 4)));
  }
  const pnam = toc.get('PNAM')!;
  const numPacks = b.readUInt32BE(8);
  const names: string[] = [];
  let p = pnam;
  while (names.length < numPacks) {
    const end = b.indexOf(0, p);
    names.push(b.subarray(p, end).toString('latin1'));
    p = end + 1;
    while (names.length < numPacks && b[p] === 0) p++;
  }
  const oidf = toc.get('OIDF')!;
  return { objects: b.readUInt32BE(oidf + 255 * 4), packs: names };
}

export interface Shape {
  /** root first: each layer's object count and its packs' keys (sorted) */
  layers: string[];
  /** every pack in the directory, by key, sorted; `*` marks a pack no layer names */
  packs: string[];
  loose: number;
}

export function shape(gitdir: string): Shape {
  const layers: string[] = [];
  const named = new Set<string>();
  for (const h of chainLines(gitdir)) {
    const info = layerInfo(path.join(packDir(gitdir), 'multi-pack-index.d', `multi-pack-index-${h}.midx`));
    for (const n of info.packs) named.add(n);
    layers.push(`${info.objects} [${info.packs.map((n) => packKey(gitdir, n)).sort().join(' ')}]`);
  }
  const packs = fs
    .readdirSync(packDir(gitdir))
    .filter((n) => n.endsWith('.idx'))
    .map((n) => packKey(gitdir, n) + (named.has(n) ? '' : '*'))
    .sort();
  let loose = 0;
  for (const d of fs.readdirSync(path.join(gitdir, 'objects'))) if (/^[0-9a-f]{2}$/.test(d)) loose += fs.readdirSync(path.join(gitdir, 'objects', d)).length;
  return { layers, packs, loose };
}

/**
 * A history whose commit c (1-based) adds `blobs[c-1]` new files at the top
 * level, so a pack of commit c alone holds exactly blobs + 2 objects (the
 * blobs, the new root tree, the commit).
 */
export function makeSizedSource(blobs: number[]): Source {
  const root = tmpdir('midx-maint-sized-');
  const gitdir = path.join(root, 'src.git');
  git255(['init', '-q', '--bare', gitdir]);
  const out: string[] = [];
  let t = 1700000000;
  for (let c = 1; c <= blobs.length; c++) {
    const msg = `commit ${c}\n`;
    out.push(`commit refs/heads/main\nmark :${c}\ncommitter C O Mitter <c@example.com> ${t++} +0000\ndata ${Buffer.byteLength(msg)}\n${msg}`);
    if (c > 1) out.push(`from :${c - 1}\n`);
    for (let k = 0; k < blobs[c - 1]; k++) {
      const body = `file ${c}.${k}\n`;
      out.push(`M 100644 inline f${c}_${k}\ndata ${Buffer.byteLength(body)}\n${body}`);
    }
    out.push('\n');
  }
  git255(['--git-dir', gitdir, 'fast-import', '--quiet', '--export-marks=' + path.join(root, 'marks')], { input: out.join('') });
  const marks = new Map<number, string>();
  for (const line of fs.readFileSync(path.join(root, 'marks'), 'utf8').split('\n')) {
    const m = /^:(\d+) ([0-9a-f]+)$/.exec(line);
    if (m) marks.set(Number(m[1]), m[2]);
  }
  const stage = path.join(root, 'stage');
  fs.mkdirSync(stage);
  return { gitdir, commits: Array.from({ length: blobs.length }, (_, i) => marks.get(i + 1)!), stage };
}
