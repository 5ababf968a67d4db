/**
 * `midx-odb cat-file`: git's `cat-file` for the object database.
 *
 *   cat-file (-t | -s | -p | -e) <object>
 *   cat-file <type> <object>
 *   cat-file (--batch | --batch-check)[=<format>] [--batch-all-objects] [--buffer] [-z]
 *
 * Output is byte for byte git's (2.39 to 2.55 agree here): batch lines
 * `<oid> <type> <size>`, `<input> missing`, `<input> ambiguous`; -p prints
 * trees as ls-tree does and everything else raw. Errors, option checks and
 * exit statuses are git's. Object contents go to stdout without a second
 * copy, with backpressure; stdin is read as a stream.
 */

import { configBool } from '../config.js';
import { AmbiguousError, NotFoundError } from '../errors.js';
import type { Odb, ObjectType } from '../index.js';
import { ambiguityReport } from './ambiguous.js';
import { type OptionSpec, parseOptions } from './args.js';
import { Die, UsageError } from './errors.js';
import { resolveName } from './names.js';
import type { CommandContext } from './context.js';
import { formatTree } from './pretty.js';
import { internalsOf } from '../odb/odb.js';

export const CAT_FILE_USAGE = [
  'midx-odb cat-file <type> <object>',
  'midx-odb cat-file (-e | -p) <object>',
  'midx-odb cat-file (-t | -s) <object>',
  'midx-odb cat-file (--batch | --batch-check | --batch-command) [--batch-all-objects]\n                 [--buffer] [--unordered] [-z]',
];

export const CAT_FILE_OPTIONS: OptionSpec[] = [
  { short: 'e', kind: 'cmdmode', key: 'mode', value: 'e', help: 'check if <object> exists' },
  { short: 'p', kind: 'cmdmode', key: 'mode', value: 'p', help: 'pretty-print <object> content' },
  { short: 't', kind: 'cmdmode', key: 'mode', value: 't', help: "show object type (one of 'blob', 'tree', 'commit', 'tag', ...)" },
  { short: 's', kind: 'cmdmode', key: 'mode', value: 's', help: 'show object size' },
  { long: 'allow-unknown-type', kind: 'bool', help: 'allow -s and -t to work with broken/corrupt objects' },
  { long: 'batch', kind: 'optstring', argh: '<format>', help: 'show full <object> or <rev> contents' },
  { long: 'batch-check', kind: 'optstring', argh: '<format>', help: "like --batch, but don't emit <contents>" },
  { short: 'z', kind: 'bool', key: 'z', help: 'stdin is NUL-terminated' },
  { long: 'batch-all-objects', kind: 'bool', help: 'with --batch[-check]: ignores stdin, batches all known objects' },
  { long: 'buffer', kind: 'bool', help: 'buffer --batch output' },
  { long: 'unordered', kind: 'bool', help: 'do not order objects before emitting them' },
  { long: 'follow-symlinks', kind: 'bool', help: 'follow in-tree symlinks (not supported)' },
  { long: 'textconv', kind: 'cmdmode', key: 'mode', value: 'c', help: 'run textconv on object\'s content (not supported)', hidden: true },
  { long: 'filters', kind: 'cmdmode', key: 'mode', value: 'w', help: "run filters on object's content (not supported)", hidden: true },
  { long: 'batch-command', kind: 'optstring', argh: '<format>', help: 'read commands from stdin' },
];

export type CatFileContext = Pick<CommandContext, 'odb' | 'refs' | 'out' | 'stdin' | 'err'>;

const TYPES: ObjectType[] = ['commit', 'tree', 'blob', 'tag'];

/** Command-line arguments are UTF-8 strings; names are handled as byte strings (see names.ts). */
function bytesOf(arg: string): string {
  return Buffer.from(arg, 'utf8').toString('latin1');
}

// ---------------------------------------------------------------- batch format

interface Format {
  pieces: Array<{ literal: string } | { atom: 'objectname' | 'objecttype' | 'objectsize' | 'rest' }>;
  needsInfo: boolean;
  splitOnWhitespace: boolean;
}

const DEFAULT_FORMAT = '%(objectname) %(objecttype) %(objectsize)';

