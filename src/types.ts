/** Public types of the object database. */

import type { HashAlgorithm } from './oid.js';
import type { ProgressOptions } from './progress.js';

export type ObjectType = 'commit' | 'tree' | 'blob' | 'tag';

export interface GitObject {
  type: ObjectType;
  /** the object's content (no "<type> <size>\0" header) */
  data: Uint8Array;
}

export interface ObjectHeader {
  type: ObjectType;
  /** size of the content in bytes */
  size: number;
}

/** Something went wrong that the database recovered from (a MIDX layer dropped, a pack skipped...). */
export interface OdbWarning {
  /** the file concerned */
  file: string;
  /** what was wrong, in git's words where git has words for it */
  reason: string;
}

export interface OpenOdbOptions {
  /** any fs client isomorphic-git accepts: node fs, fs.promises, memfs, LightningFS... */
  fs: unknown;
  /** the git directory (`.git`, or a bare repository) */
  gitdir: string;
  /**
   * the object directory to serve (default `<gitdir>/objects`): any directory of
   * packs and loose objects, e.g. an alternate's or another repository's, as
   * git's `multi-pack-index --object-dir`. Configuration is still read from `gitdir`.
   */
  objectsDir?: string;
  /** told about every recovered problem; by default they are ignored */
  onWarning?: (warning: OdbWarning) => void;
  /** byte budget of the delta-base cache (default 96 MiB) */
  deltaBaseCacheBytes?: number;
  /**
   * byte budget of pack windows (default 8 MiB; 0 turns them off; at most 1 GiB): blocks of
   * 4 KiB read from pack files and kept, so that entry headers, small objects
   * and the links of delta chains cost no file read once their block was read,
   * as git's memory-mapped pack windows (core.packedGitLimit)
   */
  packWindowBytes?: number;
  /**
   * re-hash every object read (read, readObject, and the bases of deltas that
   * stand on another pack) and throw CorruptError when its bytes do not hash to
   * its id. Off by default, as in git: it costs one SHA per object read.
   */
  verifyReads?: boolean;
  /** byte budget for files read whole on clients without positional reads (default 256 MiB) */
  wholeFileBudget?: number;
  /**
   * 'auto' (default): node's zlib in Node, the JavaScript codec (fflate) elsewhere;
   * 'js': the JavaScript codec everywhere (the browser path, testable in Node);
   * 'pako': accepted as an alias of 'js' (the JavaScript codec was pako before)
   */
  zlib?: 'auto' | 'js' | 'pako';
  /** the repository's hash algorithm; read from the config when omitted */
  objectFormat?: HashAlgorithm;
  /**
   * After a miss the database checks whether packs or MIDX layers changed on
   * disk (a few stat calls; a reload only when they show a change). That check
   * serves the misses that follow it within the same event-loop turn and within
   * this many milliseconds (default 1); 0 makes every miss check.
   */
  missRecheckMs?: number;
}

export interface LayerStats {
  /** the layer's trailing checksum, lowercase hex */
  checksum: string;
  /** MIDX version: 1 or 2 */
  version: number;
  /** the `.idx` names the layer lists, in PNAM order */
  packs: string[];
  /** objects in this layer */
  objects: number;
  /** the file the layer was read from */
  file: string;
}

export interface OdbStats {
  objectFormat: HashAlgorithm;
  /** the zlib that inflates objects: node's ('node'), or the JavaScript codec ('javascript': browsers, or openOdb's `zlib: 'js'` or `'pako'`) */
  zlib: 'node' | 'javascript';
  /** MIDX layers, root first; a non-incremental MIDX is one layer */
  layers: LayerStats[];
  /** `.idx` names that some layer lists, in global pack-int-id order */
  midxPacks: string[];
  /** `.idx` names in the pack directory that no layer lists (unindexed packs) */
  unindexedPacks: string[];
  /** objects reachable through the MIDX (sum over layers) */
  midxObjects: number;
  /** objects in unindexed packs (sum of their .idx counts; loaded on demand) */
  unindexedObjects: number;
  /** @deprecated the same list as `unindexedPacks` (the old name read like "all packs") */
  packs: string[];
  /** @deprecated the same count as `unindexedObjects` */
  packObjects: number;
  /** number of loose object files */
  looseObjects: number;
  /** alternate object directories (objects/info/alternates, followed recursively); the counts above are this repository's own */
  alternates: string[];
}

