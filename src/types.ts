/** Public types of the object database. */

import type { HashAlgorithm } from './oid.js';

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
  /** told about every recovered problem; by default they are ignored */
  onWarning?: (warning: OdbWarning) => void;
  /** byte budget of the delta-base cache (default 96 MiB) */
  deltaBaseCacheBytes?: number;
  /** byte budget for files read whole on clients without positional reads (default 256 MiB) */
  wholeFileBudget?: number;
  /** the repository's hash algorithm; read from the config when omitted */
  objectFormat?: HashAlgorithm;
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
  /** MIDX layers, root first; a non-incremental MIDX is one layer */
  layers: LayerStats[];
  /** `.idx` names that some layer lists, in global pack-int-id order */
  midxPacks: string[];
  /** `.idx` names in the pack directory that no layer lists */
  packs: string[];
  /** objects reachable through the MIDX (sum over layers) */
  midxObjects: number;
  /** objects in unindexed packs (sum of their .idx counts; loaded on demand) */
  packObjects: number;
  /** number of loose object files */
  looseObjects: number;
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
}
