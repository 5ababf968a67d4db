#!/usr/bin/env node
// The JavaScript inflaters on every pack entry of a repository: pako (the old
// browser codec: pako.inflate, then a size check) against fflate as
// src/zlib/js.ts drives it (exact-size output buffer, Adler-32 checked here).
// Entries are inflated in pack order, the streams already in memory, so this is
// inflation alone. Needs `npx tsc` (dist/) and pako (a devDependency).
//
//   node bench/zlib-codecs.mjs <gitdir> [rounds]

import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import pako from 'pako';
import { jsInflateExact } from '../dist/zlib/js.js';

const gitdir = process.argv[2];
const rounds = Number(process.argv[3] ?? 3);
if (!gitdir) {
  console.error('usage: node bench/zlib-codecs.mjs <gitdir> [rounds]');
  process.exit(2);
}

/** every entry's zlib stream and the size its header states */
function entries() {
  const packDir = path.join(gitdir, 'objects/pack');
  const out = [];
  for (const idx of fs.readdirSync(packDir).filter((n) => n.endsWith('.idx'))) {
    const pack = fs.readFileSync(path.join(packDir, idx.replace(/\.idx$/, '.pack')));
    const offsets = execFileSync('git', ['show-index'], { input: fs.readFileSync(path.join(packDir, idx)), maxBuffer: 1 << 30 })
      .toString()
      .trim()
      .split('\n')
      .map((l) => Number(l.split(' ')[0]))
      .sort((a, b) => a - b);
    for (let k = 0; k < offsets.length; k++) {
      const start = offsets[k];
      const end = k + 1 < offsets.length ? offsets[k + 1] : pack.length - 20;
      let p = start;
      let c = pack[p++];
      const type = (c >> 4) & 7;
      let size = c & 15;
      let shift = 4;
      while (c & 0x80) {
        c = pack[p++];
        size += (c & 0x7f) * 2 ** shift;
        shift += 7;
      }
      if (type === 6) while (pack[p++] & 0x80);
      else if (type === 7) p += 20;
      out.push({ stream: pack.subarray(p, end), size });
    }
  }
  return out;
}

const all = entries();
const codecs = {
  pako(e) {
    const out = pako.inflate(e.stream);
    if (out.length !== e.size) throw new Error('size');
    return out;
  },
  fflate(e) {
    return jsInflateExact(e.stream, e.size);
  },
};
const results = {};
for (let r = 0; r < rounds; r++) {
  for (const [name, inflate] of Object.entries(codecs)) {
    const t0 = performance.now();
    let bytes = 0;
    for (const e of all) bytes += inflate(e).length;
    const s = (performance.now() - t0) / 1000;
    (results[name] ??= []).push({ rate: all.length / s, bytes });
  }
}
for (const [name, runs] of Object.entries(results)) {
  const best = Math.max(...runs.map((x) => x.rate));
  console.log(`${name}: ${all.length} entries, ${(runs[0].bytes / 1048576).toFixed(1)} MiB out, best of ${rounds}: ${Math.round(best)} entries/s (runs: ${runs.map((x) => Math.round(x.rate)).join(', ')})`);
}
