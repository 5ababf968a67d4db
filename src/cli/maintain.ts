/**
 * `midx-odb maintenance`: odb.maintain() on the command line, git 2.55's
 * `git repack -d -l --geometric=<factor> --write-midx=incremental` decisions.
 * Prints what it did (or, with --dry-run, what it would do), one line per
 * change, or the whole result as JSON.
 */

import type { MaintainOptions, MaintainResult } from '../index.js';
import { type OptionSpec, parseOptions } from './args.js';
import type { CommandContext } from './context.js';
import { UsageError } from './errors.js';
import { gitEnding } from './midx.js';

export const MAINTAIN_USAGE =
  'midx-odb [<options>] maintenance [--dry-run] [--json] [--geometric=<n>]\n  [--midx-split-factor=<n>] [--midx-new-layer-threshold=<n>]\n  [--[no-]packs] [--[no-]loose] [--[no-]bitmap]';

export const MAINTAIN_OPTIONS: OptionSpec[] = [
  { long: 'dry-run', short: 'n', kind: 'bool', help: 'say what would be done, change nothing', negatable: false },
  { long: 'json', kind: 'bool', help: 'print the result as JSON' },
  { long: 'geometric', kind: 'string', argh: '<n>', help: 'geometric factor between packs (default 2)' },
  { long: 'midx-split-factor', kind: 'string', argh: '<n>', help: 'repack.midxSplitFactor (default: config, else 2)' },
  { long: 'midx-new-layer-threshold', kind: 'string', argh: '<n>', help: 'repack.midxNewLayerThreshold (default: config, else 8)' },
  { long: 'packs', kind: 'bool', help: 'merge packs (default); --no-packs merges layers only' },
  { long: 'loose', kind: 'bool', help: 'pack loose objects and remove packed ones (default)' },
  { long: 'bitmap', kind: 'bool', help: 'new layers carry RIDX/BTMP chunks (default: repack.writeBitmaps)' },
  { long: 'progress', kind: 'bool', help: 'force progress reporting' },
];

function intOption(v: unknown, name: string): number | undefined {
  if (v === undefined) return undefined;
  const s = String(v);
  if (!/^-?[0-9]+$/.test(s)) throw new UsageError(`option \`${name}' expects an integer value with an optional k/m/g suffix`);
  return Number(s);
}

function describe(r: MaintainResult): string[] {
  const lines: string[] = [];
  const verb = r.dryRun ? 'would ' : '';
  if (r.rolledUp.length) lines.push(`${verb}roll up ${r.rolledUp.length} pack(s) into one of ${r.packObjects} objects${r.looseObjects ? ` (${r.looseObjects} loose)` : ''}: ${r.rolledUp.join(' ')}`);
  else if (r.packObjects) lines.push(`${verb}pack ${r.looseObjects} loose object(s)`);
  if (r.pack) lines.push(`wrote ${r.pack.name}.pack (${r.pack.count} objects, ${r.pack.size} bytes)`);
  r.steps.forEach((s, i) => {
    const at = i === 0 ? 'tip' : `layer ${i}`;
    if (s.type === 'copy') lines.push(`${at}: keep ${s.checksum} (${s.objects} objects)`);
    else if (s.type === 'compact') lines.push(`${at}: ${verb}merge ${s.layers.length} layers ${s.layers.join(' ')}${s.checksum ? ` into ${s.checksum}` : ''}`);
    else lines.push(`${at}: ${verb}write a layer of ${s.packs.length} pack(s)${s.absorbs.length ? `, absorbing ${s.absorbs.length} layer(s)` : ''}${s.checksum ? `: ${s.checksum}` : ''}`);
  });
  if (r.deletedPacks.length) lines.push(`${r.dryRun ? 'would delete' : 'deleted'} ${r.deletedPacks.length} pack(s): ${r.deletedPacks.join(' ')}`);
  if (r.prunedLoose) lines.push(`removed ${r.prunedLoose} loose object(s) now packed`);
  if (r.converted) lines.push('the multi-pack-index became the root layer of a chain');
  if (!r.dryRun && !r.changed) lines.push('nothing to do');
  return lines;
}

export async function maintainCommand(ctx: CommandContext, argv: string[]): Promise<number> {
  const { values, args } = parseOptions(argv, MAINTAIN_OPTIONS);
  if (args.length) throw new UsageError('');
  const options: MaintainOptions = { dryRun: !!values.get('dry-run') };
  const geometric = intOption(values.get('geometric'), 'geometric');
  if (geometric !== undefined) options.geometric = geometric;
  const split = intOption(values.get('midx-split-factor'), 'midx-split-factor');
  if (split !== undefined) options.midxSplitFactor = split;
  const threshold = intOption(values.get('midx-new-layer-threshold'), 'midx-new-layer-threshold');
  if (threshold !== undefined) options.midxNewLayerThreshold = threshold;
  for (const k of ['packs', 'loose', 'bitmap'] as const) {
    const v = values.get(k);
    if (typeof v === 'boolean') options[k] = v;
  }
  const sink = ctx.progressFor(values.get('progress') as boolean | undefined);
  let result: MaintainResult;
  try {
    result = await ctx.odb.maintain({ ...options, progress: sink });
  } catch (err) {
    throw gitEnding(err);
  }
  if (values.get('json')) await ctx.out.write(`${JSON.stringify(result, null, 2)}\n`);
  else for (const line of describe(result)) await ctx.out.write(`${line}\n`);
  return 0;
}
