/**
 * Checking the layers' `.bitmap` files (a verifyMidx extension: git's
 * `multi-pack-index verify` reads no bitmap; `git fsck` checks only their
 * trailing checksum, with the message used here). A missing `.bitmap` is
 * fine; a present one must have a good checksum, load (header, MIDX
 * checksum, every EWAH within the file), name only positions the chain has,
 * resolve every XOR chain to bits within the chain's objects, have type
 * bitmaps that give each of the layer's own objects exactly one type and
 * nothing else, and bitmap only objects its type bitmaps call commits.
 */

import { CorruptError } from '../../errors.js';
import type { Fs } from '../../io/fs.js';
import { join } from '../../io/fs.js';
import type { HashInfo } from '../../oid.js';
import { type Codec, trailerMatches } from '../../zlib/index.js';
import { MIDX_DIR } from '../chain.js';
import { CHUNK_RIDX } from '../chunks.js';
import type { MidxFile } from '../read.js';
import { parseLayerBitmap } from './read.js';

export interface BitmapProblem {
  file: string;
  layer: string;
  message: string;
}

export async function verifyBitmaps(fs: Fs, packDir: string, hash: HashInfo, codec: Codec, layers: MidxFile[], inChain: boolean): Promise<BitmapProblem[]> {
  const problems: BitmapProblem[] = [];
  const H = hash.rawLength;
  const dir = inChain ? join(packDir, MIDX_DIR) : packDir;
  const inverses = new Map<MidxFile, Int32Array | null>();
  for (const layer of layers) {
    const file = join(dir, `multi-pack-index-${layer.checksumHex}.bitmap`);
    const bytes = await fs.tryReadFile(file);
    if (!bytes) continue;
    const report = (message: string) => problems.push({ file, layer: layer.checksumHex, message });
    if (!(await trailerMatches(codec, hash.algorithm, bytes, H))) {
      report(`bitmap file '${file}' has invalid checksum`);
      continue;
    }
    try {
      const bm = parseLayerBitmap(file, bytes, hash, layer.checksum, layer.numObjectsInBase, layer.numObjects);
      if (layer.numObjects && !layer.chunks.has(CHUNK_RIDX) && !(await fs.stat(join(dir, `multi-pack-index-${layer.checksumHex}.rev`)))) {
        report('multi-pack bitmap is missing required reverse index');
      }
      const total = bm.totalObjects;
      const base = layer.numObjectsInBase;
      const types = [bm.commits, bm.trees, bm.blobs, bm.tags].map((e) => e.toWords(total, file));
      // each own object exactly one type; nothing below the layer
      let typeProblems = 0;
      for (let pos = 0; pos < total && typeProblems < 5; pos++) {
        let n = 0;
        for (const t of types) if (t[pos >>> 5] & (1 << (pos & 31))) n++;
        const want = pos >= base ? 1 : 0;
        if (n !== want) {
          typeProblems++;
          report(n === 0 ? `bitmap position ${pos} has no type` : pos < base ? `type bitmaps set position ${pos} of a base layer` : `bitmap position ${pos} has ${n} types`);
        }
      }
      // bitmapped commits: known to the chain, typed as commits where their layer's bitmap says, resolvable
      for (let i = 0; i < bm.entries.length; i++) {
        const e = bm.entries[i];
        const words = bm.commitBitmap(i);
        // the commit's own bit: its slot is found through the RIDX of the layer holding it
        const owner = ownerOf(layer, e.commitPos);
        if (!owner) {
          report(`bitmapped commit position ${e.commitPos} is outside the MIDX`);
          continue;
        }
        const inverse = await slotsOf(owner, inverses);
        const slot = inverse ? inverse[e.commitPos - owner.numObjectsInBase] : -1;
        if (!inverse) continue;
        if (slot < 0) report(`bitmapped commit position ${e.commitPos} is in no pseudo-pack slot`);
        else if (owner === layer && !(types[0][slot >>> 5] & (1 << (slot & 31)))) report(`bitmapped object at position ${e.commitPos} is not a commit`);
        else if (!(words[slot >>> 5] & (1 << (slot & 31)))) report(`bitmap of the commit at position ${e.commitPos} lacks the commit itself`);
      }
    } catch (err) {
      if (!(err instanceof CorruptError)) throw err;
      report(err.reason);
    }
  }
  return problems;
}

/** Global MIDX position (minus the layer's base) -> global slot, from the layer's RIDX chunk; null without one. */
async function slotsOf(l: MidxFile, cache: Map<MidxFile, Int32Array | null>): Promise<Int32Array | null> {
  if (cache.has(l)) return cache.get(l)!;
  const ridx = await l.readChunk(CHUNK_RIDX);
  let out: Int32Array | null = null;
  if (ridx && ridx.length === 4 * l.numObjects) {
    out = new Int32Array(l.numObjects).fill(-1);
    const dv = new DataView(ridx.buffer, ridx.byteOffset, ridx.byteLength);
    for (let j = 0; j < l.numObjects; j++) {
      const p = dv.getUint32(4 * j) - l.numObjectsInBase;
      if (p >= 0 && p < l.numObjects) out[p] = l.numObjectsInBase + j;
    }
  }
  cache.set(l, out);
  return out;
}

function ownerOf(layer: MidxFile, pos: number): MidxFile | null {
  for (let l: MidxFile | null = layer; l; l = l.base) {
    if (pos >= l.numObjectsInBase && pos < l.numObjectsInBase + l.numObjects) return l;
  }
  return null;
}
