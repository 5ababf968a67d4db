/**
 * git's progress meters on stderr, as progress.c prints them:
 *
 * - `Title:  42% (420/1000)\r` when the percentage changes, or once a second
 *   (git's SIGALRM tick sets `progress_update`); a counter without a total is
 *   shown only on a tick: `Title: 42\r`;
 * - a shorter line is padded with spaces over the longer one it replaces;
 * - a line wider than the terminal is split: `Title:` on its own line, the
 *   counters under it, indented by two;
 * - stop: `Title: 100% (1000/1000), done.\n` (`Title: 42, done.\n`), but
 *   only if the meter was ever shown or updated past its delay;
 * - delayed meters (git's start_delayed_progress) stay silent until
 *   GIT_PROGRESS_DELAY seconds (default 2) of ticks have passed, counted at
 *   updates, so quick work prints nothing at all.
 *
 * git chooses per meter whether it is delayed; the library only names its
 * meters (with git's titles), so the choice is made here, by title.
 */

export interface ProgressSink {
  /** Starts a meter. `total` > 0: a percentage; 0: a plain counter. */
  start(title: string, total: number): Meter;
}

export interface Meter {
  update(n: number): void;
  /** the final line (`, done.`), if anything was shown */
  stop(): void;
}

const NOOP_METER: Meter = { update() {}, stop() {} };

export const NO_PROGRESS: ProgressSink = { start: () => NOOP_METER };

/** The meters git starts with start_delayed_progress (the others start at once). */
export const DELAYED_METERS = new Set([
  'Adding packfiles to multi-pack-index',
  'Writing chunks to multi-pack-index',
  'Looking for referenced packfiles',
  'Counting referenced objects',
  'Finding and deleting unreferenced packfiles',
]);

/** git_env_ulong("GIT_PROGRESS_DELAY", 2) */
export function progressDelay(env: NodeJS.ProcessEnv): number {
  const v = env.GIT_PROGRESS_DELAY;
  if (v === undefined) return 2;
  const n = parseGitUnsigned(v);
  return typeof n === 'bigint' ? Number(n) : 2;
}

/**
 * git_parse_unsigned / git_parse_ulong: strtoumax with base 0 (`0x..` hex,
 * `0..` octal), an optional k/m/g unit (any case), no minus sign. Returns the
 * value, or 'invalid' (EINVAL) / 'range' (ERANGE) as git distinguishes them.
 */
export function parseGitUnsigned(value: string, max: bigint = (1n << 64n) - 1n): bigint | 'invalid' | 'range' {
  if (value.includes('-')) return 'invalid';
  // strtoumax: leading white space, an optional '+', then digits of the base
  const m = /^[ \t\n\v\f\r]*\+?(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)(.*)$/s.exec(value);
  if (!m) return 'invalid';
  let digits = m[1];
  let rest = m[2];
  // "0x" with no hex digit after it is read as "0" followed by "x..."
  if (/^0[xX]$/.test(digits)) {
    rest = digits.slice(1) + rest;
    digits = '0';
  }
  let n: bigint;
  if (/^0[xX]/.test(digits)) n = BigInt(digits);
  else if (digits.length > 1 && digits.startsWith('0')) n = BigInt(`0o${digits.slice(1)}`);
  else n = BigInt(digits);
  // strtoumax saturates at UINTMAX_MAX with ERANGE
  if (n > (1n << 64n) - 1n) return 'range';
  let factor = 1n;
  if (rest === '') factor = 1n;
  else if (/^[kK]$/.test(rest)) factor = 1024n;
  else if (/^[mM]$/.test(rest)) factor = 1024n * 1024n;
  else if (/^[gG]$/.test(rest)) factor = 1024n * 1024n * 1024n;
  else return 'invalid';
  if (n > max / factor) return 'range';
  return n * factor;
}

/** One stderr, one `progress_update` flag, as git's process has. */
class Terminal {
  progressUpdate = false;
  constructor(
    readonly write: (s: string) => void,
    readonly columns: () => number,
  ) {}
}

