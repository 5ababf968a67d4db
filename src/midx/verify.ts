/**
 * `git multi-pack-index verify` (spec 5.1), in git's order and with git's
 * messages, run on every layer of the MIDX rather than on the tip only.
 *
 * git 2.55 checks the checksum, emptiness and OID order of the tip layer only
 * (its OID-order loop walks the layers but keeps testing the tip; Appendix
 * A.5), while its offset pass covers every object of every layer. Here the
 * checksum and OID order of every layer are checked too; each problem names
 * its layer and says whether git itself would report it, and the result gives
 * both our exit status and git's. `gitOnly` runs exactly git's checks.
 *
 * Like git, this reads MIDX files and `.idx` files only: a pack is "opened"
 * (the `.pack` exists, its header and trailer agree with the `.idx`), never
 * read. The MIDX is loaded afresh with git's rules (chain.ts), independently
 * of what the object database has loaded.
 */

import type { Fs } from '../io/fs.js';
import { join } from '../io/fs.js';
import { compareOid, fanoutSearch, type HashInfo, toHex } from '../oid.js';
import type { PackIndex } from '../pack/idx.js';
import { Pack, type PackContext } from '../pack/pack.js';
import type { Progress, ProgressMeter, VerifyOptions, VerifyProblem, VerifyResult } from '../types.js';
import { type Codec, fileTrailerMatches, trailerMatches } from '../zlib/index.js';
import { loadMidx, MIDX_NAME, type MidxWarning } from './chain.js';
import { CHUNK_LOFF, CHUNK_OIDL, CHUNK_OOFF, gitToc, MIDX_HEADER_SIZE, TOC_ENTRY_SIZE } from './chunks.js';
import { verifyBitmaps } from './bitmap/verify.js';
import type { MidxFile } from './read.js';

export type { VerifyOptions, VerifyProblem, VerifyResult } from '../types.js';

export interface VerifyContext {
  fs: Fs;
  packDir: string;
  hash: HashInfo;
  codec: Codec;
  /** for opening packs (their `.idx` and `.pack` header/trailer); no object is read */
  packContext: PackContext;
}

/** Fatal errors that git announces with an `error:` line first (the chunk readers, then `die`). */
const DIES_AFTER_ERROR: Array<[RegExp, string]> = [
  [/^multi-pack-index OID fanout is of the wrong size$/, 'multi-pack-index required OID fanout chunk missing or corrupted'],
  [/^oid fanout out of order: /, 'multi-pack-index required OID fanout chunk missing or corrupted'],
  [/^multi-pack-index OID lookup chunk is the wrong size$/, 'multi-pack-index required OID lookup chunk missing or corrupted'],
  [/^multi-pack-index object offset chunk is the wrong size$/, 'multi-pack-index required object offsets chunk missing or corrupted'],
];

/** Non-fatal load errors in git's words (the reader's own stricter checks say other things). */
const GIT_LOAD_ERRORS = [
  /^multi-pack-index file .* is too small$/s,
  /^multi-pack-index hash version \d+ does not match version \d+$/,
  /^terminating chunk id appears earlier than expected$/,
  /^chunk id [0-9a-f]+ not 4-byte aligned$/,
  /^improper chunk offset\(s\) [0-9a-f]+ and [0-9a-f]+$/,
  /^duplicate chunk ID [0-9a-f]+ found$/,
  /^final chunk has non-zero id [0-9a-f]+$/,
];

/** Warnings git prints while reading a chain. */
const GIT_CHAIN_WARNINGS = [
  /^multi-pack-index chain file too small$/,
  /^invalid multi-pack-index chain: line '.*' not a hash$/s,
  /^unable to find all multi-pack index files$/,
  /^(pack|object) count in base MIDX too high: \d+$/,
];

/** git dies here: the verification stops. */
class Die {
  constructor(
    readonly message: string,
    readonly where: Where,
  ) {}
}

interface Where {
  file?: string;
  layer?: string;
  /** git would print this */
  git: boolean;
  detail?: string;
}

/** The problems found so far, and the exit statuses they imply. */
class Report {
  readonly problems: VerifyProblem[] = [];
  private fails = false;
  private gitFails = false;
  private fatal = false;
  private gitFatal = false;

