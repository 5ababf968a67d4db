/**
 * `midx-odb write | compact | verify`: git's `multi-pack-index` subcommands
 * over the library's writer and verifier, with git 2.55's option checks,
 * messages and exit statuses:
 *
 * - usage errors: the message, the usage, exit 129;
 * - what git reports with error() and a failed return (no pack files to
 *   index, could not find base MIDX...): `error: ...`, exit 255;
 * - what git dies on (unknown MIDX version, bad compaction endpoints, a held
 *   lock...): `fatal: ...`, exit 128;
 * - `--no-write-chain-file` prints the new layer's checksum on stdout;
 * - verify prints git's lines and exits 0, 1 or 128.
 */

import path from 'node:path';
import { CorruptError, InvalidArgumentError, LockError } from '../errors.js';
import type { CompactMidxOptions, WriteMidxOptions } from '../types.js';
import { configBool } from '../config.js';
import { type OptionSpec, parseOptions } from './args.js';
import type { CommandContext } from './context.js';
import { Die, Exit, UsageError } from './errors.js';
import { type ProgressSink, parseGitUnsigned } from './progress.js';
import { traceRegion } from './trace2.js';
import { errorCode } from '../util.js';

// ---------------------------------------------------------------- usage

const COMMON_OPTIONS: OptionSpec[] = [
  { long: 'object-dir', kind: 'string', argh: '<directory>', help: 'object directory containing set of packfile and pack-index pairs' },
  { long: 'progress', kind: 'bool', help: 'force progress reporting' },
];

export const WRITE_USAGE =
  'midx-odb [<options>] write [--preferred-pack=<pack>]\n  [--[no-]bitmap] [--[no-]incremental] [--[no-]stdin-packs]\n  [--refs-snapshot=<path>] [--[no-]write-chain-file]\n  [--base=<checksum>]';
export const COMPACT_USAGE = 'midx-odb [<options>] compact [--[no-]incremental]\n  [--[no-]bitmap] [--base=<checksum>] [--[no-]write-chain-file]\n  <from> <to>';
export const VERIFY_USAGE = 'midx-odb [<options>] verify [--git-only]';
export const EXPIRE_USAGE = 'midx-odb [<options>] expire';
export const REPACK_USAGE = 'midx-odb [<options>] repack [--batch-size=<size>]';

export const WRITE_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { long: 'preferred-pack', kind: 'string', argh: '<preferred-pack>', help: 'pack for reuse when computing a multi-pack bitmap' },
  { long: 'bitmap', kind: 'bool', help: 'write multi-pack bitmap' },
  { long: 'base', kind: 'string', argh: '<checksum>', help: 'base MIDX for incremental writes' },
  { long: 'incremental', kind: 'bool', help: 'write a new incremental MIDX' },
  { long: 'write-chain-file', kind: 'bool', help: 'write the multi-pack-index chain file' },
  { long: 'stdin-packs', kind: 'bool', help: 'write multi-pack index containing only given indexes' },
  { long: 'refs-snapshot', kind: 'string', argh: '<file>', help: 'refs snapshot for selecting bitmap commits' },
];

export const COMPACT_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { long: 'base', kind: 'string', argh: '<checksum>', help: 'base MIDX for incremental writes' },
  { long: 'bitmap', kind: 'bool', help: 'write multi-pack bitmap' },
  { long: 'incremental', kind: 'bool', help: 'write a new incremental MIDX' },
  { long: 'write-chain-file', kind: 'bool', help: 'write the multi-pack-index chain file' },
];

export const VERIFY_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { long: 'git-only', kind: 'bool', help: "run git 2.55's checks only (the tip layer's checksum and OID order), with git's exit status" },
];

export const EXPIRE_OPTIONS: OptionSpec[] = [...COMMON_OPTIONS];

export const REPACK_OPTIONS: OptionSpec[] = [
  ...COMMON_OPTIONS,
  { long: 'batch-size', kind: 'string', argh: '<n>', negatable: false, help: 'during repack, collect pack-files of smaller size into a batch that is larger than this size' },
];

// ---------------------------------------------------------------- helpers

