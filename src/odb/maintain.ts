/**
 * `odb.maintain()`: git 2.55's `git repack -d -l --geometric=<factor>
 * --write-midx=incremental`, carried out in an order that never loses an
 * object for a reader or for a process killed at any moment:
 *
 * 1. take the chain lock (`multi-pack-index.d/multi-pack-index-chain.lock`;
 *    LockError when held) and keep it to the end, so no writer appends a
 *    layer naming a pack this run is about to delete;
 * 2. plan (maintain-plan.ts) from the chain and the pack directory;
 * 3. write the new pack (the rolled-up packs' objects that no staying or
 *    .keep pack holds, plus the loose objects), entries copied, deltas reused:
 *    until step 5 it is just an unindexed pack;
 * 4. write the new layers beside the chain (`--no-write-chain-file`), each
 *    on the checksum of the step below it;
 * 5. replace the chain file atomically (temporary file, rename), then clear
 *    `.d` files the new chain does not name;
 * 6. delete the rolled-up packs, each only if no layer of the chain now on
 *    disk names it (a reader that had opened one keeps its handle; one that
 *    had not misses, refreshes and finds the object in the new chain), and
 *    the loose objects that a pack now holds.
 *
 * A kill before 5 leaves the old chain and some extra files (an unindexed
 * pack, unnamed layers: the next run packs or clears them); a kill after 5
 * leaves packs that the next run rolls up again. Only the lock stays behind,
 * as git's does.
 */

import { configBool, configGet } from '../config.js';
import { CorruptError, InvalidArgumentError } from '../errors.js';
import { isNotFound, join } from '../io/fs.js';
import { fromHex } from '../oid.js';
import type { PackIndex } from '../pack/idx.js';
import type { Pack } from '../pack/pack.js';
import { PackSources, writePackFromSources } from '../pack/write.js';
import { repackWriteInit } from './write-pack.js';
import type { MaintainOptions, MaintainResult, MaintainStep, Progress } from '../types.js';
import { type ChainStep, type GeometryPack, type MaintainSettings, planChain, planGeometry, type PlanLayer, stepBase } from './maintain-plan.js';
import { AbortGate, progressWith } from '../progress.js';
import { deletePack } from './expire.js';
import type { OdbInternals } from './odb.js';
import { clearFiles, MIDX_PREFIX, Paths } from './write-files.js';
import { closeState, firstPseudoPackSlot, loadState, type State } from './write-state.js';

const NEW_PACK = '(new pack)';

function intSetting(db: OdbInternals, given: number | undefined, key: string, flag: string, fallback: number, min: number): number {
  let v = given;
  if (v === undefined) {
    const s = configGet(db.config, key);
    if (s !== undefined) {
      v = Number(s.trim());
      if (!Number.isInteger(v)) throw new InvalidArgumentError(`bad numeric config value '${s}' for '${key}'`);
    }
  }
  if (v === undefined) v = fallback;
  if (!Number.isInteger(v) || v < min) throw new InvalidArgumentError(`invalid value for ${flag}: ${v}`);
  return v;
}

export function maintainSettings(db: OdbInternals, o: MaintainOptions): MaintainSettings {
  if (o.geometric !== undefined && (!Number.isInteger(o.geometric) || o.geometric < 2)) {
    // git accepts --geometric=1, which rolls up nothing useful; 0 disables geometry
    throw new InvalidArgumentError(`invalid value for --geometric: ${o.geometric}`);
  }
  return {
    factor: o.geometric ?? 2,
    midxSplitFactor: intSetting(db, o.midxSplitFactor, 'repack.midxSplitFactor', '--midx-split-factor', 2, 2),
    midxNewLayerThreshold: intSetting(db, o.midxNewLayerThreshold, 'repack.midxNewLayerThreshold', '--midx-new-layer-threshold', 8, 1),
  };
}

/** git's midx_preferred_pack: the pack of the layer's first object in pseudo-pack order. */
async function preferredPackOf(db: OdbInternals, paths: Paths, state: State, k: number): Promise<string | null> {
  const layer = state.layers[k];
  if (!layer.numObjects) return null;
  let objectsInBase = 0;
  for (let j = 0; j < k; j++) objectsInBase += state.layers[j].numObjects;
  await layer.loadTables();
  // OOFF holds local pack-int-ids; RIDX[0] is a global MIDX position
  const slot = await firstPseudoPackSlot(db, paths, state, layer);
  if (typeof slot === 'number' && slot >= objectsInBase && slot < objectsInBase + layer.numObjects) {
    return layer.packNames[layer.packIdAt(slot - objectsInBase)] ?? null;
  }
  // no reverse index: pseudo-pack order is pack-int-id order, so the lowest id that owns an object
  let best = Infinity;
  for (let i = 0; i < layer.numObjects && best > 0; i++) best = Math.min(best, layer.packIdAt(i));
  return layer.packNames[best] ?? null;
}