  /**
   * `fails`: the line makes verify exit 1 (verify's own reports and "exists,
   * but failed to parse"; not the load errors git prints before falling back).
   * `bare`: git prints it without a prefix (verify's own reports).
   */
  add(level: VerifyProblem['level'], message: string, where: Where, fails: boolean, bare = false): void {
    const p: VerifyProblem = { level, message, stderr: bare ? message : `${level}: ${message}`, git: where.git };
    if (where.file !== undefined) p.file = where.file;
    if (where.layer !== undefined) p.layer = where.layer;
    if (where.detail !== undefined) p.detail = where.detail;
    this.problems.push(p);
    if (level === 'fatal') {
      this.fatal = true;
      if (where.git) this.gitFatal = true;
    } else if (fails) {
      this.fails = true;
      if (where.git) this.gitFails = true;
    }
  }

  /** verify's own report (git's `midx_report`: unprefixed on stderr, exit 1) */
  report(message: string, where: Where): void {
    this.add('error', message, where, true, true);
  }

  die(d: Die): void {
    this.add('fatal', d.message, d.where, true);
  }

  result(source: VerifyResult['source'], layers: string[]): VerifyResult {
    const exitCode = this.fatal ? 128 : this.fails ? 1 : 0;
    const gitExitCode = this.gitFatal ? 128 : this.gitFails ? 1 : 0;
    return { ok: exitCode === 0, exitCode, gitExitCode, source, layers, problems: this.problems };
  }
}

/** One loaded layer with its tables, as verify reads them (raw, as git does). */
interface Layer {
  midx: MidxFile;
  name: string;
  bytes: Uint8Array;
  oidl: Uint8Array;
  ooff: DataView;
  /** present (possibly empty) when the file has a LOFF chunk */
  loff: DataView | null;
  n: number;
  nBase: number;
  p: number;
  pBase: number;
}

/** The checksum naming a layer: a chain layer's file name, a non-incremental MIDX's trailer. */
function layerName(file: string, trailerHex?: string): string | undefined {
  const m = /multi-pack-index-([0-9a-fA-F]+)\.midx$/.exec(file);
  return m ? m[1].toLowerCase() : trailerHex;
}

async function prepareLayer(midx: MidxFile): Promise<Layer> {
  const r = midx.readAll();
  const bytes = r instanceof Promise ? await r : r;
  const view = (id: number) => {
    const c = midx.chunks.get(id)!;
    return new DataView(bytes.buffer, bytes.byteOffset + c.offset, c.size);
  };
  const oidl = midx.chunks.get(CHUNK_OIDL)!;
  return {
    midx,
    name: layerName(midx.file, midx.checksumHex)!,
    bytes,
    oidl: bytes.subarray(oidl.offset, oidl.offset + oidl.size),
    ooff: view(CHUNK_OOFF),
    loff: midx.chunks.has(CHUNK_LOFF) ? view(CHUNK_LOFF) : null,
    n: midx.numObjects,
    nBase: midx.numObjectsInBase,
    p: midx.numPacks,
    pBase: midx.numPacksInBase,
  };
}

/**
 * git's `read_table_of_contents` alone (spec 2.3), with 64-bit offsets kept
 * exact: the message git prints for this file's ToC, or null when git finds
 * nothing wrong with it. Used when the reader's stricter checks refused a file
 * before git's own checks had their say.
 */
async function gitTocMessage(fs: Fs, file: string, H: number): Promise<string | null> {
  let f;
  try {
    f = await fs.open(file);
  } catch {
    return null;
  }
  try {
    const size = f.size;
    if (size < MIDX_HEADER_SIZE + H) return null;
    const r = f.read(0, Math.min(size, MIDX_HEADER_SIZE + TOC_ENTRY_SIZE * 256));
    const head = r instanceof Promise ? await r : r;
    const toc = gitToc(head.subarray(MIDX_HEADER_SIZE), head[6], size, H);
    return typeof toc === 'string' ? toc : null;
  } finally {
    await f.close();
  }
}

/** git's `bsearch_hash` over one layer: the same probes, so the same answer on a corrupt table. Local position or -1. */
function bsearchLayer(layer: Layer, oid: Uint8Array, oidOff: number, H: number): number {
  return fanoutSearch(layer.midx.fanout, layer.oidl, 0, H, oid, oidOff, H);
}