/** What git dies on (exit 128) rather than reporting with error() and returning -1 (exit 255). */
const GIT_DIES: RegExp[] = [
  /^unknown MIDX version: /,
  /^bad numeric config value /,
  /^cannot perform MIDX compaction with v1 format$/,
  /^could not find MIDX: /,
  /^MIDX compaction endpoints must be unique$/,
  /^MIDX .* must be an ancestor of /,
  /^failed to open preferred pack /,
  /^could not determine preferred pack$/,
  /^bad pack-int-id: /,
  /^invalid MIDX object position/,
  /^multi-pack-index large offset out of bounds$/,
  /^too many multi-pack-indexes$/,
  /^cannot expire packs from an incremental multi-pack-index$/,
  /^cannot repack an incremental multi-pack-index$/,
];

const LOCK_ADVICE =
  'Another git process seems to be running in this repository, e.g.\n' +
  "an editor opened by 'git commit'. Please make sure all processes\n" +
  'are terminated then try again. If it still fails, a git process\n' +
  'may have crashed in this repository earlier:\n' +
  'remove the file manually to continue.';

/** Turns the library's errors into git's endings. */
export function gitEnding(err: unknown): Error {
  if (err instanceof LockError) {
    // git's unable_to_lock_die
    return new Die(`${err.message}\n\n${LOCK_ADVICE}`);
  }
  if (err instanceof InvalidArgumentError || err instanceof CorruptError) {
    const message = err instanceof CorruptError ? err.reason : err.message;
    if (GIT_DIES.some((re) => re.test(message))) return new Die(message);
    return new Exit(255, [`error: ${message}`]);
  }
  return err instanceof Error ? err : new Error(String(err));
}

/** git's git_env_bool for a GIT_TEST_* switch (unset: false). */
function gitEnvBool(v: string | undefined): boolean {
  if (v === undefined) return false;
  const s = v.trim().toLowerCase();
  if (s === '' || s === 'false' || s === 'no' || s === 'off') return false;
  if (s === 'true' || s === 'yes' || s === 'on') return true;
  const n = Number(s);
  return Number.isFinite(n) ? n !== 0 : true;
}

/** A bitmap git could not write (an object outside the MIDX and its bases): git's error, and nothing written. */
function bitmapEnding(err: unknown): Error | null {
  if (errorCode(err) === 'EBITMAPCLOSURE') return new Exit(255, ['error: could not write multi-pack bitmap']);
  return null;
}

/** A subcommand's own `--object-dir` / `--no-object-dir` (git's common option). */
async function objectDir(ctx: CommandContext, values: Map<string, unknown>): Promise<void> {
  if (values.has('object-dir')) await ctx.useObjectDir(values.get('object-dir') as string | undefined);
}

async function readStdinLines(ctx: CommandContext): Promise<string[]> {
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.stdin() as AsyncIterable<Buffer | string>) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
  const text = Buffer.concat(chunks).toString('utf8');
  if (!text) return [];
  // strbuf_getline: LF or CRLF ends a line; a last line without one still counts
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((l) => l.replace(/\r$/, '')).sort();
}

// ---------------------------------------------------------------- write

export async function writeCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, WRITE_OPTIONS);
  if (args.length) throw new UsageError('');
  const incremental = !!values.get('incremental');
  const writeChainFile = values.get('write-chain-file') !== false;
  if (!writeChainFile && !incremental) throw new UsageError('cannot use --no-write-chain-file without --incremental');
  const base = values.get('base') as string | undefined;
  if (base !== undefined && writeChainFile) throw new UsageError('cannot use --base without --no-write-chain-file');
  await objectDir(ctx, values);
  const options: WriteMidxOptions & { progress?: ProgressSink } = {
    incremental,
    bitmap: !!values.get('bitmap'),
    writeChainFile,
    writeRev: gitEnvBool(process.env.GIT_TEST_MIDX_WRITE_REV),
  };
  const snapshot = values.get('refs-snapshot') as string | undefined;
  if (snapshot !== undefined) options.refsSnapshot = path.resolve(snapshot);
  const preferred = values.get('preferred-pack') as string | undefined;
  if (preferred !== undefined) options.preferredPack = preferred;
  // git 2.55's `write` checks --base against --no-write-chain-file and then does not use
  // its value: any value, the empty one included (t5334 passes one), writes on the tip
  if (values.get('stdin-packs')) options.stdinPacks = await readStdinLines(ctx);
  const progress = ctx.progressFor(values.get('progress') as boolean | undefined);
  let checksum: string | null;
  try {
    checksum = await ctx.odb.writeMidx({ ...options, progress });
  } catch (err) {
    throw bitmapEnding(err) ?? gitEnding(err);
  }
  traceBitmap(ctx, options.bitmap, checksum);
  if (checksum && !writeChainFile) await ctx.out.write(`${checksum}\n`);
  return 0;
}

