/** openOdb: reads a repository's config (object format) and builds its database. */

import { configGet, parseConfig } from '../config.js';
import { UnsupportedError } from '../errors.js';
import { join, normalizeFs } from '../io/fs.js';
import { hashInfo, type HashAlgorithm } from '../oid.js';
import type { OpenOdbOptions } from '../types.js';
import { loadCodec } from '../zlib/index.js';
import type { Odb } from './api.js';
import { ObjectDatabase } from './odb.js';

/** Most bytes of pack windows one database may hold (their slab is one allocation). */
const MAX_WINDOW_BYTES = 1024 * 1024 * 1024;

/** Most bytes the config file is read to. */
const CONFIG_FILE_LIMIT = 16 * 1024 * 1024;

/** Opens the object database of a git directory. Cheap: packs, indexes and MIDX tables are read on first use. */
export async function openOdb(options: OpenOdbOptions): Promise<Odb> {
  if (!options || typeof options.gitdir !== 'string' || !options.gitdir) throw new TypeError('openOdb: `gitdir` is required');
  const fs = normalizeFs(options.fs, { wholeFileBudget: options.wholeFileBudget });
  // a config file is a few KiB; a bigger one (or a FIFO, a device) is refused, typed
  const configBytes = await fs.tryReadFile(join(options.gitdir, 'config'), CONFIG_FILE_LIMIT);
  const config = parseConfig(configBytes ? new TextDecoder().decode(configBytes) : '');
  let algorithm: HashAlgorithm = options.objectFormat ?? 'sha1';
  if (!options.objectFormat) {
    const format = (configGet(config, 'extensions.objectformat') ?? 'sha1').toLowerCase();
    if (format !== 'sha1' && format !== 'sha256') throw new UnsupportedError(`unknown object format '${format}' in ${join(options.gitdir, 'config')}`);
    algorithm = format;
  }
  const zlib = options.zlib ?? 'auto';
  if (zlib !== 'auto' && zlib !== 'js' && zlib !== 'pako') throw new TypeError(`openOdb: unknown zlib option ${JSON.stringify(zlib)} ('auto', 'js' or 'pako')`);
  const windows = options.packWindowBytes;
  if (windows !== undefined && !(typeof windows === 'number' && windows >= 0 && windows <= MAX_WINDOW_BYTES)) {
    throw new TypeError(`openOdb: \`packWindowBytes\` must be a number of bytes from 0 to ${MAX_WINDOW_BYTES} (1 GiB), not ${String(windows)}`);
  }
  const codec = await loadCodec({ forceJs: zlib !== 'auto' });
  return new ObjectDatabase({
    fs,
    gitdir: options.gitdir,
    objectsDir: options.objectsDir,
    hash: hashInfo(algorithm),
    codec,
    config,
    onWarning: options.onWarning,
    deltaBaseCacheBytes: options.deltaBaseCacheBytes,
    packWindowBytes: options.packWindowBytes,
    missRecheckMs: options.missRecheckMs,
    verifyReads: options.verifyReads,
  });
}