/**
 * git's `nth_midxed_offset` for a local position (dies on a large-offset index
 * out of range): a number, or a bigint for a LOFF value (u64, kept exact).
 */
function midxOffset(layer: Layer, local: number, where: () => Where): number | bigint {
  const field = layer.ooff.getUint32(local * 8 + 4);
  if (layer.loff && field & 0x80000000) {
    const k = field & 0x7fffffff;
    if (k >= Math.floor(layer.loff.byteLength / 8)) throw new Die('multi-pack-index large offset out of bounds', where());
    return layer.loff.getBigUint64(k * 8);
  }
  return field;
}

/** Bytes of `.idx` files kept loaded during the offset pass. */
const INDEX_BUDGET = 64 * 1024 * 1024;

/** git's pack open (spec 1.1): the `.idx` loads, then the `.pack` header and trailer agree with it. The error, or null. */
async function openLikeGit(pack: Pack): Promise<Error | null> {
  try {
    await pack.loadIndex();
  } catch (err) {
    return new Error(`packfile ${pack.packPath} index unavailable: ${(err as Error).message}`);
  }
  try {
    await pack.open();
    return null;
  } catch (err) {
    return err instanceof Error ? err : new Error(String(err));
  }
}

/**
 * The packs opened by the offset pass, by global pack-int-id; the least
 * recently used are closed beyond a budget of `.idx` bytes. git closes the
 * previous pack whenever the pack-int-id changes, but in a chain its sort
 * covers only the first (tip-count) objects and the rest alternate between
 * packs: reopening would re-read a whole `.idx` per object.
 */
class OpenPacks {
  private entries = new Map<number, { pack: Pack; opened: Promise<Error | null>; bytes: number }>();
  private bytes = 0;

  constructor(
    private readonly ctx: PackContext,
    private readonly packDir: string,
  ) {}

  async get(id: number, name: string): Promise<{ pack: Pack; error: Error | null }> {
    let e = this.entries.get(id);
    if (e) this.entries.delete(id);
    else {
      const pack = new Pack(this.ctx, this.packDir, name);
      e = { pack, opened: openLikeGit(pack), bytes: 0 };
    }
    this.entries.set(id, e);
    const error = await e.opened;
    if (!e.bytes && e.pack.loadedIndex) {
      e.bytes = e.pack.loadedIndex.data.length;
      this.bytes += e.bytes;
      for (const [other, o] of this.entries) {
        if (this.bytes <= INDEX_BUDGET) break;
        if (other === id) continue;
        this.entries.delete(other);
        this.bytes -= o.bytes;
        await o.pack.close();
      }
    }
    return { pack: e.pack, error };
  }

  async close(): Promise<void> {
    for (const e of this.entries.values()) await e.pack.close();
    this.entries.clear();
    this.bytes = 0;
  }
}

/**
 * Runs git's verify checks on the MIDX of `ctx.packDir`: load (git's fatal
 * and non-fatal load errors, chain warnings), checksum, packs, emptiness, OID
 * order, object offsets.
 */