/** The trace2 region git enters when it writes a bitmap lookup table (t5326 looks for it). */
function traceBitmap(ctx: CommandContext, bitmap: boolean | undefined, checksum: string | null): void {
  if (bitmap && checksum && configBool(ctx.odb.config, 'pack.writeBitmapLookupTable', false)) traceRegion('pack-bitmap-write', 'writing_lookup_table');
}

// ---------------------------------------------------------------- compact

export async function compactCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, COMPACT_OPTIONS);
  if (args.length !== 2) throw new UsageError('');
  const incremental = !!values.get('incremental');
  const writeChainFile = values.get('write-chain-file') !== false;
  if (!writeChainFile && !incremental) throw new UsageError('cannot use --no-write-chain-file without --incremental');
  await objectDir(ctx, values);
  const options: CompactMidxOptions & { progress?: ProgressSink } = {
    from: args[0],
    to: args[1],
    incremental,
    bitmap: !!values.get('bitmap'),
    writeChainFile,
    writeRev: gitEnvBool(process.env.GIT_TEST_MIDX_WRITE_REV),
  };
  const base = values.get('base') as string | undefined;
  if (base !== undefined) options.base = base;
  const progress = ctx.progressFor(values.get('progress') as boolean | undefined);
  let checksum: string | null;
  try {
    checksum = await ctx.odb.compactMidx({ ...options, progress });
  } catch (err) {
    throw bitmapEnding(err) ?? gitEnding(err);
  }
  traceBitmap(ctx, options.bitmap, checksum);
  if (checksum && !writeChainFile) await ctx.out.write(`${checksum}\n`);
  return 0;
}

// ---------------------------------------------------------------- verify

export async function verifyCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, VERIFY_OPTIONS);
  if (args.length) throw new UsageError('');
  await objectDir(ctx, values);
  // verify loads the MIDX afresh and reports every problem itself
  ctx.muteWarnings();
  const gitOnly = !!values.get('git-only');
  const progress = ctx.progressFor(values.get('progress') as boolean | undefined);
  let result;
  try {
    result = await ctx.odb.verifyMidx({ gitOnly, progress });
  } catch (err) {
    throw gitEnding(err);
  }
  if (result.problems.length) ctx.err(result.problems.map((p) => `${p.stderr}\n`).join(''));
  return gitOnly ? result.gitExitCode : result.exitCode;
}

// ---------------------------------------------------------------- expire

export async function expireCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, EXPIRE_OPTIONS);
  if (args.length) throw new UsageError('');
  await objectDir(ctx, values);
  const progress = ctx.progressFor(values.get('progress') as boolean | undefined);
  try {
    await ctx.odb.expireMidx({ progress });
  } catch (err) {
    throw gitEnding(err);
  }
  return 0;
}

// ---------------------------------------------------------------- repack

/** OPT_UNSIGNED's reading of `--batch-size` (git_parse_ulong), with its error texts. */
export function parseBatchSize(value: string): number {
  if (value === '') throw new UsageError("option `batch-size' expects a numerical value", { withUsage: false });
  const n = parseGitUnsigned(value);
  if (n === 'invalid') throw new UsageError("option `batch-size' expects a non-negative integer value with an optional k/m/g suffix", { withUsage: false });
  // git prints the bounds of an unsigned long as signed: [0,-1]
  if (n === 'range') throw new UsageError(`value ${value} for option \`batch-size' not in range [0,-1]`, { withUsage: false });
  // beyond 2^53 every batch is larger than any pack set: the same selection
  return n > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(n);
}

export async function repackCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, REPACK_OPTIONS);
  const given = values.get('batch-size') as string | undefined;
  const batchSize = given === undefined ? 0 : parseBatchSize(given);
  if (args.length) throw new UsageError('');
  await objectDir(ctx, values);
  const progress = ctx.progressFor(values.get('progress') as boolean | undefined);
  try {
    await ctx.odb.repackMidx({ batchSize, progress });
  } catch (err) {
    throw gitEnding(err);
  }
  return 0;
}
