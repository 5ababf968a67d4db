#!/usr/bin/env node
/**
 * midx-odb: the object database on the command line.
 *
 *   midx-odb [--git-dir=<path>] [-C <path>] [--object-dir=<dir>] [--[no-]progress] <command> [<args>]
 *
 *   write | compact | verify | expire | repack
 *                                git's `multi-pack-index` subcommands
 *   cat-file                     git's `cat-file`
 *   stats                        what the database sees: layers, packs, objects
 *   maintenance                  merge packs and layers as git 2.55's geometric repack does
 *
 * Exit statuses are git's: 0 success, 1 (verify found problems, cat-file -e
 * found nothing), 128 fatal (not a repository, a bad object name, a held
 * lock), 129 usage, 255 a write that failed.
 */

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openOdb } from '../odb/open.js';
import { type OptionSpec, parseOptions } from './args.js';
import { CAT_FILE_OPTIONS, CAT_FILE_USAGE, catFile } from './catfile.js';
import { MAINTAIN_OPTIONS, MAINTAIN_USAGE, maintainCommand } from './maintain.js';
import type { CommandContext } from './context.js';
import { Die, Exit, UsageError } from './errors.js';
import {
  COMPACT_OPTIONS,
  COMPACT_USAGE,
  compactCommand,
  EXPIRE_OPTIONS,
  EXPIRE_USAGE,
  expireCommand,
  REPACK_OPTIONS,
  REPACK_USAGE,
  repackCommand,
  VERIFY_OPTIONS,
  VERIFY_USAGE,
  verifyCommand,
  WRITE_OPTIONS,
  WRITE_USAGE,
  writeCommand,
} from './midx.js';
import { Output, PipeClosed } from './output.js';
import { NO_PROGRESS, progressDelay, progressWanted, terminalProgress, termColumns } from './progress.js';
import { findRepository, RefResolver } from './repo.js';
import { STATS_OPTIONS, STATS_USAGE, statsCommand } from './stats.js';
import { usageText } from './usage.js';
import { warningPrinter } from './warnings.js';

const GLOBAL_OPTIONS: OptionSpec[] = [
  { long: 'git-dir', kind: 'string', argh: '<path>', help: 'the git directory (default: $GIT_DIR, else found from the working directory up)', negatable: false },
  { short: 'C', kind: 'string', key: 'C', argh: '<path>', help: 'run as if started in <path>' },
  { long: 'object-dir', kind: 'string', argh: '<directory>', help: 'object directory containing set of packfile and pack-index pairs (default: the repository\'s)' },
  { long: 'progress', kind: 'bool', help: 'force progress reporting (default: when stderr is a terminal)' },
  { long: 'version', kind: 'bool', help: 'print the version and exit', negatable: false },
];

interface Command {
  usages: string[];
  options: OptionSpec[];
  run: (ctx: CommandContext, argv: string[]) => Promise<number>;
}

const COMMANDS: Record<string, Command> = {
  write: { usages: [WRITE_USAGE], options: WRITE_OPTIONS, run: writeCommand },
  compact: { usages: [COMPACT_USAGE], options: COMPACT_OPTIONS, run: compactCommand },
  verify: { usages: [VERIFY_USAGE], options: VERIFY_OPTIONS, run: verifyCommand },
  expire: { usages: [EXPIRE_USAGE], options: EXPIRE_OPTIONS, run: expireCommand },
  repack: { usages: [REPACK_USAGE], options: REPACK_OPTIONS, run: repackCommand },
  'cat-file': { usages: CAT_FILE_USAGE, options: CAT_FILE_OPTIONS, run: catFile },
  stats: { usages: [STATS_USAGE], options: STATS_OPTIONS, run: statsCommand },
  maintenance: { usages: [MAINTAIN_USAGE], options: MAINTAIN_OPTIONS, run: maintainCommand },
};

