/**
 * objects/info/alternates, read as git links alternate object stores: one
 * directory a line (relative to the objects directory holding the file; `#`
 * comments and blank lines skipped; a line in double quotes is C-unquoted),
 * their own alternates followed to a depth of 5, each directory once.
 *
 * As git, a bad line is warned of and skipped, never fatal: a directory that
 * does not exist, a NUL byte, a path longer than any file system takes, a
 * symlink loop. The file itself is read only if it is a regular file of at most
 * 16 MiB (a FIFO, a device, a huge file is warned of and ignored).
 */

import { CorruptError } from '../errors.js';
import type { Fs } from '../io/fs.js';
import { join, normalizePath } from '../io/fs.js';

/** git's limit on nested alternates */
const MAX_DEPTH = 5;
/** Most bytes an alternates file is read to. */
export const ALTERNATES_FILE_LIMIT = 16 * 1024 * 1024;
/** Longer lines name no directory any file system holds (PATH_MAX). */
const MAX_PATH = 4096;

export interface AlternatesWarning {
  file: string;
  reason: string;
}

/** `"a\tb\\c"` → `a<TAB>b\c` (git's unquote_c_style); null when the quoting is broken. */
function unquote(line: string): string | null {
  if (!line.startsWith('"')) return line;
  let out = '';
  for (let i = 1; i < line.length; i++) {
    const c = line[i];
    if (c === '"') return i === line.length - 1 ? out : null;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const n = line[++i];
    const simple: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"' };
    if (n in simple) out += simple[n];
    else if (/^[0-3][0-7][0-7]$/.test(line.slice(i, i + 3))) {
      out += String.fromCharCode(parseInt(line.slice(i, i + 3), 8));
      i += 2;
    } else return null;
  }
  return null;
}

/**
 * The alternate object directories of `objectsDir`, in the order git searches
 * them (depth first, as they are linked), each once and never `objectsDir`
 * itself.
 */
export async function readAlternates(fs: Fs, objectsDir: string, warn: (w: AlternatesWarning) => void): Promise<string[]> {
  const dirs: string[] = [];
  const seen = new Set([normalizePath(objectsDir)]);
  const visit = async (dir: string, depth: number): Promise<void> => {
    const file = join(dir, 'info', 'alternates');
    let bytes: Uint8Array | null;
    try {
      bytes = await fs.tryReadFile(file, ALTERNATES_FILE_LIMIT);
    } catch (err) {
      if (!(err instanceof CorruptError)) throw err;
      warn({ file, reason: `${err.reason}; its alternate object stores are not used` });
      return;
    }
    if (!bytes) return;
    if (depth >= MAX_DEPTH) {
      warn({ file, reason: `${dir}: ignoring alternate object stores, nesting too deep` });
      return;
    }
    for (const raw of new TextDecoder().decode(bytes).split('\n')) {
      const text = raw.replace(/\r$/, '');
      if (!text || text.startsWith('#')) continue;
      const line = unquote(text);
      if (line === null) {
        warn({ file, reason: `bad quoting in alternate object path ${JSON.stringify(text.slice(0, 200))}; the line is skipped` });
        continue;
      }
      if (line.includes('\0')) {
        warn({ file, reason: `alternate object path ${JSON.stringify(line.slice(0, 200))} contains a NUL byte; the line is skipped` });
        continue;
      }
      if (line.length > MAX_PATH) {
        warn({ file, reason: `alternate object path of ${line.length} characters is longer than any path; the line is skipped` });
        continue;
      }
      const alt = normalizePath(line.startsWith('/') ? line : join(dir, line));
      if (seen.has(alt)) continue;
      seen.add(alt);
      let st;
      try {
        st = await fs.stat(alt);
      } catch (err) {
        // a symlink loop, a name too long for the file system, no permission
        warn({ file, reason: `object directory ${alt} cannot be used (${(err as Error).message}); check ${file}` });
        continue;
      }
      if (!st || !st.isDirectory) {
        warn({ file, reason: `object directory ${alt} does not exist; check ${file}` });
        continue;
      }
      dirs.push(alt);
      await visit(alt, depth + 1);
    }
  };
  await visit(objectsDir, 0);
  return dirs;
}