/** git's expand_format over strbuf_expand: `%%` is `%`, `%(atom)`, anything else after `%` is literal. */
export function parseFormat(format: string): Format {
  const pieces: Format['pieces'] = [];
  let literal = '';
  let needsInfo = false;
  let splitOnWhitespace = false;
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      literal += c;
      continue;
    }
    const next = format[i + 1];
    if (next === '%') {
      literal += '%';
      i++;
      continue;
    }
    if (next !== '(') {
      literal += '%';
      continue;
    }
    const end = format.indexOf(')', i + 2);
    if (end < 0) throw new Die(`format element '${format.slice(i + 1)}' does not end in ')'`);
    const atom = format.slice(i + 2, end);
    if (atom === 'objectname' || atom === 'objecttype' || atom === 'objectsize' || atom === 'rest') {
      if (literal) pieces.push({ literal });
      literal = '';
      pieces.push({ atom });
      if (atom === 'objecttype' || atom === 'objectsize') needsInfo = true;
      if (atom === 'rest') splitOnWhitespace = true;
    } else if (atom === 'objectsize:disk' || atom === 'deltabase') {
      throw new Die(`format element %(${atom}) is not supported by midx-odb`);
    } else {
      throw new Die(`unknown format element: ${atom}`);
    }
    i = end;
  }
  if (literal) pieces.push({ literal });
  return { pieces, needsInfo, splitOnWhitespace };
}

function expand(format: Format, oid: string, type: string, size: number, rest: string | null): string {
  let s = '';
  for (const p of format.pieces) {
    if ('literal' in p) s += p.literal;
    else if (p.atom === 'objectname') s += oid;
    else if (p.atom === 'objecttype') s += type;
    else if (p.atom === 'objectsize') s += String(size);
    else if (rest !== null) s += rest;
  }
  return s;
}

// ---------------------------------------------------------------- the command

export async function catFile(ctx: CatFileContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, CAT_FILE_OPTIONS);
  const mode = values.get('mode') as string | undefined;
  const batch = values.get('batch') as string | undefined;
  const batchCheck = values.get('batch-check') as string | undefined;
  const batchCommand = values.get('batch-command') as string | undefined;
  if ([batch, batchCheck, batchCommand].filter((v) => v !== undefined).length > 1) throw new UsageError('only one batch option may be specified', { withUsage: false });
  if (mode === 'c' || mode === 'w') throw new Die(`--${mode === 'c' ? 'textconv' : 'filters'} is not supported by midx-odb`);
  const batchEnabled = batch !== undefined || batchCheck !== undefined || batchCommand !== undefined;

  if (!batchEnabled) {
    for (const [key, name] of [
      ['follow-symlinks', '--follow-symlinks'],
      ['buffer', '--buffer'],
      ['batch-all-objects', '--batch-all-objects'],
      ['z', '-z'],
    ] as const) {
      if (values.get(key)) throw new UsageError(`'${name}' requires a batch mode`, { fatal: true });
    }
  }

  if (batchEnabled) {
    if (mode) throw new UsageError(`'-${mode}' is incompatible with batch mode`, { fatal: true });
    if (args.length) throw new UsageError('batch modes take no arguments', { fatal: true });
    if (values.get('follow-symlinks')) throw new Die('--follow-symlinks is not supported by midx-odb');
    const format = parseFormat((batch ?? batchCheck ?? batchCommand) || DEFAULT_FORMAT);
    if (batchCommand !== undefined) {
      if (values.get('batch-all-objects')) throw new UsageError("'--batch-all-objects' is incompatible with '--batch-command'", { fatal: true });
      return runBatchCommand(ctx, { format: { ...format, splitOnWhitespace: false }, contents: false, all: false, nul: !!values.get('z') }, !!values.get('buffer'));
    }
    return runBatch(ctx, {
      format,
      contents: batch !== undefined,
      all: !!values.get('batch-all-objects'),
      nul: !!values.get('z'),
    });
  }

  let name: string;
  let expectedType: string | undefined;
  if (mode) {
    if (args.length === 1) name = args[0];
    else if (args.length === 0) throw new UsageError(`<object> required with '-${mode}'`, { fatal: true });
    else throw new UsageError('too many arguments', { fatal: true });
  } else if (args.length === 0) {
    throw new UsageError('', { withUsage: true });
  } else if (args.length !== 2) {
    throw new UsageError(`only two arguments allowed in <type> <object> mode, not ${args.length}`, { fatal: true });
  } else {
    expectedType = args[0];
    name = args[1];
  }
  return catOne(ctx, mode, expectedType, bytesOf(name));
}

/** Resolves a name for the single-object modes; dies as git does when it names nothing. */
async function resolveOrDie(ctx: CatFileContext, name: string): Promise<string> {
  let oid: string | null;
  try {
    oid = await resolveName(ctx.odb, ctx.refs, name);
  } catch (err) {
    if (!(err instanceof AmbiguousError)) throw err;
    throw new Die(`Not a valid object name ${name}`, 128, await ambiguityReport(ctx.odb, err));
  }
  if (!oid) throw new Die(`Not a valid object name ${name}`);
  return oid;
}

