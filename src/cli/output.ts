/**
 * Standard output with backpressure: small pieces are gathered into one
 * buffer and written when it fills or when the caller flushes (at the end of
 * each batch of input lines, so a process driving `--batch` interactively gets
 * its answer at once); large pieces (object contents) are written as they are,
 * without a copy, and the writer waits for the stream to drain before taking
 * more. A closed pipe (EPIPE: `| head`) ends the command quietly, as git dies
 * of SIGPIPE.
 */

import type { Writable } from 'node:stream';

const GATHER_LIMIT = 64 * 1024;

/** Thrown out of a write once the reader has gone away. */
export class PipeClosed extends Error {
  constructor() {
    super('EPIPE');
  }
}

export class Output {
  private parts: Uint8Array[] = [];
  private pending = 0;
  /** byte-string text (one char per byte) not yet turned into `parts` */
  private text = '';
  private closed = false;
  private failure: Error | null = null;
  private waiters: Array<() => void> = [];

  constructor(private readonly stream: Writable) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      this.closed = true;
      if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') this.failure = err;
      this.release();
    });
    stream.on('close', () => {
      this.closed = true;
      this.release();
    });
  }

  private release(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.closed) throw new PipeClosed();
  }

  /**
   * Queues a byte string (each char one byte: latin1) without waiting; true
   * when enough has gathered that the caller should `flush()`. The cheap path
   * for the many short lines of --batch-check.
   */
  line(text: string): boolean {
    this.text += text;
    return this.text.length + this.pending >= GATHER_LIMIT;
  }

  private takeText(): void {
    if (!this.text) return;
    const bytes = Buffer.from(this.text, 'latin1');
    this.text = '';
    this.parts.push(bytes);
    this.pending += bytes.length;
  }

  /** Queues bytes (or a string, as UTF-8); writes when enough has gathered. */
  async write(data: Uint8Array | string): Promise<void> {
    this.check();
    this.takeText();
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    if (bytes.length >= GATHER_LIMIT) {
      await this.flush();
      await this.push(bytes);
      return;
    }
    this.parts.push(bytes);
    this.pending += bytes.length;
    if (this.pending >= GATHER_LIMIT) await this.flush();
  }

  /** Writes what has gathered and waits until the stream can take more. */
  async flush(): Promise<void> {
    this.check();
    this.takeText();
    if (!this.pending) return;
    const chunk = this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts, this.pending);
    this.parts = [];
    this.pending = 0;
    await this.push(chunk);
  }

  private async push(bytes: Uint8Array): Promise<void> {
    const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (!this.stream.write(buf)) {
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        this.stream.once('drain', () => this.release());
      });
    }
    this.check();
  }

  /** Flushes, then resolves once everything written so far has left the process. */
  async end(): Promise<void> {
    if (this.closed) return;
    this.takeText();
    await this.flush();
    await new Promise<void>((resolve) => {
      this.waiters.push(resolve);
      this.stream.write('', () => this.release());
    });
    if (this.failure) throw this.failure;
  }
}
