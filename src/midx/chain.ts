/**
 * git's rules for finding the MIDX of a pack directory (spec 3.2, 3.6):
 * `multi-pack-index` first; only when it is absent or fails to load, the
 * chain in `multi-pack-index.d/`, loaded line by line until the first bad
 * line or layer, keeping the layers below it.
 */

import { CorruptError } from '../errors.js';
import type { Fs } from '../io/fs.js';
import { isNotFound, join } from '../io/fs.js';
import { isHex, type HashInfo, toHex } from '../oid.js';
import { MidxFile, MidxLoadError } from './read.js';
import { errorCode } from '../util.js';

export const MIDX_NAME = 'multi-pack-index';
export const MIDX_DIR = 'multi-pack-index.d';
export const CHAIN_NAME = 'multi-pack-index-chain';

export function layerFileName(hex: string): string {
  return `multi-pack-index-${hex}.midx`;
}

export interface MidxWarning {
  file: string;
  reason: string;
  /** git would die here (the library recovers instead) */
  fatal?: boolean;
}

export interface LoadedMidx {
  /** 'single': pack/multi-pack-index; 'chain': layers from multi-pack-index.d; 'none' */
  source: 'single' | 'chain' | 'none';
  /** root first; each layer's numObjectsInBase/numPacksInBase and base are set */
  layers: MidxFile[];
  /** the chain file's bytes as read (for change detection), or null */
  chainBytes: Uint8Array | null;
}

/**
 * Most bytes a chain file is read to: 16 MiB is some 400,000 layers, far more
 * than any pack directory holds (a bigger file is refused, not read).
 */
export const CHAIN_FILE_LIMIT = 16 * 1024 * 1024;

/** The chain file's bytes (null when there is none), or the error that stands in their place. */
export async function readChainFile(fs: Fs, chainPath: string): Promise<{ bytes: Uint8Array | null; error?: CorruptError }> {
  try {
    return { bytes: await fs.tryReadFile(chainPath, CHAIN_FILE_LIMIT) };
  } catch (err) {
    if (err instanceof CorruptError) return { bytes: null, error: err };
    throw err;
  }
}

/**
 * What identifies the non-incremental MIDX file's state for change detection: '-'
 * when it is absent, its size and trailing checksum (a rewritten MIDX always has a
 * new trailer), or the error met reading it. The pack backend's refresh and the
 * writer's "did it change while we planned" both use this.
 */
export async function midxFileStamp(fs: Fs, path: string, hashLength: number): Promise<string> {
  try {
    const st = await fs.stat(path);
    if (!st) return '-';
    if (st.size < hashLength) return `${st.size}`;
    const f = await fs.open(path);
    try {
      const t = await f.read(f.size - hashLength, hashLength);
      return `${f.size}:${toHex(t)}`;
    } finally {
      await f.close();
    }
  } catch (err) {
    if (isNotFound(err)) return '-';
    return `error: ${(err as Error).message}`;
  }
}

/** What identifies a chain file's state for change detection: its bytes, or its error's message. */
export function chainFingerprint(read: { bytes: Uint8Array | null; error?: CorruptError }): Uint8Array | null {
  return read.error ? new TextEncoder().encode(`\0error: ${read.error.message}`) : read.bytes;
}