async function headerOrNull(odb: Odb, oid: string) {
  try {
    return await odb.readHeader(oid);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

async function readOrNull(odb: Odb, oid: string) {
  try {
    return await odb.read(oid);
  } catch (err) {
    if (err instanceof NotFoundError) return null;
    throw err;
  }
}

async function catOne(ctx: CatFileContext, mode: string | undefined, expectedType: string | undefined, name: string): Promise<number> {
  const { odb, out } = ctx;
  const oid = await resolveOrDie(ctx, name);
  if (expectedType !== undefined && !TYPES.includes(expectedType as ObjectType)) throw new Die(`invalid object type "${expectedType}"`);
  switch (mode) {
    case 'e':
      return (await odb.exists(oid)) ? 0 : 1;
    case 't':
    case 's': {
      const h = await headerOrNull(odb, oid);
      if (!h) throw new Die('git cat-file: could not get object info');
      await out.write(`${mode === 't' ? h.type : h.size}\n`);
      return 0;
    }
    case 'p': {
      const obj = await readOrNull(odb, oid);
      if (!obj) throw new Die(`Not a valid object name ${name}`);
      if (obj.type === 'tree') {
        const quotePath = configBool(odb.config, 'core.quotepath', true);
        await out.write(formatTree(obj.data, odb.hash.rawLength, quotePath));
      } else {
        await out.write(obj.data);
      }
      return 0;
    }
    default: {
      // <type> <object>: git's read_object_with_reference (a tag is followed to its object, a commit to its tree)
      let current = oid;
      for (let depth = 0; depth < 64; depth++) {
        const obj = await readOrNull(odb, current);
        if (!obj) break;
        if (obj.type === expectedType) {
          await out.write(obj.data);
          return 0;
        }
        const ref = obj.type === 'commit' ? 'tree ' : obj.type === 'tag' ? 'object ' : null;
        if (!ref) break;
        const head = Buffer.from(obj.data.buffer, obj.data.byteOffset, Math.min(obj.data.byteLength, ref.length + odb.hash.hexLength)).toString('latin1');
        if (!head.startsWith(ref) || !/^[0-9a-f]+$/.test(head.slice(ref.length)) || head.length !== ref.length + odb.hash.hexLength) break;
        current = head.slice(ref.length);
      }
      throw new Die(`git cat-file ${name}: bad file`);
    }
  }
}

// ---------------------------------------------------------------- batch

interface BatchOptions {
  format: Format;
  contents: boolean;
  all: boolean;
  nul: boolean;
}

const LF = Buffer.from('\n');

/** Queues a line (a byte string) and flushes when enough has gathered. */
function line(ctx: CatFileContext, text: string): Promise<void> | undefined {
  return ctx.out.line(text) ? ctx.out.flush() : undefined;
}

async function emit(ctx: CatFileContext, opts: BatchOptions, oid: string, rest: string | null, inputName: string): Promise<void> {
  const { odb, out } = ctx;
  if (opts.contents) {
    const obj = await readOrNull(odb, oid);
    if (!obj) return line(ctx, `${inputName} missing\n`);
    out.line(expand(opts.format, oid, obj.type, obj.data.length, rest) + '\n');
    await out.write(obj.data);
    await out.write(LF);
    return;
  }
  if (!opts.format.needsInfo && opts.all) {
    // git skips the lookup when the format needs nothing from the object
    return line(ctx, expand(opts.format, oid, '', 0, rest) + '\n');
  }
  const h = await headerOrNull(odb, oid);
  if (!h) return line(ctx, `${inputName} missing\n`);
  return line(ctx, expand(opts.format, oid, h.type, h.size, rest) + '\n');
}

/** A full object id: the common case of batch input, resolved without the name machinery. */
function isFullHex(s: string, hexLength: number): boolean {
  if (s.length !== hexLength) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66) || (c >= 0x41 && c <= 0x46))) return false;
  }
  return true;
}

