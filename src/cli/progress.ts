/**
 * git's progress meter on stderr (progress.c): `Title:  42% (420/1000)\r`
 * rewritten in place whenever the percentage changes (or every second for
 * counts without a total), then `Title: 100% (1000/1000), done.` and a
 * newline. Shown only when enabled (stderr is a terminal, or `--progress`).
 * Like git's delayed progress, a meter given a delay stays silent for work
 * that finishes sooner.
 */

export interface ProgressSink {
  /**
   * Starts a meter. `total` > 0: a percentage; 0: a plain counter; < 0: no
   * count at all, the elapsed time is shown instead. `delayMs`: nothing is
   * shown for work that ends sooner (git's delayed progress).
   */
  start(title: string, total: number, delayMs?: number): Meter;
}

export interface Meter {
  update(n: number): void;
  /** the final line (`, done.`), if anything was shown */
  stop(): void;
}

const NOOP_METER: Meter = { update() {}, stop() {} };

export const NO_PROGRESS: ProgressSink = { start: () => NOOP_METER };

class TerminalMeter implements Meter {
  private last = -1;
  private lastLen = 0;
  private shown = false;
  private n = 0;
  private readonly startedAt = Date.now();
  private lastShownAt = 0;
  private timer: NodeJS.Timeout | null = null;
  private stopped = false;

  constructor(
    private readonly write: (s: string) => void,
    private readonly title: string,
    private readonly total: number,
    private readonly delayMs: number,
  ) {
    if (delayMs <= 0) this.display(false, true);
    // counters without a total, and slow work, are refreshed once a second (git's SIGALRM tick)
    this.timer = setInterval(() => this.display(false, true), 1000);
    this.timer.unref();
  }

  private counters(): string {
    if (this.total < 0) return `${Math.floor((Date.now() - this.startedAt) / 1000)}s`;
    if (!this.total) return `${this.n}`;
    const percent = Math.floor((this.n * 100) / this.total);
    return `${String(percent).padStart(3)}% (${this.n}/${this.total})`;
  }

  private display(done: boolean, tick: boolean): void {
    if (!done && Date.now() - this.startedAt < this.delayMs) return;
    if (done && !this.shown && Date.now() - this.startedAt < this.delayMs) return;
    const percent = this.total > 0 ? Math.floor((this.n * 100) / this.total) : -1;
    if (!done && !tick && (percent === this.last || Date.now() - this.lastShownAt < 50)) return;
    this.last = percent;
    this.lastShownAt = Date.now();
    let counters = this.counters();
    // no count at all: the elapsed time, once there is a second to show
    if (this.total < 0 && counters === '0s') counters = '';
    const clear = counters.length < this.lastLen ? this.lastLen - counters.length + 1 : 0;
    this.lastLen = counters.length;
    this.shown = true;
    if (done) this.write(`${this.title}: ${counters ? `${counters}, ` : ''}done.${' '.repeat(clear)}\n`);
    else this.write(`${this.title}: ${counters}${' '.repeat(clear)}\r`);
  }

  update(n: number): void {
    if (this.stopped) return;
    this.n = n;
    this.display(false, false);
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    if (this.total > 0 && this.n < this.total && this.shown) this.n = this.total;
    this.display(true, true);
  }
}

/** Progress on `stream` (stderr). */
export function terminalProgress(stream: { write(s: string): unknown }): ProgressSink {
  return {
    start: (title, total, delayMs = 0) => new TerminalMeter((s) => stream.write(s), title, total, delayMs),
  };
}

/**
 * Whether to show progress: `--progress` / `--no-progress` when given,
 * otherwise when stderr is a terminal (git's isatty(2)).
 */
export function progressWanted(flag: boolean | undefined, stderrIsTTY: boolean | undefined): boolean {
  return flag ?? !!stderrIsTTY;
}
