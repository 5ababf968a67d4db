/**
 * `midx-odb stats [--json]`: what the object database sees. The MIDX (a
 * single file, a chain, or none) and its layers (checksum, version, packs,
 * objects), the packs it covers and the packs outside it (objects and
 * `.pack` bytes each), and the object counts by source.
 */

import fs from 'node:fs';
import path from 'node:path';
import type { OdbStats } from '../index.js';
import { type OptionSpec, parseOptions } from './args.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';

export const STATS_USAGE = 'midx-odb [<options>] stats [--json]';
export const STATS_OPTIONS: OptionSpec[] = [{ long: 'json', kind: 'bool', help: 'print the figures as JSON' }];

interface PackFigures {
  name: string;
  /** objects listed in the `.idx` (null when it cannot be read) */
  objects: number | null;
  /** size of the `.pack` (null when it is missing) */
  packBytes: number | null;
  /** checksum of the layer that lists it, for packs in the MIDX */
  layer?: string;
}

/** The object count of a `.idx` (v1 or v2): the last fanout entry. */
function idxCount(file: string): number | null {
  let fd: number | null = null;
  try {
    fd = fs.openSync(file, 'r');
    const head = Buffer.alloc(8 + 256 * 4);
    const n = fs.readSync(fd, head, 0, head.length, 0);
    const v2 = n >= 8 && head.readUInt32BE(0) === 0xff744f63;
    const at = (v2 ? 8 : 0) + 255 * 4;
    return n >= at + 4 ? head.readUInt32BE(at) : null;
  } catch {
    return null;
  } finally {
    if (fd !== null) fs.closeSync(fd);
  }
}

function packBytes(packDir: string, idxName: string): number | null {
  try {
    return fs.statSync(path.join(packDir, idxName.replace(/\.idx$/, '.pack'))).size;
  } catch {
    return null;
  }
}

function human(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return u === 0 ? `${bytes} bytes` : `${v.toFixed(2)} ${units[u]}`;
}

function sum(list: PackFigures[], key: 'objects' | 'packBytes'): number {
  return list.reduce((n, p) => n + (p[key] ?? 0), 0);
}

export async function statsCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, STATS_OPTIONS);
  if (args.length) throw new UsageError('');
  const s: OdbStats = await ctx.odb.stats();
  const packDir = ctx.odb.packDir;
  const layerOf = new Map<string, string>();
  for (const l of s.layers) for (const p of l.packs) if (!layerOf.has(p)) layerOf.set(p, l.checksum);
  const inMidx: PackFigures[] = s.midxPacks.map((name) => ({ name, objects: idxCount(path.join(packDir, name)), packBytes: packBytes(packDir, name), layer: layerOf.get(name) }));
  const outside: PackFigures[] = s.unindexedPacks.map((name) => ({ name, objects: idxCount(path.join(packDir, name)), packBytes: packBytes(packDir, name) }));
  const kind = s.layers.length === 0 ? 'none' : s.layers.some((l) => l.file.includes(`${path.sep}multi-pack-index.d${path.sep}`) || l.file.includes('/multi-pack-index.d/')) ? 'chain' : 'single';
  const midxBytes = sum(inMidx, 'packBytes');
  const otherBytes = sum(outside, 'packBytes');

  if (values.get('json')) {
    const json = {
      gitdir: ctx.repo.gitdir,
      objectFormat: s.objectFormat,
      midx: kind,
      layers: s.layers,
      midxPacks: inMidx,
      packs: outside,
      objects: { midx: s.midxObjects, packs: s.unindexedObjects, loose: s.looseObjects },
      packBytes: { midx: midxBytes, packs: otherBytes, total: midxBytes + otherBytes },
    };
    await ctx.out.write(`${JSON.stringify(json, null, 2)}\n`);
    return 0;
  }

  const lines: string[] = [];
  lines.push(`repository:     ${ctx.repo.gitdir}`);
  lines.push(`object format:  ${s.objectFormat}`);
  if (kind === 'none') lines.push('multi-pack-index: none');
  else if (kind === 'single') lines.push('multi-pack-index: one file (objects/pack/multi-pack-index)');
  else lines.push(`multi-pack-index: chain of ${s.layers.length} layer${s.layers.length === 1 ? '' : 's'} (objects/pack/multi-pack-index.d)`);
  if (s.layers.length) {
    const w = s.layers[0].checksum.length;
    lines.push(`  ${'layer'.padEnd(6)}${'checksum'.padEnd(w + 2)}${'version'.padEnd(9)}${'packs'.padStart(6)}${'objects'.padStart(10)}`);
    s.layers.forEach((l, i) => {
      lines.push(`  ${String(i + 1).padEnd(6)}${l.checksum.padEnd(w + 2)}${String(l.version).padEnd(9)}${String(l.packs.length).padStart(6)}${String(l.objects).padStart(10)}`);
    });
  }
  const layerNo = new Map(s.layers.map((l, i) => [l.checksum, i + 1]));
  const packLine = (p: PackFigures) => {
    const objects = p.objects === null ? '? objects' : `${p.objects} objects`;
    const bytes = p.packBytes === null ? '.pack missing' : human(p.packBytes);
    return `  ${p.name}  ${objects}, ${bytes}${p.layer ? `  (layer ${layerNo.get(p.layer)})` : ''}`;
  };
  lines.push(`packs in the multi-pack-index: ${inMidx.length}${inMidx.length ? `, ${human(midxBytes)}` : ''}`);
  for (const p of inMidx) lines.push(packLine(p));
  lines.push(`packs outside the multi-pack-index: ${outside.length}${outside.length ? `, ${human(otherBytes)}` : ''}`);
  for (const p of outside) lines.push(packLine(p));
  lines.push('objects:');
  const counts: Array<[string, number]> = [
    ['through the multi-pack-index', s.midxObjects],
    ['in packs outside it', s.unindexedObjects],
    ['loose', s.looseObjects],
  ];
  const width = Math.max(...counts.map(([, n]) => String(n).length));
  for (const [label, n] of counts) lines.push(`  ${label.padEnd(30)}${String(n).padStart(width)}`);
  lines.push(`pack bytes: ${human(midxBytes + otherBytes)} in ${inMidx.length + outside.length} pack${inMidx.length + outside.length === 1 ? '' : 's'}`);
  await ctx.out.write(`${lines.join('\n')}\n`);
  return 0;
}