async function exists(db: OdbInternals, path: string): Promise<boolean> {
  return !!(await db.fs.stat(path));
}

interface Gathered {
  layers: PlanLayer[];
  packs: GeometryPack[];
  /** every listed pack by `.idx` name */
  byName: Map<string, Pack>;
}

async function gather(db: OdbInternals, paths: Paths, state: State, s: MaintainSettings): Promise<Gathered> {
  const backend = db.packBackend;
  const layers: PlanLayer[] = state.layers.map((l) => ({ checksum: l.checksumHex, objects: l.numObjects, packs: [...l.packNames] }));
  const named = new Set<string>();
  for (const l of layers) for (const n of l.packs) named.add(n);
  const tip = layers.length ? layers[layers.length - 1] : null;
  const tipCounts = !!tip && tip.packs.length >= s.midxNewLayerThreshold;
  const byName = new Map<string, Pack>();
  for (const p of [...backend.midxPacks, ...backend.packs]) byName.set(p.name, p);
  const names = [...byName.keys()].sort();
  const packs: GeometryPack[] = [];
  for (const name of names) {
    const midx = named.has(name);
    // only the packs the geometry can see need counting (older layers' never do)
    const base = join(db.packDir, name.slice(0, -4));
    if (midx && !(tipCounts && tip!.packs.includes(name))) {
      // .keep matters even here: --honor-pack-keep keeps their objects out of the new pack
      packs.push({ name, objects: 0, midx, keep: await exists(db, `${base}.keep`) });
      continue;
    }
    let objects: number;
    try {
      objects = (await byName.get(name)!.loadIndex()).count;
    } catch (err) {
      if (isNotFound(err)) continue;
      throw err;
    }
    packs.push({
      name,
      objects,
      midx,
      keep: await exists(db, `${base}.keep`),
      cruft: await exists(db, `${base}.mtimes`),
      promisor: await exists(db, `${base}.promisor`),
    });
  }
  return { layers, packs, byName };
}

/** The objects of the new pack: `--stdin-packs` (rolled up minus staying and .keep packs) and `--unpacked`. */
async function collectObjects(db: OdbInternals, g: Gathered, rollup: string[], stay: string[], packLoose: boolean): Promise<{ src: PackSources; loose: number }> {
  const H = db.hash.rawLength;
  const excluded: PackIndex[] = [];
  const keepNames = g.packs.filter((p) => p.keep).map((p) => p.name);
  for (const name of new Set([...stay, ...keepNames])) {
    const p = g.byName.get(name);
    if (p) excluded.push(await p.loadIndex());
  }
  const held = (oid: Uint8Array): boolean => excluded.some((idx) => idx.find(oid) >= 0);
  const src = new PackSources(H);
  for (const name of rollup) {
    const pack = g.byName.get(name)!;
    const idx = await pack.loadIndex();
    for (let i = 0; i < idx.count; i++) {
      const oid = idx.oidBytes(i);
      if (!held(oid)) src.add(oid, pack, idx.offsetAt(i));
    }
  }
  let loose = 0;
  if (packLoose) {
    for await (const hex of db.loose.list()) {
      const oid = fromHex(hex);
      if (held(oid)) continue;
      src.add(oid, null);
      loose++;
    }
  }
  const unique = src.unique();
  // loose objects also found in a rolled-up pack are copied from the pack
  return { src: unique, loose: Math.min(loose, unique.count) };
}

/**
 * Deletes the given packs (`.idx` names) that no layer of the chain now on
 * disk names, with expire's deletePack (git's unlink_pack_path order, .idx
 * first; a pack with a .keep stays), and resolves to the names deleted.
 */
export async function deleteUnnamedPacks(db: OdbInternals, names: string[]): Promise<string[]> {
  const state = await loadState(db);
  const named = new Set<string>();
  try {
    for (const l of state.layers) for (const n of l.packNames) named.add(n);
  } finally {
    await closeState(state);
  }
  const deleted: string[] = [];
  for (const name of names) {
    if (named.has(name)) continue;
    if (await exists(db, join(db.packDir, name.replace(/\.idx$/, '.keep')))) continue;
    await deletePack(db, name);
    deleted.push(name);
  }
  return deleted;
}

