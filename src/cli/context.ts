/** What every subcommand is given. */

import type { Readable } from 'node:stream';
import type { Odb } from '../index.js';
import type { Output } from './output.js';
import type { ProgressSink } from './progress.js';
import type { RefResolver, Repository } from './repo.js';

export interface CommandContext {
  /** the database of the object directory in use (replaced by useObjectDir) */
  odb: Odb;
  /**
   * A subcommand's `--object-dir` (undefined: `--no-object-dir`, the
   * repository's own): reopens `odb` on that directory when it differs.
   */
  useObjectDir(dir: string | undefined): Promise<void>;
  repo: Repository;
  refs: RefResolver;
  out: Output;
  /** writes to stderr */
  err: (text: string) => void;
  /** standard input, opened on first use */
  stdin: () => Readable;
  /**
   * Progress meters for a subcommand's own `--[no-]progress` (undefined: the
   * global flag, else shown when stderr is a terminal, as git decides).
   */
  progressFor: (flag: boolean | undefined) => ProgressSink;
  /** stop printing the database's recovered-problem warnings (verify reports its own) */
  muteWarnings: () => void;
}
