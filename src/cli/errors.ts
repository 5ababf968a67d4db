/**
 * How the command ends early, with git's exit statuses: a usage error (129,
 * the message then the usage text on stderr), a `fatal:` die (128), or an
 * `error:` that fails the command with another status (write and compact
 * return -1 from cmd_*, which exits 255).
 */

export class UsageError extends Error {
  /** `-h` / `--help`: print the usage on stdout (exit 129 for -h, 0 for --help) */
  readonly help: boolean;
  /** `--help` rather than `-h` */
  readonly long: boolean;
  /** print the usage text after the message (git omits it for some option errors) */
  readonly withUsage: boolean;
  /** `fatal:` rather than `error:` before the message (git's usage_msg_opt) */
  readonly fatal: boolean;
  constructor(message: string, options: { help?: boolean; long?: boolean; withUsage?: boolean; fatal?: boolean } = {}) {
    super(message);
    this.help = !!options.help;
    this.long = !!options.long;
    this.withUsage = options.withUsage ?? true;
    this.fatal = !!options.fatal;
  }
}

/** `fatal: <message>` (unless `message` is empty), then exit with `status` (git's die: 128). */
export class Die extends Error {
  constructor(
    message: string,
    readonly status = 128,
    /** lines printed before the fatal line (git's error:/hint: lines) */
    readonly before: string[] = [],
  ) {
    super(message);
  }
}

/** Lines already printed; exit with `status` (a failed write: 255; verify: 1). */
export class Exit extends Error {
  constructor(
    readonly status: number,
    readonly lines: string[] = [],
  ) {
    super(`exit ${status}`);
  }
}