const TOP_USAGES = [
  'midx-odb [<options>] write [--preferred-pack=<pack>] [--[no-]bitmap]\n  [--[no-]incremental] [--[no-]stdin-packs] [--[no-]write-chain-file]\n  [--base=<checksum>]',
  'midx-odb [<options>] compact [--[no-]incremental] [--[no-]bitmap]\n  [--base=<checksum>] [--[no-]write-chain-file] <from> <to>',
  'midx-odb [<options>] verify [--git-only]',
  'midx-odb [<options>] expire',
  'midx-odb [<options>] repack [--batch-size=<size>]',
  'midx-odb [<options>] cat-file (-t | -s | -p | -e) <object>',
  'midx-odb [<options>] cat-file (--batch | --batch-check)[=<format>] [--batch-all-objects]',
  'midx-odb [<options>] stats [--json]',
  MAINTAIN_USAGE,
];

/**
 * An --object-dir as git takes it (real_pathdup): absolute, symbolic links
 * resolved component by component; a missing directory on the way is fatal
 * (`Invalid path`), a missing last component is the error git gives when it
 * adds the directory as an alternate.
 */
function realObjectDir(dir: string): string {
  const parts = path.resolve(dir).split(path.sep).filter(Boolean);
  let real: string = path.sep;
  for (let i = 0; i < parts.length; i++) {
    const next = path.join(real, parts[i]);
    try {
      real = fs.realpathSync(next);
    } catch {
      if (i < parts.length - 1) throw new Die(`Invalid path '${next}': No such file or directory`);
      throw new Die('', 128, [`error: object directory ${next} does not exist; check .git/objects/info/alternates`]);
    }
  }
  return real;
}