/** Opens one MIDX file; null (with a warning) when it is missing or fails to load. */
async function openLayer(fs: Fs, path: string, hash: HashInfo, warn: (w: MidxWarning) => void, reuse?: (path: string) => MidxFile | undefined): Promise<MidxFile | null> {
  const old = reuse?.(path);
  if (old) return old;
  let raf;
  try {
    raf = await fs.open(path);
  } catch (err) {
    const code = errorCode(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') warn({ file: path, reason: (err as Error).message });
    return null;
  }
  try {
    return await MidxFile.open(raf, hash);
  } catch (err) {
    await raf.close();
    if (err instanceof MidxLoadError) {
      warn({ file: path, reason: err.reason, fatal: err.fatal });
      return null;
    }
    throw err;
  }
}

/** Stacks `layer` on `below`: global numbering (spec 3.4). Returns false on u32 overflow. */
function link(layer: MidxFile, below: MidxFile | null): string | null {
  const objects = below ? below.numObjectsInBase + below.numObjects : 0;
  const packs = below ? below.numPacksInBase + below.numPacks : 0;
  if (packs + layer.numPacks > 0xffffffff) return `pack count in base MIDX too high: ${packs}`;
  if (objects + layer.numObjects > 0xffffffff) return `object count in base MIDX too high: ${objects}`;
  layer.base = below;
  layer.numObjectsInBase = objects;
  layer.numPacksInBase = packs;
  return null;
}

/**
 * Loads the chain file's layers. `reuse` hands back an already-open layer for
 * a path (layer files are immutable: their name is their checksum).
 */
export async function loadChain(
  fs: Fs,
  packDir: string,
  hash: HashInfo,
  warn: (w: MidxWarning) => void,
  reuse?: (path: string) => MidxFile | undefined,
): Promise<{ layers: MidxFile[]; chainBytes: Uint8Array | null }> {
  const dir = join(packDir, MIDX_DIR);
  const chainPath = join(dir, CHAIN_NAME);
  const read = await readChainFile(fs, chainPath);
  const layers: MidxFile[] = [];
  if (read.error) {
    warn({ file: chainPath, reason: `${read.error.reason}; no multi-pack-index chain is used` });
    return { layers, chainBytes: chainFingerprint(read) };
  }
  const bytes = read.bytes;
  if (!bytes || bytes.length === 0) return { layers, chainBytes: bytes };
  const hexLen = hash.hexLength;
  if (bytes.length < hexLen) {
    warn({ file: chainPath, reason: 'multi-pack-index chain file too small' });
    return { layers, chainBytes: bytes };
  }
  const count = Math.floor(bytes.length / (hexLen + 1));
  const text = new TextDecoder().decode(bytes);
  const lines = text.split('\n');
  const seen = new Set<string>();
  for (let i = 0; i < count && i < lines.length; i++) {
    const line = lines[i];
    // end of file (a last line without LF is only read when `count` reaches it)
    if (i === lines.length - 1 && line === '') break;
    const hex = line.slice(0, hexLen);
    if (hex.length < hexLen || !isHex(hex)) {
      warn({ file: chainPath, reason: `invalid multi-pack-index chain: line '${line}' not a hash` });
      break;
    }
    // git would stack the same layer again (and keep one more file open per
    // repetition); a layer in a chain twice is a damaged chain: stop there
    if (seen.has(hex.toLowerCase())) {
      warn({ file: chainPath, reason: `multi-pack-index chain names layer ${hex.toLowerCase()} again on line ${i + 1}; the chain is cut there` });
      break;
    }
    seen.add(hex.toLowerCase());
    const path = join(dir, layerFileName(hex.toLowerCase()));
    const layer = await openLayer(fs, path, hash, warn, reuse);
    if (!layer) {
      warn({ file: path, reason: 'unable to find all multi-pack index files' });
      break;
    }
    const overflow = link(layer, layers.length ? layers[layers.length - 1] : null);
    if (overflow) {
      warn({ file: path, reason: overflow });
      break;
    }
    layers.push(layer);
  }
  return { layers, chainBytes: bytes };
}

/** The MIDX of a pack directory as git loads it (spec 3.6). */
export async function loadMidx(
  fs: Fs,
  packDir: string,
  hash: HashInfo,
  warn: (w: MidxWarning) => void,
  reuse?: (path: string) => MidxFile | undefined,
): Promise<LoadedMidx> {
  const single = await openLayer(fs, join(packDir, MIDX_NAME), hash, warn, reuse);
  if (single) {
    link(single, null);
    return { source: 'single', layers: [single], chainBytes: null };
  }
  const { layers, chainBytes } = await loadChain(fs, packDir, hash, warn, reuse);
  return { source: layers.length ? 'chain' : 'none', layers, chainBytes };
}