export async function verifyMidx(ctx: VerifyContext, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { fs, packDir, hash } = ctx;
  const H = hash.rawLength;
  const gitOnly = !!options.gitOnly;
  const report = new Report();

  // 1. load, as git does: multi-pack-index first, else the chain
  const warnings: MidxWarning[] = [];
  const loaded = await loadMidx(fs, packDir, hash, (w) => warnings.push(w));
  const closeAll = async () => {
    for (const l of loaded.layers) await l.close();
  };
  for (const w of warnings) {
    const where: Where = { file: w.file, layer: layerName(w.file), git: true };
    if (w.fatal === true) {
      // git dies on the first one; what loadMidx did after it (the chain) never happens
      const pre = DIES_AFTER_ERROR.find(([re]) => re.test(w.reason));
      if (pre) report.add('error', w.reason, where, false);
      report.die(new Die(pre ? pre[1] : w.reason, where));
      await closeAll();
      return report.result(loaded.source, []);
    }
    if (w.fatal === false) {
      // MidxFile.open's non-fatal errors: git prints them and ignores the file. When the
      // reader's stricter checks (ToC bounds, first-chunk overlap) spoke first, say what
      // git's ToC reader says, if anything: otherwise git would have used the file
      let message = w.reason;
      if (!GIT_LOAD_ERRORS.some((re) => re.test(message))) {
        const git = await gitTocMessage(fs, w.file, H);
        if (git) message = git;
        else where.git = false;
      }
      if (message !== w.reason) where.detail = w.reason;
      report.add('error', message, where, false);
      // bytes after the last chunk: git does not look there, loads the file, and
      // finds the checksum wrong (what was appended is not in the hash)
      // (more than 64 MiB after the chunks is not hashed: taken as appended garbage)
      const extra = /^multi-pack-index chunks end at \d+, but the file has (\d+) more bytes/.exec(w.reason);
      if (extra && (Number(extra[1]) > APPENDED_HASH_LIMIT || !(await fileChecksumMatches(fs, w.file, hash, ctx.codec)))) {
        const detail = Number(extra[1]) > APPENDED_HASH_LIMIT ? `${w.reason} (not hashed: taken as bytes appended to the file)` : w.reason;
        report.report('incorrect checksum', { file: w.file, git: true, detail });
      }
      continue;
    }
    where.git = GIT_CHAIN_WARNINGS.some((re) => re.test(w.reason));
    report.add('warning', w.reason, where, false);
  }
  if (!loaded.layers.length) {
    const single = join(packDir, MIDX_NAME);
    // when only the reader's stricter checks refused the file, git would have verified it instead
    const git = !report.problems.some((p) => p.file === single && !p.git);
    if (await fs.stat(single)) report.add('error', 'multi-pack-index file exists, but failed to parse', { file: single, git }, true);
    return report.result('none', []);
  }

  const layers: Layer[] = [];
  try {
    for (const m of loaded.layers) layers.push(await prepareLayer(m));
    await checkLayers(ctx, layers, report, gitOnly, options.progress);
    // the layers' .bitmap files: beyond git's verify
    if (!gitOnly) {
      for (const p of await verifyBitmaps(fs, packDir, hash, ctx.codec, loaded.layers, loaded.source === 'chain')) {
        report.report(p.message, { file: p.file, layer: p.layer, git: false });
      }
    }
  } catch (err) {
    if (!(err instanceof Die)) {
      await closeAll();
      throw err;
    }
    report.die(err);
  }
  await closeAll();
  return report.result(loaded.source, layers.map((l) => l.name));
}

/** Most bytes after a MIDX's last chunk that verify hashes to tell whether git would find the checksum good. */
const APPENDED_HASH_LIMIT = 64 * 1024 * 1024;

/** Whether a file's trailing checksum matches its bytes (false when it cannot be read). */
async function fileChecksumMatches(fs: Fs, file: string, hash: HashInfo, codec: Codec): Promise<boolean> {
  let f;
  try {
    f = await fs.open(file);
  } catch {
    return false;
  }
  try {
    return await fileTrailerMatches(codec, hash.algorithm, f, hash.rawLength);
  } finally {
    await f.close();
  }
}

const NO_METER = { update() {}, stop() {} };

/** What the layer checks share: the layers bottom first, where findings go, and how to count. */
interface LayerChecks {
  ctx: VerifyContext;
  layers: Layer[];
  report: Report;
  gitOnly: boolean;
  meter(title: string, total: number): ProgressMeter;
  H: number;
  tip: Layer;
  totalPacks: number;
  totalObjects: number;
  at(l: Layer, git: boolean): Where;
  layerOfPack(id: number): Layer;
  layerOfObject(pos: number): Layer;
}

async function checkLayers(ctx: VerifyContext, layers: Layer[], report: Report, gitOnly: boolean, progress?: Progress): Promise<void> {
  const tip = layers[layers.length - 1];
  const c: LayerChecks = {
    ctx, layers, report, gitOnly,
    meter: (title, total) => progress?.start(title, total) ?? NO_METER,
    H: ctx.hash.rawLength,
    tip,
    totalPacks: tip.pBase + tip.p,
    totalObjects: tip.nBase + tip.n,
    at: (l, git) => ({ file: l.midx.file, layer: l.name, git }),
    layerOfPack(id) {
      let k = layers.length - 1;
      while (k > 0 && id < layers[k].pBase) k--;
      return layers[k];
    },
    layerOfObject(pos) {
      let k = layers.length - 1;
      while (k > 0 && pos < layers[k].nBase) k--;
      return layers[k];
    },
  };
  await checkChecksums(c);
  const packMissing = await checkPacks(c);
  // 4. empty: git stops here when the tip has no object; the checks below go on past it unless gitOnly
  let beyondGit = false;
  if (tip.n === 0) {
    report.report('the midx contains no oid', c.at(tip, true));
    if (gitOnly) return;
    beyondGit = true;
  }
  checkOidOrder(c, beyondGit);
  await checkOffsets(c, packMissing, beyondGit);
}

