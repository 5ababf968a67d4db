/**
 * What `git repack -d -l --geometric=<factor> --write-midx=incremental` (git
 * 2.55) decides, as pure functions of pack and layer sizes: which packs are
 * rolled up into one new pack (repack-geometry.c), and how the MIDX chain is
 * rebuilt from the new tip down to the root (repack-midx.c's compaction plan).
 * maintain.ts gathers the inputs and carries the plan out.
 *
 * The geometry: the candidate packs (unindexed packs, plus the tip layer's
 * packs once the tip holds at least `midxNewLayerThreshold` of them; never
 * .keep, cruft or promisor packs) sorted by object count; the packs that
 * already form a progression with `factor` from the largest down stay, the
 * rest are rolled up, and the roll-up then swallows every staying pack smaller
 * than `factor` times its total. With factor >= 2 and no empty packs the
 * rolled-up set depends only on the counts, never on the order of ties.
 *
 * The chain: the first step WRITEs a new tip layer of the new pack(s), the
 * unindexed packs that stayed, the tip's staying packs when the tip was
 * rewritten, and then whole layers from the top down while the running object
 * count (the rolled-up packs' counts, not the new pack's) is at least
 * floor(layer objects / midxSplitFactor). The remaining layers, top down,
 * are each COPIED, or COMPACTED with the layers below them while the
 * accumulated count stays at least floor(next layer / midxSplitFactor).
 */

import type { MaintainStep } from '../types.js';

export interface GeometryPack {
  /** `.idx` basename */
  name: string;
  objects: number;
  /** named by some MIDX layer */
  midx: boolean;
  /** has a `.keep` file: never rolled up */
  keep?: boolean;
  /** has a `.mtimes` file (a cruft pack): never rolled up */
  cruft?: boolean;
  /** has a `.promisor` file: git repacks those separately; left alone here */
  promisor?: boolean;
}

export interface PlanLayer {
  /** checksum, lowercase hex */
  checksum: string;
  objects: number;
  /** `.idx` basenames in pack-int-id order */
  packs: string[];
  /** the pack that owns the layer's first object in pseudo-pack order (git's midx_preferred_pack) */
  preferredPack?: string | null;
}

export interface Geometry {
  /** candidates in ascending object count (stable) */
  packs: GeometryPack[];
  /** packs[0, split) are rolled up */
  split: number;
  /** some rolled-up pack is named by the tip layer: the tip is rebuilt */
  tipRewritten: boolean;
}

export interface MaintainSettings {
  /** `--geometric=<factor>` */
  factor: number;
  /** `repack.midxSplitFactor` */
  midxSplitFactor: number;
  /** `repack.midxNewLayerThreshold` */
  midxNewLayerThreshold: number;
}

/**
 * git's pack_geometry_init + pack_geometry_split. `packs` are the local packs
 * in the order git lists them; `layers` root first.
 */
export function planGeometry(packs: GeometryPack[], layers: PlanLayer[], s: MaintainSettings): Geometry {
  const tip = layers.length ? layers[layers.length - 1] : null;
  const tipNames = new Set(tip ? tip.packs : []);
  const candidates: GeometryPack[] = [];
  for (const p of packs) {
    if (tip && p.midx && (tip.packs.length < s.midxNewLayerThreshold || !tipNames.has(p.name))) continue;
    if (p.keep || p.cruft || p.promisor) continue;
    candidates.push(p);
  }
  // Array.prototype.sort is stable, as glibc's qsort (a merge sort) is for git
  candidates.sort((a, b) => a.objects - b.objects);
  const split = geometrySplit(candidates.map((p) => p.objects), s.factor);
  let tipRewritten = false;
  for (let i = 0; i < split; i++) if (candidates[i].midx) tipRewritten = true;
  return { packs: candidates, split, tipRewritten };
}

/** git's compute_pack_geometry_split over ascending weights. */
export function geometrySplit(w: number[], factor: number): number {
  const n = w.length;
  if (!n) return 0;
  // the packs (largest first) that already form a progression
  let i = n - 1;
  for (; i > 0; i--) if (w[i] < factor * w[i - 1]) break;
  let split = i;
  if (split) split++;
  // the roll-up may then break the progression above it: absorb those packs too
  let total = 0;
  for (let k = 0; k < split; k++) total += w[k];
  for (let k = split; k < n; k++) {
    if (w[k] < factor * total) {
      split++;
      total += w[k];
    } else break;
  }
  return split;
}

/** A step of the planned chain: a MaintainStep before it is carried out (no checksums yet). */
export type ChainStep = MaintainStep;

/**
 * git's repack_make_midx_compaction_plan: the new chain, tip first. `fresh`
 * are the `.idx` names of the packs this run wrote (none when nothing was
 * packed).
 */
export function planChain(geometry: Geometry, layers: PlanLayer[], fresh: string[], midxSplitFactor: number): ChainStep[] {
  const steps: ChainStep[] = [];
  const write: Extract<ChainStep, { type: 'write' }> = { type: 'write', packs: [...fresh], objects: 0, absorbs: [] };
  let preferred: string | undefined;
  for (let i = 0; i < geometry.split; i++) write.objects += geometry.packs[i].objects;
  const last = geometry.packs.length - 1;
  for (let i = geometry.split; i < geometry.packs.length; i++) {
    const p = geometry.packs[i];
    // the tip's packs stay in the tip, unless the tip is rebuilt anyway
    if (p.midx && !geometry.tipRewritten) continue;
    write.packs.push(p.name);
    if (p.midx || i === last) preferred = p.name;
    write.objects += p.objects;
  }
  let m = layers.length - 1;
  if (geometry.tipRewritten) m--;
  for (; m >= 0; m--) {
    const layer = layers[m];
    if (write.objects < Math.floor(layer.objects / midxSplitFactor)) break;
    for (const name of layer.packs) {
      write.packs.push(name);
      if (layer.preferredPack === name) preferred = name;
    }
    write.objects += layer.objects;
    write.absorbs.push(layer.checksum);
  }
  if (preferred !== undefined) write.preferredPack = preferred;
  if (write.packs.length) steps.push(write);

  while (m >= 0) {
    let next = m;
    let objects = 0;
    for (;;) {
      const proposed = objects + layers[next].objects;
      if (next === 0) {
        objects = proposed;
        break;
      }
      if (proposed < Math.floor(layers[next - 1].objects / midxSplitFactor)) {
        // git leaves the count at what it was before this layer
        break;
      }
      objects = proposed;
      next--;
    }
    if (next === m) {
      steps.push({ type: 'copy', checksum: layers[m].checksum, objects: layers[m].objects });
    } else {
      const range: string[] = [];
      for (let k = m; k >= next; k--) range.push(layers[k].checksum);
      steps.push({ type: 'compact', from: layers[next].checksum, to: layers[m].checksum, layers: range, objects });
    }
    m = next - 1;
  }
  return steps;
}

/** The checksum a step below a WRITE step hands it as `--base` (git's midx_compaction_step_base). */
export function stepBase(step: ChainStep | undefined): string {
  if (!step) return 'none';
  if (step.type === 'copy') return step.checksum;
  if (step.type === 'compact') return step.to;
  throw new Error('a WRITE step cannot be a base');
}