function version(): string {
  try {
    const pkg = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'package.json');
    return JSON.parse(fs.readFileSync(pkg, 'utf8')).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

function writeErr(text: string): void {
  process.stderr.write(text);
}

/** Prints a usage error (or -h / --help) as git does; returns the exit status. */
function reportUsage(err: UsageError, usages: string[], options: OptionSpec[]): number {
  const text = usageText(usages, options);
  if (err.help) {
    process.stdout.write(text);
    return err.long ? 0 : 129;
  }
  let msg = '';
  if (err.message) msg = err.fatal ? `fatal: ${err.message}\n\n` : `error: ${err.message}\n`;
  writeErr(msg + (err.withUsage ? text : ''));
  return 129;
}

/** Runs the command line; resolves to the exit status. */
export async function main(argv: string[]): Promise<number> {
  let globals;
  try {
    globals = parseOptions(argv, GLOBAL_OPTIONS, { stopAtNonOption: true });
  } catch (err) {
    if (err instanceof UsageError) return reportUsage(err, TOP_USAGES, GLOBAL_OPTIONS);
    throw err;
  }
  if (globals.values.get('version')) {
    process.stdout.write(`midx-odb version ${version()}\n`);
    return 0;
  }
  const [name, ...rest] = globals.args;
  if (name === undefined) return reportUsage(new UsageError('need a subcommand'), TOP_USAGES, GLOBAL_OPTIONS);
  if (name === 'help') {
    const target = rest[0] !== undefined ? COMMANDS[rest[0]] : undefined;
    process.stdout.write(target ? usageText(target.usages, target.options) : usageText(TOP_USAGES, GLOBAL_OPTIONS));
    return 0;
  }
  const command = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) return reportUsage(new UsageError(`unknown subcommand: \`${name}'`), TOP_USAGES, GLOBAL_OPTIONS);

  // like git, `-h` alone (and --help) answers without a repository
  const dashdash = rest.indexOf('--');
  const beforeDashdash = dashdash >= 0 ? rest.slice(0, dashdash) : rest;
  if (beforeDashdash.includes('--help')) return reportUsage(new UsageError('', { help: true, long: true }), command.usages, command.options);
  if (rest.length === 1 && rest[0] === '-h') return reportUsage(new UsageError('', { help: true }), command.usages, command.options);

  const out = new Output(process.stdout);
  const warnings = warningPrinter(writeErr);
  let odb: Awaited<ReturnType<typeof openOdb>> | null = null;
  try {
    let cwd = process.cwd();
    const dirC = globals.values.get('C') as string | undefined;
    if (dirC !== undefined) {
      cwd = path.resolve(cwd, dirC);
      if (!fs.existsSync(cwd)) throw new Die(`cannot change to '${dirC}': No such file or directory`);
    }
    const gitDirOpt = globals.values.get('git-dir') as string | undefined;
    const repo = findRepository({ gitDir: gitDirOpt, cwd, env: process.env });
    // absolute paths, so that messages (lock files...) name files as git does
    const commondir = path.resolve(repo.commondir);
    const ownObjects = realObjectDir(path.join(commondir, 'objects'));
    let objectsDir = ownObjects;
    const globalObjectDir = globals.values.get('object-dir') as string | undefined;
    if (globalObjectDir !== undefined) objectsDir = realObjectDir(path.resolve(cwd, globalObjectDir));
    const open = (dir: string) => openOdb({ fs, gitdir: commondir, onWarning: warnings.onWarning, ...(dir === ownObjects ? {} : { objectsDir: dir }) });
    odb = await open(objectsDir);
    const globalProgress = globals.values.get('progress') as boolean | undefined;
    const progressFor = (flag: boolean | undefined) =>
      progressWanted(flag ?? globalProgress, process.stderr.isTTY)
        ? terminalProgress(process.stderr, { delay: progressDelay(process.env), columns: () => termColumns(process.env, process.stdout) })
        : NO_PROGRESS;
    const ctx: CommandContext = {
      odb,
      async useObjectDir(dir) {
        // a subcommand's --object-dir wins over the global one; --no-object-dir is the repository's own
        const want = dir === undefined ? ownObjects : realObjectDir(path.resolve(cwd, dir));
        if (want === objectsDir) return;
        await ctx.odb.close();
        objectsDir = want;
        ctx.odb = odb = await open(want);
      },
      repo: { gitdir: path.resolve(repo.gitdir), commondir },
      refs: new RefResolver({ gitdir: path.resolve(repo.gitdir), commondir }, odb.hash.hexLength),
      out,
      err: writeErr,
      stdin: () => process.stdin,
      progressFor,
      muteWarnings: warnings.mute,
    };
    const status = await command.run(ctx, rest);
    await out.end();
    return status;
  } catch (err) {
    if (err instanceof PipeClosed) return 141; // git dies of SIGPIPE: 128 + 13
    await out.end().catch(() => {});
    if (err instanceof UsageError) return reportUsage(err, command.usages, command.options);
    if (err instanceof Die) {
      writeErr(err.before.map((l) => `${l}\n`).join('') + (err.message ? `fatal: ${err.message}\n` : ''));
      return err.status;
    }
    if (err instanceof Exit) {
      writeErr(err.lines.map((l) => `${l}\n`).join(''));
      return err.status;
    }
    const e = err as Error & { code?: string };
    writeErr(`fatal: ${e?.message ?? String(err)}\n`);
    return 128;
  } finally {
    if (odb) await odb.close().catch(() => {});
  }
}

/** Exits once stderr has taken everything (stdout was drained by Output.end). */
function exit(status: number): void {
  process.stderr.write('', () => process.exit(status));
}

const invokedDirectly = (() => {
  try {
    return fs.realpathSync(process.argv[1] ?? '') === fs.realpathSync(fileURLToPath(import.meta.url));
  } catch {
    return false;
  }
})();

if (invokedDirectly) {
  main(process.argv.slice(2)).then(exit, (err) => {
    process.stderr.write(`fatal: ${(err as Error)?.stack ?? String(err)}\n`);
    exit(128);
  });
}