/** 2. checksum: git checks the tip; lower layers too unless gitOnly. */
async function checkChecksums(c: LayerChecks): Promise<void> {
  const { layers, gitOnly, tip, report, H, ctx } = c;
  for (let k = layers.length - 1; k >= 0; k--) {
    const l = layers[k];
    if (gitOnly && l !== tip) break;
    if (!(await trailerMatches(ctx.codec, ctx.hash.algorithm, l.bytes, H))) report.report('incorrect checksum', c.at(l, l === tip));
  }
}

/** 3. packs: git's prepare_midx_pack needs a `.idx` name and a regular `.pack` beside it. Returns which pack ids are missing. */
async function checkPacks(c: LayerChecks): Promise<Uint8Array> {
  const { totalPacks, report } = c;
  const { fs, packDir } = c.ctx;
  const packMissing = new Uint8Array(totalPacks);
  const packMeter = c.meter('Looking for referenced packfiles', totalPacks);
  for (let id = 0; id < totalPacks; id++) {
    packMeter.update(id + 1);
    const l = c.layerOfPack(id);
    const name = l.midx.packNames[id - l.pBase];
    const packPath = join(packDir, name.replace(/\.idx$/, '') + '.pack');
    const st = name.endsWith('.idx') ? await fs.stat(packPath) : null;
    if (!st || !st.isFile) {
      packMissing[id] = 1;
      const detail = name.endsWith('.idx') ? `${packPath} is not a file` : `pack name '${name}' does not end in .idx`;
      report.report(`failed to load pack in position ${id}`, { file: packPath, layer: l.name, git: true, detail });
    }
  }
  packMeter.stop();
  return packMissing;
}

/** 5. OID order: git runs its loop once per layer, on the tip each time; here each layer once (gitOnly: as git). */
function checkOidOrder(c: LayerChecks, beyondGit: boolean): void {
  const { layers, tip, report, H, gitOnly } = c;
  const orderOf = (l: Layer, git: boolean) => {
    for (let i = 0; i + 1 < l.n; i++) {
      if (compareOid(l.oidl, i * H, l.oidl, (i + 1) * H, H) >= 0) {
        report.report(`oid lookup out of order: oid[${i}] = ${toHex(l.oidl, i * H, H)} >= ${toHex(l.oidl, (i + 1) * H, H)} = oid[${i + 1}]`, c.at(l, git));
      }
    }
  };
  // git's sparse meters: an update every 4096 objects, then the total when they stop
  const orderTotal = Math.max(0, tip.n - 1);
  const orderMeter = c.meter('Verifying OID order in multi-pack-index', orderTotal);
  for (let n = 4096; n <= orderTotal; n += 4096) orderMeter.update(n);
  orderMeter.update(orderTotal);
  if (gitOnly) {
    for (let k = 0; k < layers.length; k++) orderOf(tip, true);
  } else {
    for (let k = layers.length - 1; k >= 0; k--) orderOf(layers[k], layers[k] === tip && !beyondGit);
  }
  orderMeter.stop();
}

