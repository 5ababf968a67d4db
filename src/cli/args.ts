/**
 * Command-line options parsed the way git's parse-options parses them, with
 * git's error texts: `--long`, `--long=value` or `--long value`, `--no-long`
 * for negatable options, unique abbreviations of long names, bundled short
 * switches (`-ts`), `--` to end the options, and options and arguments in
 * any order unless told to stop at the first argument (a subcommand).
 */

import { UsageError } from './errors.js';

export type OptionKind =
  /** a switch; `--no-x` turns it off when negatable */
  | 'bool'
  /** takes a value (`--x=v`, `--x v`, `-xv`, `-x v`); `--no-x` unsets it when negatable */
  | 'string'
  /** takes a value only through `--x=v` (git's PARSE_OPT_OPTARG); bare `--x` gives '' */
  | 'optstring'
  /** one of a group of mutually exclusive modes (git's OPT_CMDMODE): stored under `key` as the option's `value` */
  | 'cmdmode';

export interface OptionSpec {
  long?: string;
  short?: string;
  kind: OptionKind;
  /** where the result is stored; defaults to the long name */
  key?: string;
  /** the value a cmdmode option stores */
  value?: string;
  /** `--no-<long>` accepted (default: true for long options, as in git) */
  negatable?: boolean;
  /** the placeholder in the option list, e.g. `<pack>` */
  argh?: string;
  help: string;
  /** not listed in the usage text */
  hidden?: boolean;
}

export type OptionValues = Map<string, string | boolean | undefined>;

export interface Parsed {
  values: OptionValues;
  args: string[];
}

function keyOf(spec: OptionSpec): string {
  return spec.key ?? spec.long ?? spec.short!;
}

/** git's wording for a cmdmode option in conflict messages: `s` for -s, `--batch` style otherwise. */
function cmdmodeName(spec: OptionSpec): string {
  return spec.short ?? `--${spec.long}`;
}

export interface ParseSettings {
  /** stop at the first non-option argument (it and the rest are returned as args) */
  stopAtNonOption?: boolean;
}

/**
 * Parses `argv` against `specs`. Throws UsageError carrying git's message
 * (`unknown option`, `requires a value`...); `-h` throws UsageError with
 * `help: true` so that the caller prints the usage on stdout and exits 129.
 */
export function parseOptions(argv: string[], specs: OptionSpec[], settings: ParseSettings = {}): Parsed {
  const values: OptionValues = new Map();
  const args: string[] = [];
  const cmdmodeSeen = new Map<string, OptionSpec>();

  const setCmdmode = (spec: OptionSpec) => {
    const key = keyOf(spec);
    const prev = cmdmodeSeen.get(key);
    if (prev && prev !== spec) {
      throw new UsageError(`switch \`${cmdmodeName(spec)}' is incompatible with ${prev.short ? `-${prev.short}` : `--${prev.long}`}`, { withUsage: false });
    }
    cmdmodeSeen.set(key, spec);
    values.set(key, spec.value ?? spec.long ?? spec.short);
  };

  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      args.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('--')) {
      const eq = arg.indexOf('=');
      const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
      const inline = eq >= 0 ? arg.slice(eq + 1) : undefined;
      const { spec, negated } = findLong(specs, name);
      const key = keyOf(spec);
      if (negated) {
        if (inline !== undefined) throw new UsageError(`option \`no-${spec.long}' takes no value`, { withUsage: false });
        if (spec.kind === 'bool') values.set(key, false);
        else values.set(key, undefined);
        continue;
      }
      switch (spec.kind) {
        case 'bool':
          if (inline !== undefined) throw new UsageError(`option \`${spec.long}' takes no value`, { withUsage: false });
          values.set(key, true);
          break;
        case 'cmdmode':
          if (inline !== undefined) throw new UsageError(`option \`${spec.long}' takes no value`, { withUsage: false });
          setCmdmode(spec);
          break;
        case 'optstring':
          values.set(key, inline ?? '');
          break;
        case 'string':
          if (inline !== undefined) values.set(key, inline);
          else if (i + 1 < argv.length) values.set(key, argv[++i]);
          else throw new UsageError(`option \`${spec.long}' requires a value`, { withUsage: false });
          break;
      }
      continue;
    }
    if (arg.startsWith('-') && arg.length > 1) {
      for (let j = 1; j < arg.length; j++) {
        const c = arg[j];
        if (c === 'h' && !specs.some((s) => s.short === 'h')) throw new UsageError('', { help: true });
        const spec = specs.find((s) => s.short === c);
        if (!spec) throw new UsageError(`unknown switch \`${c}'`);
        const key = keyOf(spec);
        if (spec.kind === 'bool') values.set(key, true);
        else if (spec.kind === 'cmdmode') setCmdmode(spec);
        else {
          const rest = arg.slice(j + 1);
          if (rest) values.set(key, rest);
          else if (i + 1 < argv.length) values.set(key, argv[++i]);
          else throw new UsageError(`switch \`${c}' requires a value`, { withUsage: false });
          break;
        }
      }
      continue;
    }
    if (settings.stopAtNonOption) {
      args.push(...argv.slice(i));
      break;
    }
    args.push(arg);
  }
  return { values, args };
}

/** Exact name, `no-` form, or a unique abbreviation of either, as git accepts them. */
function findLong(specs: OptionSpec[], name: string): { spec: OptionSpec; negated: boolean } {
  if (name === 'help') throw new UsageError('', { help: true, long: true });
  const longs = specs.filter((s) => s.long);
  const negatable = (s: OptionSpec) => s.negatable ?? s.kind !== 'cmdmode';
  for (const s of longs) if (s.long === name) return { spec: s, negated: false };
  for (const s of longs) if (negatable(s) && `no-${s.long}` === name) return { spec: s, negated: true };
  const candidates: Array<{ spec: OptionSpec; negated: boolean; text: string }> = [];
  for (const s of longs) {
    if (s.long!.startsWith(name)) candidates.push({ spec: s, negated: false, text: s.long! });
    if (negatable(s) && `no-${s.long}`.startsWith(name)) candidates.push({ spec: s, negated: true, text: `no-${s.long}` });
  }
  if (candidates.length === 1 && name.length > 0) return candidates[0];
  if (candidates.length > 1 && name.length > 0) {
    throw new UsageError(`ambiguous option: ${name} (could be --${candidates[0].text} or --${candidates[1].text})`);
  }
  throw new UsageError(`unknown option \`${name}'`);
}

/** git's option list (`    --x <v>   help`), for usage texts. */
export function formatOptionList(specs: OptionSpec[]): string {
  const WIDTH = 24;
  const GAP = 2;
  let out = '';
  for (const s of specs) {
    if (s.hidden) continue;
    let left = '    ';
    if (s.short) left += `-${s.short}`;
    if (s.short && s.long) left += ', ';
    if (s.long) left += (s.negatable ?? s.kind !== 'cmdmode') && s.kind !== 'cmdmode' ? `--[no-]${s.long}` : `--${s.long}`;
    if (s.kind === 'string') left += ` ${s.argh ?? '<value>'}`;
    else if (s.kind === 'optstring') left += `[=${s.argh ?? '<value>'}]`;
    if (left.length <= WIDTH) out += `${left}${' '.repeat(WIDTH - left.length + GAP)}${s.help}\n`;
    else out += `${left}\n${' '.repeat(WIDTH + GAP)}${s.help}\n`;
  }
  return out;
}