/** Where an object is stored (see `Odb.locate`). */
export interface ObjectLocation {
  /** 'midx': found through a MIDX layer; 'pack': an unindexed pack; 'loose': a loose file */
  source: 'midx' | 'pack' | 'loose';
  /** the pack's `.idx` name */
  pack?: string;
  /** the entry's offset in the pack */
  offset?: number;
  /** checksum (hex) of the MIDX layer that answered */
  layer?: string;
  /** the loose object's path */
  file?: string;
  /** the alternate object directory (objects/info/alternates) that holds it */
  alternate?: string;
}

/** One finding of `Odb.verifyMidx()` (git's `multi-pack-index verify`, run on every layer). */
export interface VerifyProblem {
  /**
   * How git labels it: 'error' for git's `error:` lines and for verify's own
   * reports (which git prints without a prefix), 'fatal' where git dies,
   * 'warning' for `warning:` lines. A load error printed before git falls back
   * to another MIDX is an 'error' that does not fail the verification by itself.
   */
  level: 'error' | 'fatal' | 'warning';
  /** git's text, without any `error: ` / `fatal: ` / `warning: ` prefix */
  message: string;
  /** the line git 2.55 writes on stderr for it: verify's own reports carry no prefix, the others `error: `, `fatal: ` or `warning: ` */
  stderr: string;
  /** the file concerned: the `.pack` for a pack that cannot be loaded, else the MIDX file or layer (or the chain file) */
  file?: string;
  /** the layer it belongs to, by its checksum in lowercase hex (a chain layer's file name; a non-incremental MIDX's trailer) */
  layer?: string;
  /**
   * false for what `git multi-pack-index verify` itself would not report: the
   * checksum and OID order of layers below the tip, the checks git skips once
   * the tip is empty, and this library's stricter file checks
   */
  git: boolean;
  /** the cause in this library's words (why a pack failed to open...), when git's message does not say */
  detail?: string;
}

/** The outcome of `Odb.verifyMidx()`. */
export interface VerifyResult {
  /** exitCode === 0 */
  ok: boolean;
  /** git's exit statuses applied to every layer: 0 clean, 1 a check failed, 128 git would die */
  exitCode: 0 | 1 | 128;
  /**
   * what `git multi-pack-index verify` (2.55) exits with on these files: it
   * checks the tip layer's checksum and OID order only. (When this library's
   * reader refuses a MIDX that git would load, which git-written files never
   * cause, git's later findings on it are unknown here.)
   */
  gitExitCode: 0 | 1 | 128;
  /** the MIDX that was checked: `multi-pack-index`, the chain, or none */
  source: 'single' | 'chain' | 'none';
  /** checksums (lowercase hex) of the layers checked, root first */
  layers: string[];
  /** in the order git reports them */
  problems: VerifyProblem[];
}

/**
 * Progress of long work (`writeMidx`, `compactMidx`, `verifyMidx`): `start`
 * opens a meter with git's title (`Verifying object offsets`, ...) and a
 * total (0 when there is none); the meter is updated with counts and stopped.
 */
export interface Progress {
  start(title: string, total: number): ProgressMeter;
}

export interface ProgressMeter {
  update(done: number): void;
  stop(): void;
}

export interface VerifyOptions extends ProgressOptions {
  /** meters with git's titles */
  progress?: Progress;
  /**
   * Run exactly git's checks: the checksum and OID order of the tip only
   * (git repeats the tip's OID-order report once per layer, and so does this),
   * nothing past an empty tip. Default false: every check on every layer.
   */
  gitOnly?: boolean;
}