/** 6. offsets: every object of every layer, grouped by pack as git sorts them, against its pack's `.idx`. */
async function checkOffsets(c: LayerChecks, packMissing: Uint8Array, beyondGit: boolean): Promise<void> {
  const { ctx, layers, report, H, tip, totalPacks, totalObjects } = c;
  const { packDir } = ctx;
  const at = c.at;
  const layerOfPack = c.layerOfPack;
  const layerOfObject = c.layerOfObject;
  const meter = c.meter;
  const packIds = new Uint32Array(totalObjects);
  for (const l of layers) for (let i = 0; i < l.n; i++) packIds[l.nBase + i] = (l.pBase + l.ooff.getUint32(i * 8)) >>> 0;
  const order = new Uint32Array(totalObjects);
  for (let i = 0; i < totalObjects; i++) order[i] = i;
  // git's QSORT covers only the first `tip.n` pairs (descending pack-int-id,
  // its comparator subtracts u32s into an int); the rest keep position order
  const sortMeter = meter('Sorting objects by packfile', tip.n);
  sortMeter.update(0);
  order.subarray(0, Math.min(tip.n, totalObjects)).sort((a, b) => (packIds[b] - packIds[a]) | 0 || a - b);
  sortMeter.update(tip.n);
  sortMeter.stop();
  // git's total (and final count) is the tip's object count, even over a chain
  const offsetMeter = meter('Verifying object offsets', tip.n);

  const packs = new OpenPacks(ctx.packContext, packDir);
  const badPackId = (id: number, where: Where) => new Die(`bad pack-int-id: ${id} (${totalPacks} total packs)`, where);
  // the pack of the previous object: most objects reuse it (no await per object)
  let cur: { id: number; pack: Pack; error: Error | null; idx: PackIndex | null } | null = null;
  try {
    for (let i = 0; i < totalObjects; i++) {
      if (((i + 1) & 4095) === 0) offsetMeter.update(i + 1);
      const pos = order[i];
      const l = layerOfObject(pos);
      const oidAt = (pos - l.nBase) * H;
      const where = () => at(l, !beyondGit);
      const oidHex = () => toHex(l.oidl, oidAt, H);
      const entryFailed = (detail: string) => report.report(`failed to load pack entry for oid[${pos}] = ${oidHex()}`, { ...where(), detail });
      if (i > 0 && packIds[order[i - 1]] !== packIds[pos]) {
        // git closes the previous group's pack here, resolving its id first (which dies when out of range)
        const prev = packIds[order[i - 1]];
        if (prev >= totalPacks) throw badPackId(prev, where());
      }
      // fill_midx_entry: look the OID up again, tip first
      let found: Layer | null = null;
      let foundAt = -1;
      for (let k = layers.length - 1; k >= 0 && !found; k--) {
        foundAt = bsearchLayer(layers[k], l.oidl, oidAt, H);
        if (foundAt >= 0) found = layers[k];
      }
      if (!found) {
        entryFailed('the object is not found by a lookup through the MIDX (its fanout or OID order is wrong)');
        continue;
      }
      const id = (found.pBase + found.ooff.getUint32(foundAt * 8)) >>> 0;
      if (id >= totalPacks) throw badPackId(id, where());
      if (packMissing[id]) {
        entryFailed(`its pack (position ${id}) cannot be loaded`);
        continue;
      }
      if (!cur || cur.id !== id) {
        const pl = layerOfPack(id);
        const o = await packs.get(id, pl.midx.packNames[id - pl.pBase]);
        cur = { id, pack: o.pack, error: o.error, idx: o.pack.loadedIndex };
      }
      if (cur.error) {
        entryFailed(cur.error.message);
        continue;
      }
      const mOffset = midxOffset(found, foundAt, where);
      let idx = cur.idx;
      if (!idx) {
        try {
          idx = cur.idx = await cur.pack.loadIndex();
        } catch (err) {
          report.report(`failed to load pack-index for packfile ${cur.pack.packPath}`, { ...where(), file: cur.pack.packPath, detail: (err as Error).message });
          break;
        }
      }
      // find_pack_entry_one: the .idx offset, 0 when the pack does not have the object
      const p = idx.find(l.oidl, oidAt);
      let pOffset = 0;
      if (p >= 0) {
        try {
          pOffset = idx.offsetAt(p);
        } catch (err) {
          throw new Die(`offset beyond end of pack index for ${cur.pack.packPath} (truncated index?)`, { ...where(), detail: (err as Error).message });
        }
      }
      if (typeof mOffset === 'bigint' ? mOffset !== BigInt(pOffset) : mOffset !== pOffset) {
        report.report(`incorrect object offset for oid[${pos}] = ${oidHex()}: ${mOffset.toString(16)} != ${pOffset.toString(16)}`, where());
      }
    }
    offsetMeter.update(tip.n);
  } finally {
    offsetMeter.stop();
    await packs.close();
  }
}
