/**
 * Progress events and cancellation for long work (writeMidx, compactMidx,
 * verifyMidx, repackMidx, writePack), in isomorphic-git's shapes: `onProgress`
 * receives `{ phase, loaded, total }` (GitProgressEvent) and `signal` is an
 * AbortSignal, as isomorphic-git takes them.
 *
 * Inside, both ride on the `Progress` meters the work already drives with git's
 * titles: each meter start and update emits an event and checks the signal, so
 * aborting is noticed within one update (every pack, or every 1024 objects).
 *
 * The guarantee: work that rejects because of the signal has changed nothing in
 * the repository (no file, lock or directory is left behind). Each writer has a
 * point after which it finishes what it started (its files are being renamed
 * into place); the signal is not looked at past that point, and the call then
 * resolves normally.
 */

import type { Progress, ProgressMeter } from './types.js';

/** isomorphic-git's GitProgressEvent. `total` is 0 while the total is unknown. */
export interface ProgressEvent {
  /** git's title for the step: `Writing objects`, `Adding packfiles to multi-pack-index`, `Verifying object offsets`... */
  phase: string;
  loaded: number;
  total: number;
}

export type ProgressCallback = (event: ProgressEvent) => void;

/** Accepted by every long operation. */
export interface ProgressOptions {
  /** called at the start of each phase and as it advances (isomorphic-git's `onProgress`) */
  onProgress?: ProgressCallback;
  /** aborting rejects the call with `signal.reason` (an `AbortError` DOMException by default) and leaves the repository as it was */
  signal?: AbortSignal;
}

/** The rejection for an aborted signal: its reason, or an AbortError. */
export function abortReason(signal: AbortSignal): unknown {
  if (signal.reason !== undefined) return signal.reason;
  return new DOMException('This operation was aborted', 'AbortError');
}

/**
 * One operation's view of its signal. `commit()` marks the point of no return:
 * from then on `check()` never throws and the meters no longer look at the signal.
 */
export class AbortGate {
  private committed = false;
  constructor(readonly signal?: AbortSignal) {}

  /** true when the signal fired and the work has not passed its point of no return */
  get aborted(): boolean {
    return !this.committed && !!this.signal?.aborted;
  }

  check(): void {
    if (this.aborted) throw abortReason(this.signal!);
  }

  commit(): void {
    this.committed = true;
  }

  /** Did `err` come from this gate's signal? */
  isAbort(err: unknown): boolean {
    return !!this.signal?.aborted && (err === this.signal.reason || (err instanceof Error && err.name === 'AbortError'));
  }
}

/**
 * The meters of `options.progress` (if any), emitting `onProgress` events and
 * checking the gate at every start and update. Undefined when there is nothing
 * to report to and nothing to check.
 */
export function progressWith(options: { progress?: Progress; onProgress?: ProgressCallback }, gate?: AbortGate): Progress | undefined {
  const { progress, onProgress } = options;
  if (!onProgress && !gate?.signal) return progress;
  return {
    start(title: string, total: number): ProgressMeter {
      gate?.check();
      const inner = progress?.start(title, total);
      const t = total > 0 ? total : 0;
      onProgress?.({ phase: title, loaded: 0, total: t });
      let last = 0;
      return {
        update(done: number) {
          gate?.check();
          inner?.update(done);
          if (done !== last) {
            last = done;
            onProgress?.({ phase: title, loaded: done, total: t });
          }
        },
        stop() {
          inner?.stop();
        },
      };
    },
  };
}