/** Options of `Odb.writeMidx`, named after `git multi-pack-index write`'s flags. */
export interface WriteMidxOptions extends ProgressOptions {
  /** meters with git's titles */
  progress?: Progress;
  /** append a layer holding only the packs and objects no layer holds yet (`--incremental`) */
  incremental?: boolean;
  /**
   * `--bitmap`: the RIDX and BTMP chunks and the layer's
   * `multi-pack-index-<checksum>.bitmap`, byte for byte as git 2.55 (commits
   * chosen from the refs, or from `refsSnapshot`)
   */
  bitmap?: boolean;
  /** `--refs-snapshot=<path>`: `[+]<oid>` lines naming the bitmap tips (`+`: preferred) instead of the refs */
  refsSnapshot?: string;
  /** with `bitmap`, also a `multi-pack-index-<checksum>.rev` file (git's GIT_TEST_MIDX_WRITE_REV) */
  writeRev?: boolean;
  /** `--preferred-pack`: a `.idx` or `.pack` basename */
  preferredPack?: string;
  /** MIDX version; defaults to the `midx.version` config, else 1 */
  version?: 1 | 2;
  /** false is `--no-write-chain-file` (needs `incremental`): the layer is written, the chain is not touched */
  writeChainFile?: boolean;
  /** `--base=<checksum|none>` (needs `writeChainFile: false`): the layer the new one sits on */
  base?: string;
  /** `--stdin-packs`: only these `.idx` basenames are considered */
  stdinPacks?: string[];
}

/** Options of `Odb.compactMidx` (`git multi-pack-index compact`). */
export interface CompactMidxOptions extends ProgressOptions {
  /** meters with git's titles */
  progress?: Progress;
  /** checksum (lowercase hex) of the lowest layer to compact */
  from: string;
  /** checksum of the highest layer to compact; it must lie above `from` */
  to: string;
  /** write a chain layer (`--incremental`); otherwise a non-incremental MIDX of just the range */
  incremental?: boolean;
  /** RIDX and BTMP chunks and the new layer's `.bitmap` (as WriteMidxOptions.bitmap) */
  bitmap?: boolean;
  /** as WriteMidxOptions.refsSnapshot */
  refsSnapshot?: string;
  /** as WriteMidxOptions.writeRev */
  writeRev?: boolean;
  /** `--base=<checksum|none>` */
  base?: string;
  /** false is `--no-write-chain-file` (needs `incremental`) */
  writeChainFile?: boolean;
  /** MIDX version; defaults to the `midx.version` config, else 2. Compaction needs 2 */
  version?: 1 | 2;
}

/** Options of `writePack` and `writePackOfPacks`. */
export interface WritePackOptions extends ProgressOptions {
  /** a meter titled `Writing objects` */
  progress?: Progress;
  /** where the pack goes (default: the repository's objects/pack) */
  packDir?: string;
  /** false: deltas name their base by id (REF_DELTA), as `repack.useDeltaBaseOffset=false`. Default true: OFS_DELTA */
  deltaBaseOffset?: boolean;
  /** zlib level for objects deflated anew (default -1: zlib's default, as git's core.compression) */
  compressionLevel?: number;
}

/** What `writePack` wrote. */
export interface WrittenPack {
  /** `pack-<checksum>`: the files are this name plus `.pack`, `.idx`, `.rev` */
  name: string;
  /** the pack's trailing checksum, lowercase hex */
  checksum: string;
  packPath: string;
  idxPath: string;
  revPath: string;
  /** objects in the pack */
  count: number;
  /** bytes of the .pack */
  size: number;
  /** entries copied as they were (header and data) */
  reused: number;
  /** delta entries copied with a new base reference */
  rebased: number;
  /** objects deflated anew (loose objects, deltas whose base is not in the pack, delta cycles broken) */
  deflated: number;
}

export interface ExpireMidxOptions extends ProgressOptions {
  /** meters: `Counting referenced objects`, `Finding and deleting unreferenced packfiles`, then the MIDX writer's */
  progress?: Progress;
}

export interface ExpireMidxResult {
  /** the `.idx` names of the packs deleted (empty: nothing done) */
  expired: string[];
  /** the new MIDX's checksum (hex), or null when nothing was written */
  midx: string | null;
}