class GitMeter implements Meter {
  private lastValue = -1;
  private lastPercent = -1;
  private counters = '';
  private split = false;
  private timer: NodeJS.Timeout | null;
  private readonly titleLen: number;

  constructor(
    private readonly term: Terminal,
    private readonly title: string,
    private total: number,
    private delay: number,
  ) {
    this.titleLen = [...title].length;
    // set_progress_signal: a tick every second from now
    term.progressUpdate = false;
    this.timer = setInterval(() => {
      term.progressUpdate = true;
    }, 1000);
    this.timer.unref();
  }

  private display(n: number, done: string | null): void {
    const term = this.term;
    if (this.delay && (!term.progressUpdate || --this.delay)) return;
    this.lastValue = n;
    const lastCountLen = this.counters.length;
    let show = false;
    if (this.total) {
      const percent = Math.floor((n * 100) / this.total);
      if (percent !== this.lastPercent || term.progressUpdate) {
        this.lastPercent = percent;
        this.counters = `${String(percent).padStart(3)}% (${n}/${this.total})`;
        show = true;
      }
    } else if (term.progressUpdate) {
      this.counters = `${n}`;
      show = true;
    }
    if (!show) return;
    const eol = done ?? '\r';
    const clearLen = this.counters.length < lastCountLen ? lastCountLen - this.counters.length + 1 : 0;
    const lineLen = this.titleLen + this.counters.length + 2;
    const cols = term.columns();
    if (this.split) {
      term.write(`  ${this.counters}${pad(clearLen, eol)}`);
    } else if (!done && cols < lineLen) {
      const clear = this.titleLen + 1 < cols ? cols - this.titleLen - 1 : 0;
      term.write(`${this.title}:${' '.repeat(clear)}\n  ${this.counters}${eol}`);
      this.split = true;
    } else {
      term.write(`${this.title}: ${this.counters}${pad(clearLen, eol)}`);
    }
    term.progressUpdate = false;
  }

  update(n: number): void {
    if (!this.timer) return;
    this.display(n, null);
  }

  stop(): void {
    if (!this.timer) return;
    if (this.lastValue !== -1) {
      this.term.progressUpdate = true;
      this.display(this.lastValue, ', done.\n');
    }
    clearInterval(this.timer);
    this.timer = null;
    this.term.progressUpdate = false;
  }
}

/** printf's `%*s` of `s` in a field of `width`: right-aligned. */
function pad(width: number, s: string): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

/**
 * Progress on `stream` (stderr). `delay`: GIT_PROGRESS_DELAY's seconds, for
 * the meters git delays; `columns`: the terminal's width (git's term_columns).
 */
export function terminalProgress(stream: { write(s: string): unknown }, options: { delay?: number; columns?: () => number } = {}): ProgressSink {
  const term = new Terminal((s) => stream.write(s), options.columns ?? (() => 80));
  const delay = options.delay ?? 2;
  return {
    start: (title, total) => new GitMeter(term, title, Math.max(0, total), DELAYED_METERS.has(title) ? delay : 0),
  };
}

/** git's term_columns: $COLUMNS when a positive number, else the width of stdout's terminal, else 80. */
export function termColumns(env: NodeJS.ProcessEnv, stdout: { isTTY?: boolean; columns?: number }): number {
  const c = Number(env.COLUMNS);
  if (env.COLUMNS && Number.isInteger(c) && c > 0) return c;
  if (stdout.isTTY && stdout.columns && stdout.columns > 0) return stdout.columns;
  return 80;
}

/**
 * Whether to show progress: `--progress` / `--no-progress` when given,
 * otherwise when stderr is a terminal (git's isatty(2)).
 */
export function progressWanted(flag: boolean | undefined, stderrIsTTY: boolean | undefined): boolean {
  return flag ?? !!stderrIsTTY;
}