async function batchLine(ctx: CatFileContext, opts: BatchOptions, input: string): Promise<void> {
  let name = input;
  let rest: string | null = null;
  if (opts.format.splitOnWhitespace) {
    const m = /[ \t]/.exec(input);
    if (m) {
      name = input.slice(0, m.index);
      rest = input.slice(m.index).replace(/^[ \t]+/, '');
    }
  }
  if (isFullHex(name, ctx.odb.hash.hexLength)) return emit(ctx, opts, name.toLowerCase(), rest, name);
  let oid: string | null;
  try {
    oid = await resolveName(ctx.odb, ctx.refs, name);
  } catch (err) {
    if (!(err instanceof AmbiguousError)) throw err;
    ctx.err((await ambiguityReport(ctx.odb, err)).join('\n') + '\n');
    return line(ctx, `${name} ambiguous\n`);
  }
  if (!oid) return line(ctx, `${name} missing\n`);
  await emit(ctx, opts, oid, rest, name);
}

async function runBatch(ctx: CatFileContext, opts: BatchOptions): Promise<number> {
  if (opts.all) {
    // every object's header: one pass over each pack beats a chain walk per object
    if (opts.format.needsInfo && !opts.contents) await internalsOf(ctx.odb).packBackend.prepareHeaders();
    for await (const oid of ctx.odb.listOids()) await emit(ctx, opts, oid, null, oid);
    await ctx.out.flush();
    return 0;
  }
  const sep = opts.nul ? 0 : 0x0a;
  let carry: Buffer | null = null;
  const handle = async (raw: Buffer) => {
    let end = raw.length;
    // strbuf_getline drops the CR of a CRLF line ending (not with -z)
    if (!opts.nul && end > 0 && raw[end - 1] === 0x0d) end--;
    await batchLine(ctx, opts, raw.toString('latin1', 0, end));
  };
  for await (const chunk of ctx.stdin() as AsyncIterable<Buffer | string>) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    const buf: Buffer = carry ? Buffer.concat([carry, data]) : data;
    let start = 0;
    for (let nl = buf.indexOf(sep, start); nl >= 0; nl = buf.indexOf(sep, start)) {
      await handle(buf.subarray(start, nl));
      start = nl + 1;
    }
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
    // answer what was asked so far: a process driving --batch line by line is not kept waiting
    await ctx.out.flush();
  }
  if (carry && carry.length) await handle(carry);
  await ctx.out.flush();
  return 0;
}

/** Stdin split into records (LF, or NUL with -z; a CR before the LF dropped), as a stream. */
async function* records(ctx: CatFileContext, nul: boolean): AsyncGenerator<string> {
  const sep = nul ? 0 : 0x0a;
  let carry: Buffer | null = null;
  const text = (raw: Buffer) => {
    let end = raw.length;
    if (!nul && end > 0 && raw[end - 1] === 0x0d) end--;
    return raw.toString('latin1', 0, end);
  };
  for await (const chunk of ctx.stdin() as AsyncIterable<Buffer | string>) {
    const data = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    const buf: Buffer = carry ? Buffer.concat([carry, data]) : data;
    let start = 0;
    for (let nl = buf.indexOf(sep, start); nl >= 0; nl = buf.indexOf(sep, start)) {
      yield text(buf.subarray(start, nl));
      start = nl + 1;
    }
    carry = start < buf.length ? Buffer.from(buf.subarray(start)) : null;
  }
  if (carry && carry.length) yield text(carry);
}

/**
 * git's --batch-command: `contents <object>`, `info <object>` and, with
 * --buffer, `flush`; without --buffer each command is answered at once. The
 * whole argument names the object (no %(rest) split), as in git.
 */
async function runBatchCommand(ctx: CatFileContext, opts: BatchOptions, buffered: boolean): Promise<number> {
  const queue: Array<{ contents: boolean; name: string }> = [];
  const dispatch = async () => {
    for (const q of queue) await batchLine(ctx, { ...opts, contents: q.contents }, q.name);
    queue.length = 0;
    await ctx.out.flush();
  };
  for await (const input of records(ctx, opts.nul)) {
    if (!input.length) throw new Die('empty command in input');
    if (/^\s/.test(input)) throw new Die(`whitespace before command: '${input}'`);
    const m = /^(contents|info|flush)(?=$| )/.exec(input);
    if (!m) throw new Die(`unknown command: '${input}'`);
    const cmd = m[1];
    const after = input.slice(cmd.length);
    if (cmd === 'flush') {
      if (after.length) throw new Die('flush takes no arguments');
      if (!buffered) throw new Die('flush is only for --buffer mode');
      await dispatch();
      continue;
    }
    if (!after.startsWith(' ')) throw new Die(`${cmd} requires arguments`);
    queue.push({ contents: cmd === 'contents', name: after.slice(1) });
    if (!buffered) await dispatch();
  }
  await dispatch();
  return 0;
}