/** git's prune_packed_objects: loose objects a pack holds are removed. */
async function prunePacked(db: OdbInternals): Promise<number> {
  let n = 0;
  const hexes: string[] = [];
  for await (const hex of db.loose.list()) hexes.push(hex);
  for (const hex of hexes) {
    if (!(await db.packBackend.locate(fromHex(hex)))) continue;
    try {
      await db.fs.unlink(db.loose.pathOf(hex));
      n++;
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
  if (n) db.loose.forgetListings();
  return n;
}

function toResultStep(s: ChainStep, fresh: string[], shown: string[]): MaintainStep {
  if (s.type !== 'write') return { ...s };
  const packs = s.packs.map((n) => (fresh.includes(n) ? shown[fresh.indexOf(n)] : n));
  return { type: 'write', packs, ...(s.preferredPack !== undefined ? { preferredPack: s.preferredPack } : {}), objects: s.objects, absorbs: s.absorbs };
}

/** The geometry of a layers-only run: nothing rolled up; unindexed packs still join the new tip, as git's WRITE step takes them. */
function layersOnly(packs: GeometryPack[]): ReturnType<typeof planGeometry> {
  const stay = packs.filter((p) => !p.midx && !p.keep && !p.cruft && !p.promisor).sort((a, b) => a.objects - b.objects);
  return { packs: stay, split: 0, tipRewritten: false };
}

export async function maintain(db: OdbInternals, options: MaintainOptions = {}): Promise<MaintainResult> {
  if (options === null || typeof options !== 'object') throw new InvalidArgumentError('maintain: options must be an object');
  const s = maintainSettings(db, options);
  const packsToo = options.packs ?? true;
  const dryRun = !!options.dryRun;
  const bitmap = options.bitmap ?? configBool(db.config, 'repack.writeBitmaps', false);
  const fs = db.fs;
  const paths = new Paths(db.packDir);
  // the signal counts until the first file is written; after that the run completes
  const gate = new AbortGate(options.signal);
  gate.check();
  const progress = progressWith(options, gate);
  const lockPath = `${paths.chain}.lock`;
  let locked = false;
  let state: State | null = null;
  try {
    if (!dryRun) {
      await fs.mkdir(db.packDir);
      await fs.mkdir(paths.dir);
      await fs.createExclusive(lockPath);
      locked = true;
    }
    await db.refresh();
    await db.packBackend.ready();
    state = await loadState(db);
    if (state.tip && !state.tipValid) throw new CorruptError(state.tip.file, 'multi-pack-index checksum mismatch; run verify before maintenance');
    const g = await gather(db, paths, state, s);

    const geometry = packsToo ? planGeometry(g.packs, g.layers, s) : layersOnly(g.packs);
    const rollup = geometry.packs.slice(0, geometry.split).map((p) => p.name);
    const stay = geometry.packs.slice(geometry.split).map((p) => p.name);
    const packLoose = packsToo && (options.loose ?? true);
    const { src, loose } = packsToo ? await collectObjects(db, g, rollup, stay, packLoose) : { src: new PackSources(db.hash.rawLength, 1), loose: 0 };

    // the preferred packs of the layers a new tip would absorb (only those matter, and finding one may read a whole layer)
    const absorbed = planChain(geometry, g.layers, src.count ? [NEW_PACK] : [], s.midxSplitFactor).flatMap((st) => (st.type === 'write' ? st.absorbs : []));
    for (let k = 0; k < g.layers.length; k++) if (absorbed.includes(g.layers[k].checksum)) g.layers[k].preferredPack = await preferredPackOf(db, paths, state, k);

    const result: MaintainResult = {
      dryRun,
      rolledUp: rollup,
      pack: null,
      packObjects: src.count,
      looseObjects: loose,
      steps: [],
      chain: [],
      deletedPacks: [],
      prunedLoose: 0,
      converted: false,
      changed: false,
    };

    gate.check();
    if (dryRun) {
      const fresh = src.count ? [NEW_PACK] : [];
      result.steps = planChain(geometry, g.layers, fresh, s.midxSplitFactor).map((st) => toResultStep(st, fresh, fresh));
      result.deletedPacks = rollup.filter((n) => !g.packs.find((p) => p.name === n)?.keep);
      return result;
    }

    gate.commit();
    const fresh: string[] = [];
    if (src.count) {
      result.pack = await writePackFromSources(repackWriteInit(db, progress), src);
      fresh.push(`${result.pack.name}.idx`);
      result.changed = true;
      await db.refresh();
    }

    const steps = planChain(geometry, g.layers, fresh, s.midxSplitFactor);
    result.steps = steps.map((st) => toResultStep(st, fresh, fresh));
    const chain = await runChainSteps(db, paths, steps, result.steps, { bitmap, progress });
    result.chain = chain;
    if (await installChain(db, paths, state, chain)) {
      result.changed = true;
      if (state.source === 'single') result.converted = true;
    }
    await closeState(state);
    state = null;
    await db.refresh();

    // only now may packs go: the chain on disk no longer names them
    const deletable = rollup.filter((n) => !fresh.includes(n));
    result.deletedPacks = await deleteUnnamedPacks(db, deletable);
    if (result.deletedPacks.length) result.changed = true;
    if (packLoose) {
      await db.refresh();
      result.prunedLoose = await prunePacked(db);
      if (result.prunedLoose) result.changed = true;
    }
    await db.refresh();
    return result;
  } finally {
    if (state) await closeState(state);
    if (locked) await fs.remove(lockPath).catch(() => {});
  }
}

/**
 * The planned steps, tip first: a layer kept as it is, a range compacted, or
 * packs written as a new layer on the next step's result. Each step's
 * checksum goes into its result step; resolves to the new chain, root first.
 */
async function runChainSteps(db: OdbInternals, paths: Paths, steps: ChainStep[], shown: MaintainStep[], o: { bitmap: boolean; progress: Progress | undefined }): Promise<string[]> {
  const { bitmap, progress } = o;
  const sums: string[] = [];
  for (let i = 0; i < steps.length; i++) {
    const st = steps[i];
    const base = stepBase(steps[i + 1]);
    let hex: string | null;
    if (st.type === 'copy') hex = st.checksum;
    else if (st.type === 'compact') {
      hex = await db.odb.compactMidx({ from: st.from, to: st.to, incremental: true, writeChainFile: false, bitmap, progress });
    } else {
      hex = await db.odb.writeMidx({ incremental: true, writeChainFile: false, bitmap, base, stdinPacks: st.packs, preferredPack: st.preferredPack, progress });
    }
    if (!hex) throw new CorruptError(paths.dir, `maintenance step ${i} (${st.type}) wrote no layer`);
    (shown[i] as { checksum?: string }).checksum = hex;
    sums.push(hex);
  }
  return sums.reverse();
}

/**
 * Makes `chain` the repository's MIDX, unless it is the chain already: a
 * non-incremental MIDX kept as a layer first becomes the chain's root under
 * its own name, then the chain file is replaced and (coming from a single
 * MIDX) the old file and its companions go. Resolves true when it changed.
 */
async function installChain(db: OdbInternals, paths: Paths, state: State, chain: string[]): Promise<boolean> {
  const fs = db.fs;
  const oldChain = state.source === 'chain' ? state.layers.map((l) => l.checksumHex) : null;
  if (oldChain !== null && oldChain.length === chain.length && oldChain.every((h, i) => h === chain[i])) return false;
  if (state.source === 'single') {
    const hex = state.layers[0].checksumHex;
    if (chain.includes(hex)) {
      for (const ext of ['midx', 'rev', 'bitmap']) {
        const to = paths.file(hex, ext, true);
        if (await exists(db, to)) continue;
        const from = ext === 'midx' ? paths.midx : paths.file(hex, ext, false);
        try {
          await fs.linkOrCopy(from, to);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
      }
    }
  }
  await commitChain(db, paths, chain);
  if (state.source === 'single') {
    await fs.remove(paths.midx).catch(() => {});
    await clearFiles(db, db.packDir, ['bitmap', 'rev'], () => false);
  }
  return true;
}

/** Replaces the chain file (a temporary file renamed over it), then clears `.d` files it does not name. */
async function commitChain(db: OdbInternals, paths: Paths, chain: string[]): Promise<void> {
  const tmp = join(paths.dir, `tmp_chain_${Math.random().toString(36).slice(2, 10)}`);
  await db.fs.writeFile(tmp, chain.map((h) => `${h}\n`).join(''));
  try {
    await db.fs.rename(tmp, paths.chain);
  } catch (err) {
    await db.fs.remove(tmp).catch(() => {});
    throw err;
  }
  const keep = new Set<string>();
  for (const h of chain) for (const ext of ['midx', 'rev', 'bitmap']) keep.add(`${MIDX_PREFIX}${h}.${ext}`);
  await clearFiles(db, paths.dir, ['midx', 'rev', 'bitmap'], (n) => keep.has(n));
}