export interface RepackMidxOptions extends ProgressOptions {
  /** `--batch-size`: bytes; 0 (the default) repacks every candidate pack into one */
  batchSize?: number;
  /** meters: `Writing objects` for the pack, then the MIDX writer's */
  progress?: Progress;
}

export interface RepackMidxResult {
  /** the `.idx` names of the packs whose objects went into the new pack (empty: nothing done) */
  repacked: string[];
  /** the pack written, or null */
  pack: WrittenPack | null;
  /** the new MIDX's checksum (hex), or null */
  midx: string | null;
}

/**
 * Options of `Odb.maintain` (git 2.55's `git repack -d -l --geometric=<factor>
 * --write-midx=incremental`), with git's names and defaults.
 */
export interface MaintainOptions extends ProgressOptions {
  /** `--geometric=<factor>`: each pack left standing holds at least this many times the objects of the next smaller one. Default 2 */
  geometric?: number;
  /** `repack.midxSplitFactor` (config, else 2; at least 2): layers merge while the newer ones hold at least 1/N of the next deeper one */
  midxSplitFactor?: number;
  /** `repack.midxNewLayerThreshold` (config, else 8; at least 1): the tip layer's packs are rolled up only once it has this many */
  midxNewLayerThreshold?: number;
  /**
   * false: merge layers only (the cheap part: no pack is written, no loose
   * object packed, no pack deleted; unindexed packs still get a layer). Default true
   */
  packs?: boolean;
  /**
   * pack the loose objects into the new pack and remove the loose objects a
   * pack holds afterwards (git's `--unpacked` and `-d`). Default true
   */
  loose?: boolean;
  /** say what would be done, change nothing */
  dryRun?: boolean;
  /**
   * new layers carry the RIDX and BTMP chunks (git's `--write-bitmap-index`;
   * the `.bitmap` file itself is not written). Default: `repack.writeBitmaps`, else false
   */
  bitmap?: boolean;
  /** meters: `Writing objects`, then the MIDX writer's */
  progress?: Progress;
  // signal: honoured until the first file is written (the new pack); from then on the run completes
}

/** One layer of the new chain, tip first, as `maintain` planned (and made) it. */
export type MaintainStep =
  | {
      /** a new layer of these packs (`multi-pack-index write --incremental --no-write-chain-file --stdin-packs`) */
      type: 'write';
      /**
       * `.idx` basenames in git's order (new packs, staying packs, then absorbed layers'
       * packs); the new pack appears as its own name, or `(new pack)` in a dry run
       */
      packs: string[];
      /** `--preferred-pack`: the last pack marked preferred, or undefined */
      preferredPack?: string;
      /** git's running object count for the merging rule (rolled-up packs' objects, staying packs', absorbed layers') */
      objects: number;
      /** old layers folded into this one, top down */
      absorbs: string[];
      /** the new layer's checksum (absent in a dry run) */
      checksum?: string;
    }
  | { type: 'copy'; checksum: string; objects: number }
  | {
      /** these adjacent old layers become one (`multi-pack-index compact --incremental`) */
      type: 'compact';
      /** lowest layer of the range */
      from: string;
      /** highest layer of the range */
      to: string;
      /** the old layers, top down */
      layers: string[];
      objects: number;
      checksum?: string;
    };

/** What `Odb.maintain` did (or, in a dry run, would do). */
export interface MaintainResult {
  dryRun: boolean;
  /** `.idx` names of the packs rolled up into the new pack, smallest first */
  rolledUp: string[];
  /** the pack written, or null (none needed, or a dry run) */
  pack: WrittenPack | null;
  /** objects the new pack holds (or would hold) */
  packObjects: number;
  /** of which loose objects */
  looseObjects: number;
  /** the new chain, tip first */
  steps: MaintainStep[];
  /** the new chain file's lines, root first (empty in a dry run) */
  chain: string[];
  /** `.idx` names of the packs deleted (or that would be) */
  deletedPacks: string[];
  /** loose objects removed because a pack now holds them */
  prunedLoose: number;
  /** a non-incremental MIDX was turned into the chain's root layer */
  converted: boolean;
  /** anything changed on disk (false in a dry run) */
  changed: boolean;
}
