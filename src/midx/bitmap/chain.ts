/**
 * The bitmaps of a whole MIDX chain as one index (git's bitmap_index with
 * its `base` links): bit j is pseudo-pack slot j of the chain, each layer's
 * RIDX maps its slots to global MIDX positions, and a commit bitmap is found
 * in whichever layer stored it. The format-level pieces only: loading files
 * and deciding what to do when one is bad is the odb's business.
 */

import { CorruptError } from '../../errors.js';
import type { MidxFile } from '../read.js';
import type { LayerBitmap } from './read.js';

export const TYPE_COMMIT = 1;
export const TYPE_TREE = 2;
export const TYPE_BLOB = 3;
export const TYPE_TAG = 4;

export interface BitmapLayer {
  layer: MidxFile;
  bitmap: LayerBitmap;
  /** RIDX: the global MIDX position in each of the layer's slots */
  ridx: Uint32Array;
}

export class ChainBitmap {
  /** objects in the whole chain (bits of a full bitmap) */
  readonly total: number;
  /** global MIDX position -> global pseudo-pack slot */
  readonly slotOf: Uint32Array;
  /** the four type bitmaps of every layer OR-ed together, as 32-bit words */
  readonly typeWords: Uint32Array[];

  constructor(readonly layers: BitmapLayer[]) {
    const tip = layers[layers.length - 1].layer;
    this.total = tip.numObjectsInBase + tip.numObjects;
    this.slotOf = new Uint32Array(this.total);
    const seen = new Uint8Array(this.total);
    for (const l of layers) {
      const base = l.layer.numObjectsInBase;
      const n = l.layer.numObjects;
      if (l.ridx.length !== n) throw new CorruptError(l.layer.file, 'multi-pack-index reverse-index chunk is the wrong size');
      for (let j = 0; j < n; j++) {
        const pos = l.ridx[j];
        if (pos < base || pos >= base + n || seen[pos]) throw new CorruptError(l.layer.file, `multi-pack-index reverse index names position ${pos} wrongly`);
        seen[pos] = 1;
        this.slotOf[pos] = base + j;
      }
    }
    const words = Math.ceil(this.total / 32);
    this.typeWords = [0, 1, 2, 3].map(() => new Uint32Array(words));
    for (const l of layers) {
      const b = l.bitmap;
      [b.commits, b.trees, b.blobs, b.tags].forEach((e, t) => {
        const w = e.toWords(b.totalObjects, b.file);
        const into = this.typeWords[t];
        for (let i = 0; i < w.length; i++) into[i] |= w[i];
      });
    }
  }

  /** Global MIDX position of `oid` (tables loaded), or -1. */
  find(oid: Uint8Array, off = 0): number {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const l = this.layers[i].layer;
      const p = l.findLoaded(oid, off);
      if (p >= 0) return p + l.numObjectsInBase;
    }
    return -1;
  }

  /** The OID in global slot `slot`. */
  oidOfSlot(slot: number): Uint8Array {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const { layer, ridx } = this.layers[i];
      if (slot < layer.numObjectsInBase) continue;
      return layer.oidAt(ridx[slot - layer.numObjectsInBase] - layer.numObjectsInBase);
    }
    throw new RangeError(`slot ${slot} out of range`);
  }

  /** The full bitmap of the commit at global MIDX position `pos`, or null when no layer stores one. */
  commitBitmap(pos: number): Uint32Array | null {
    for (let i = this.layers.length - 1; i >= 0; i--) {
      const b = this.layers[i].bitmap.forCommit(pos);
      if (b) return b;
    }
    return null;
  }

  /** git's object type number (1-4) of the object in `slot`, from the type bitmaps; 0 if none says. */
  typeOfSlot(slot: number): number {
    const w = slot >>> 5;
    const m = 1 << (slot & 31);
    for (let t = 0; t < 4; t++) if (this.typeWords[t][w] & m) return t + 1;
    return 0;
  }
}
