/**
 * The database's recovered problems (onWarning), printed on stderr as git
 * prints the same situations: `error: ...` for what git reports with
 * error() (a MIDX chunk of the wrong size, a hash version mismatch...),
 * `warning: ...` for git's warnings (a checksum mismatch, a chain layer
 * that is missing...), and the library's own findings as warnings naming the
 * file. Each line is printed once.
 */

import path from 'node:path';
import type { OdbWarning } from '../index.js';

const GIT_ERRORS: RegExp[] = [
  /^multi-pack-index file .* is too small$/s,
  /^multi-pack-index hash version \d+ does not match version \d+$/,
  /^multi-pack-index .* (is of the wrong size|is the wrong size)$/,
  /^multi-pack-index (signature|version) /,
  /^multi-pack-index required .* chunk missing or corrupted$/,
  /^multi-pack-index pack-name chunk is too short$/,
  /^multi-pack-index pack names out of order/,
  /^oid fanout out of order: /,
  /^chunk id [0-9a-f]+ not 4-byte aligned$/,
  /^improper chunk offset\(s\) /,
  /^terminating chunk id appears earlier than expected$/,
  /^final chunk has non-zero id /,
  /^duplicate chunk ID /,
  /^could not load reverse index for MIDX /,
];

const GIT_WARNINGS: RegExp[] = [
  /^ignoring existing multi-pack-index; checksum mismatch$/,
  /^failed to add packfile '/,
  /^failed to open pack-index '/,
  /^unknown preferred pack: '/,
  /^refusing to write multi-pack \.bitmap without any objects$/,
  /^multi-pack-index chain file too small$/,
  /^invalid multi-pack-index chain: /,
  /^unable to find all multi-pack index files$/,
  /^(pack|object) count in base MIDX too high: /,
  /^multi-pack bitmap is missing required reverse index$/,
  /^Failed to write bitmap index\. /,
  /^symbolic ref is dangling: /,
];

export function formatWarning(w: OdbWarning): string {
  const reason = w.reason;
  if (GIT_ERRORS.some((re) => re.test(reason))) return `error: ${reason}`;
  if (GIT_WARNINGS.some((re) => re.test(reason))) return `warning: ${reason}`;
  const named = !w.file || reason.includes(w.file) || reason.includes(path.basename(w.file));
  return named ? `warning: ${reason}` : `warning: ${w.file}: ${reason}`;
}

/** An onWarning handler writing each distinct line once. */
export function warningPrinter(write: (text: string) => void): { onWarning: (w: OdbWarning) => void; mute: () => void } {
  const seen = new Set<string>();
  let muted = false;
  return {
    onWarning: (w) => {
      if (muted) return;
      const line = formatWarning(w);
      if (seen.has(line)) return;
      seen.add(line);
      write(`${line}\n`);
    },
    mute: () => {
      muted = true;
    },
  };
}
