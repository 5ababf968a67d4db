/**
 * The only place that touches a file system. It accepts what isomorphic-git
 * accepts (node's fs, fs.promises, memfs volumes, LightningFS and other
 * promise-only clients, callback clients) and offers the few verbs the rest of
 * the library needs, above all random-access files: positional reads where the
 * client has them (node/memfs file handles, synchronous where the client offers
 * readSync), and a whole-file fallback with a memory budget where it has not.
 */

import { CorruptError, LockError, NotAFileError } from '../errors.js';
import { type AnyFn, errorCode, isPromiseLike } from '../util.js';

export interface FileStat {
  size: number;
  mtimeMs: number;
  isFile: boolean;
  isDirectory: boolean;
}

/** A file opened for reading at arbitrary positions. */
export interface RandomAccessFile {
  readonly path: string;
  /** size when opened */
  readonly size: number;
  /** true when read() returns plain values (no promise) */
  readonly sync: boolean;
  /**
   * Exactly `len` bytes at `pos`. A read past the end is a CorruptError naming
   * the file (callers check bounds first; this is the last line of defence).
   */
  read(pos: number, len: number): Uint8Array | Promise<Uint8Array>;
  /**
   * Synchronous files only: the bytes in a scratch buffer shared by every file,
   * valid until the next readScratch call. Saves an allocation per entry on
   * hot paths that consume the bytes at once (inflate).
   */
  readScratch?(pos: number, len: number): Uint8Array;
  /** Exactly `len` bytes at `pos` into target[0, len): a caller that streams reuses its own buffer. */
  readInto(target: Uint8Array, pos: number, len: number): void | Promise<void>;
  close(): void | Promise<void>;
}

/** A new file written front to back (a temporary file, renamed into place once complete). */
export interface WritableFile {
  readonly path: string;
  /** appends the bytes; the caller may reuse the buffer once this resolves */
  write(data: Uint8Array): Promise<void>;
  close(): Promise<void>;
  /**
   * Whether `path` still names the file this created (same device and inode,
   * not replaced by a symlink or another file); true where the client cannot
   * tell. A lock holder checks it before renaming the lock into place.
   */
  isStillAt(): Promise<boolean>;
}

/** What the library needs of a file system, normalised. */
export interface Fs {
  /** the client as the caller gave it (for isomorphic-git) */
  readonly client: unknown;
  /** A regular file read whole (ENOENT when missing, NotAFileError when not a regular file). */
  readFile(path: string): Promise<Uint8Array>;
  /**
   * A regular file read whole; null when it does not exist. NotAFileError when
   * something else stands there (directory, FIFO, device: never blocks),
   * CorruptError when it is larger than `limit` bytes (nothing is read then).
   */
  tryReadFile(path: string, limit?: number): Promise<Uint8Array | null>;
  /** null when the directory does not exist */
  readdir(path: string): Promise<string[] | null>;
  /** null when nothing is there */
  stat(path: string): Promise<FileStat | null>;
  /**
   * The same, synchronously: only for clients that have `statSync` (node's fs,
   * memfs). Hot paths (a miss's change check, a loose lookup) use it to spare a
   * trip through the thread pool; they fall back to `stat` where it is absent.
   */
  statSync?(path: string): FileStat | null;
  /**
   * Opens a regular file for positional reads. Never blocks (O_NONBLOCK where
   * the client has flags, so a FIFO opens at once) and checks what it opened:
   * NotAFileError for a directory, FIFO, device, socket or symlink loop.
   */
  open(path: string): Promise<RandomAccessFile>;
  writeFile(path: string, data: Uint8Array | string, mode?: number): Promise<void>;
  /**
   * Creates `path` (O_EXCL; LockError when something is there) for appending.
   * Clients without file handles (LightningFS) collect the chunks and write the
   * file whole on close: documented, as their memory then grows with the file.
   */
  openWrite(path: string): Promise<WritableFile>;
  /** openWrite for a lock file: created exclusively, written only through its own descriptor */
  openLock(path: string): Promise<WritableFile>;
  /** Creates `path` only if nothing is there (O_EXCL); LockError when something is. */
  createExclusive(path: string, data?: Uint8Array | string, mode?: number): Promise<void>;
  rename(from: string, to: string): Promise<void>;
  unlink(path: string): Promise<void>;
  /** unlink that ignores a missing file */
  remove(path: string): Promise<void>;
  mkdir(path: string): Promise<void>;
  /** hard link, or a copy (write + rename) where the client has no links */
  linkOrCopy(from: string, to: string): Promise<void>;
  utimes?(path: string, atime: number, mtime: number): Promise<void>;
  /** bytes budget of the whole-file fallback cache */
  wholeFileBudget: number;
}


/** isomorphic-git's own test: does readFile() return a promise? */
function isPromiseApi(obj: any): boolean {
  try {
    const r = obj.readFile();
    if (isPromiseLike(r)) {
      (r as Promise<unknown>).then(undefined, () => {});
      return true;
    }
    return false;
  } catch {
    return false;
  }
}

function promisify(fn: AnyFn, self: unknown): AnyFn {
  return (...args: unknown[]) =>
    new Promise((resolve, reject) => {
      fn.call(self, ...args, (err: unknown, value: unknown) => (err ? reject(err) : resolve(value)));
    });
}

function toFileStat(s: any): FileStat {
  const isFile = typeof s.isFile === 'function' ? s.isFile() : s.type === 'file';
  const isDirectory = typeof s.isDirectory === 'function' ? s.isDirectory() : s.type === 'dir';
  const mtimeMs = typeof s.mtimeMs === 'number' ? s.mtimeMs : s.mtime instanceof Date ? s.mtime.getTime() : Number(s.mtime ?? 0);
  return { size: Number(s.size), mtimeMs, isFile, isDirectory };
}

export function isNotFound(err: unknown): boolean {
  const code = errorCode(err);
  return code === 'ENOENT' || code === 'ENOTDIR';
}

function toBytes(data: unknown): Uint8Array {
  if (data instanceof Uint8Array) return data;
  if (typeof data === 'string') return new TextEncoder().encode(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError('file system returned neither bytes nor a string');
}

/**
 * Opens again, with growing pauses (about 2 s in all), while the process is
 * out of file descriptors (EMFILE/ENFILE): a caller such as isomorphic-git's
 * checkout may hold thousands open for a moment, and a lazily opened pack
 * should wait for them rather than fail.
 */
async function retryOnFileTableFull<T>(open: () => T | Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await open();
    } catch (err) {
      const code = errorCode(err);
      if ((code !== 'EMFILE' && code !== 'ENFILE') || attempt >= 10) throw err;
      await new Promise((resolve) => setTimeout(resolve, 5 * 2 ** Math.min(attempt, 8)));
    }
  }
}

/** A FileHandle-like face for a callback client's file descriptor (read, stat, close). */
function descriptorHandle(client: any, fd: number) {
  const read = promisify(client.read, client);
  const fstat = promisify(client.fstat, client);
  const close = promisify(client.close, client);
  return {
    async read(buf: Uint8Array, off: number, len: number, pos: number) {
      // node's callback read answers (bytesRead, buffer)
      const n = await read(fd, buf, off, len, pos);
      return { bytesRead: typeof n === 'number' ? n : (n as { bytesRead: number }).bytesRead };
    },
    stat: () => fstat(fd),
    close: () => close(fd),
  };
}

/** What a stat result describes, for the message of a NotAFileError; null for a regular file. */
function notAFile(st: any): string | null {
  if (!st) return null;
  // a handle whose stat cannot tell (an OPFS access handle) opened a file
  if (typeof st.isFile !== 'function' && st.type === undefined) return null;
  const is = (m: string) => typeof st[m] === 'function' && st[m]();
  if (typeof st.isFile === 'function' ? st.isFile() : st.type === 'file') return null;
  if (is('isDirectory') || st.type === 'dir') return 'a directory';
  if (is('isFIFO')) return 'a named pipe (FIFO)';
  if (is('isCharacterDevice')) return 'a character device';
  if (is('isBlockDevice')) return 'a block device';
  if (is('isSocket')) return 'a socket';
  return 'not a regular file';
}

/**
 * The typed error for an open that failed because of what stands at `path`
 * (a directory, a symlink loop, a special file, an impossible name), or the
 * error itself when it is about something else (missing file, permissions).
 */
function openFailure(path: string, err: unknown): unknown {
  const code = errorCode(err);
  if (code === 'EISDIR') return new NotAFileError(path, 'is a directory, not a file', { cause: err });
  if (code === 'ELOOP') return new NotAFileError(path, 'too many levels of symbolic links (a symlink loop?)', { cause: err });
  if (code === 'ENXIO' || code === 'ENODEV') return new NotAFileError(path, 'is a special file, not a regular file', { cause: err });
  if (code === 'ENAMETOOLONG') return new CorruptError(path, 'file name too long', { cause: err });
  return err;
}

/**
 * The error for an exclusive create (a lock, a temporary file) that failed:
 * LockError with git's wording when something is there or the directory is
 * not writable, else the error itself.
 */
function createFailure(path: string, err: unknown): unknown {
  const code = errorCode(err);
  if (code === 'EEXIST') return new LockError(path);
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return new LockError(path, code === 'EROFS' ? 'Read-only file system' : 'Permission denied');
  if (code === 'ENOTDIR' || code === 'ENOENT') return new LockError(path, code === 'ENOENT' ? 'No such file or directory' : 'Not a directory');
  return err;
}

/** A created file's device and inode, where the client reports them. */
function identity(st: any): { dev: unknown; ino: unknown } | null {
  return st && st.ino !== undefined && st.ino !== 0 ? { dev: st.dev, ino: st.ino } : null;
}

/** Whether an lstat result is the created file itself (not a symlink put in its place). */
function sameFile(made: { dev: unknown; ino: unknown }, st: any): boolean {
  if (typeof st?.isSymbolicLink === 'function' && st.isSymbolicLink()) return false;
  return st?.ino === made.ino && st?.dev === made.dev;
}

/** largest read served by the shared scratch buffer */
const SCRATCH_MAX = 4 * 1024 * 1024;

const DEFAULT_WHOLE_FILE_BUDGET = 256 * 1024 * 1024;

/** Files read whole (clients without positional reads), kept within a byte budget, least recently used first out. */
class WholeFileCache {
  private entries = new Map<string, { key: string; data: Uint8Array }>();
  private bytes = 0;
  constructor(
    private readonly fs: Fs,
    /** the client's own readFile (the cache serves fs.open itself: it cannot go through it) */
    private readonly readRaw: (path: string) => Promise<Uint8Array>,
  ) {}
  async get(path: string, size: number): Promise<Uint8Array> {
    const key = `${path}\0${size}`;
    const hit = this.entries.get(key);
    if (hit) {
      this.entries.delete(key);
      this.entries.set(key, hit);
      return hit.data;
    }
    const data = await this.readRaw(path);
    const budget = this.fs.wholeFileBudget;
    if (data.length <= budget) {
      this.entries.set(key, { key, data });
      this.bytes += data.length;
      for (const [k, e] of this.entries) {
        if (this.bytes <= budget) break;
        this.entries.delete(k);
        this.bytes -= e.data.length;
      }
    }
    return data;
  }
  drop(path: string): void {
    for (const [k, e] of this.entries) {
      if (e.key.startsWith(path + '\0')) {
        this.entries.delete(k);
        this.bytes -= e.data.length;
      }
    }
  }
}

function shortRead(path: string, pos: number, len: number, got: number): CorruptError {
  return new CorruptError(path, `short read: wanted ${len} bytes at offset ${pos}, file has ${got}`);
}

/**
 * What normalizeFs learned of a client: its promise API (`p`: its own, its
 * enumerable `promises`, or its callbacks promisified), its synchronous
 * descriptor calls (`syncIo`, node's fs and memfs), whether `p` opens files,
 * the flags to open for reading, and the FileHandle API that creates files
 * with O_EXCL (`handles`).
 */
interface ClientShape {
  client: any;
  p: any;
  syncIo: any | null;
  hasOpen: boolean;
  readFlags: number | string;
  handles: any | null;
}

/** the shared scratch buffer of one normalised client (readScratch) */
interface Scratch {
  buf: Uint8Array;
}

/**
 * A synchronous file over `readAt(buf, off, len, pos)` (bytes read): node's
 * and memfs's readSync, or a handle's readSync (createOpfsFs).
 */
function syncFile(path: string, size: number, scratch: Scratch, readAt: (buf: Uint8Array, off: number, len: number, pos: number) => number, closeIt: () => void): RandomAccessFile {
  let closed = false;
  /** reads [pos, pos+len) into buf[0, len) */
  const fill = (buf: Uint8Array, pos: number, len: number): Uint8Array => {
    if (pos < 0 || pos + len > size) throw shortRead(path, pos, len, size);
    let done = 0;
    while (done < len) {
      const n = readAt(buf, done, len - done, pos + done);
      if (!n) throw shortRead(path, pos, len, pos + done);
      done += n;
    }
    return buf;
  };
  return {
    path,
    size,
    sync: true,
    read(pos: number, len: number): Uint8Array {
      return fill(new Uint8Array(len), pos, len);
    },
    readInto(target: Uint8Array, pos: number, len: number): void {
      fill(target, pos, len);
    },
    readScratch(pos: number, len: number): Uint8Array {
      // a big entry gets a buffer of its own, so that the shared one never
      // keeps hundreds of megabytes alive after one large object
      const s = scratch.buf;
      const buf = len > SCRATCH_MAX ? new Uint8Array(len) : s.length >= len ? s : (scratch.buf = new Uint8Array(Math.min(SCRATCH_MAX, Math.max(len, s.length * 2))));
      return fill(buf, pos, len).subarray(0, len);
    },
    close() {
      if (!closed) {
        closed = true;
        closeIt();
      }
    },
  };
}

/** A file opened through the synchronous descriptor calls (regular files only). */
async function openSyncFile(c: ClientShape, path: string, scratch: Scratch): Promise<RandomAccessFile> {
  const syncIo = c.syncIo;
  let fd: number;
  try {
    fd = await retryOnFileTableFull(() => syncIo.openSync(path, c.readFlags));
  } catch (err) {
    throw openFailure(path, err);
  }
  let st;
  try {
    st = syncIo.fstatSync(fd);
  } catch (err) {
    syncIo.closeSync(fd);
    throw err;
  }
  const what = notAFile(st);
  if (what) {
    syncIo.closeSync(fd);
    throw new NotAFileError(path, `is ${what}, not a regular file`);
  }
  return syncFile(
    path,
    Number(st.size),
    scratch,
    (buf, off, len, pos) => syncIo.readSync(fd, buf, off, len, pos),
    () => syncIo.closeSync(fd),
  );
}

/** A file opened through the promise API's open (a FileHandle, or a descriptor of a callback client). */
async function openHandleFile(c: ClientShape, path: string, scratch: Scratch): Promise<RandomAccessFile> {
  let fh;
  try {
    fh = await retryOnFileTableFull(() => c.p.open(path, c.readFlags));
  } catch (err) {
    throw openFailure(path, err);
  }
  if (typeof fh === 'number') fh = descriptorHandle(c.client, fh);
  let st;
  try {
    st = await fh.stat();
  } catch (err) {
    await fh.close();
    throw err;
  }
  const what = notAFile(st);
  if (what) {
    await fh.close();
    throw new NotAFileError(path, `is ${what}, not a regular file`);
  }
  const size = Number(st.size);
  // a handle that reads synchronously (createOpfsFs's, over FileSystemSyncAccessHandle)
  if (typeof fh.readSync === 'function') {
    return syncFile(
      path,
      size,
      scratch,
      (buf, off, len, pos) => fh.readSync(buf, off, len, pos),
      () => void fh.close(),
    );
  }
  const readInto = async (buf: Uint8Array, pos: number, len: number) => {
    if (pos < 0 || pos + len > size) throw shortRead(path, pos, len, size);
    let done = 0;
    while (done < len) {
      const { bytesRead } = await fh.read(buf, done, len - done, pos + done);
      if (!bytesRead) throw shortRead(path, pos, len, pos + done);
      done += bytesRead;
    }
  };
  return {
    path,
    size,
    sync: false,
    async read(pos: number, len: number) {
      const buf = new Uint8Array(len);
      await readInto(buf, pos, len);
      return buf;
    },
    readInto,
    async close() {
      await fh.close();
    },
  };
}

/** A file of a client with no positional reads: its bytes read whole (cached within the budget) and sliced. */
async function openWholeFile(fs: Fs, wholeFiles: WholeFileCache, path: string): Promise<RandomAccessFile> {
  let st: FileStat | null;
  try {
    st = await fs.stat(path);
  } catch (err) {
    throw openFailure(path, err);
  }
  if (!st) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
  if (!st.isFile) throw new NotAFileError(path, `is ${st.isDirectory ? 'a directory' : 'not a regular file'}, not a regular file`);
  const size = st.size;
  const read = async (pos: number, len: number) => {
    if (pos < 0 || pos + len > size) throw shortRead(path, pos, len, size);
    const data = await wholeFiles.get(path, size);
    if (pos + len > data.length) throw shortRead(path, pos, len, data.length);
    return data.subarray(pos, pos + len);
  };
  return {
    path,
    size,
    sync: false,
    read,
    async readInto(target: Uint8Array, pos: number, len: number) {
      target.set(await read(pos, len));
    },
    close() {
      wholeFiles.drop(path);
    },
  };
}

/** A new file (O_EXCL) written through the synchronous descriptor calls. */
function syncWritable(c: ClientShape, path: string): WritableFile {
  const { client, syncIo } = c;
  let fd: number;
  try {
    fd = syncIo.openSync(path, 'wx');
  } catch (err) {
    throw createFailure(path, err);
  }
  let closed = false;
  const made = identity(syncIo.fstatSync(fd));
  return {
    path,
    async write(data) {
      for (let done = 0; done < data.length; ) done += client.writeSync(fd, data, done, data.length - done);
    },
    async isStillAt() {
      if (!made || typeof client.lstatSync !== 'function') return true;
      try {
        return sameFile(made, client.lstatSync(path));
      } catch {
        return false;
      }
    },
    async close() {
      if (!closed) {
        closed = true;
        syncIo.closeSync(fd);
      }
    },
  };
}

/** A new file (O_EXCL) written through a FileHandle API, or a callback client's descriptor. */
async function handleWritable(c: ClientShape, path: string): Promise<WritableFile> {
  const { client, p, handles } = c;
  let fh: any;
  try {
    fh = await handles.open(path, 'wx');
  } catch (err) {
    throw createFailure(path, err);
  }
  const fd = typeof fh === 'number' ? fh : -1;
  const write = fd >= 0 ? promisify(client.write, client) : null;
  let closed = false;
  const made = identity(await (fd >= 0 ? descriptorHandle(client, fd).stat() : fh.stat()).catch(() => null));
  const lstat = typeof handles.lstat === 'function' ? (q: string) => handles.lstat(q) : typeof p.lstat === 'function' ? (q: string) => p.lstat(q) : null;
  return {
    path,
    async isStillAt() {
      if (!made || !lstat) return true;
      try {
        return sameFile(made, await lstat(path));
      } catch {
        return false;
      }
    },
    async write(data) {
      for (let done = 0; done < data.length; ) {
        const n = write ? await write(fd, data, done, data.length - done, null) : await fh.write(data, done, data.length - done);
        done += typeof n === 'number' ? n : (n as { bytesWritten: number }).bytesWritten;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      if (fd >= 0) await promisify(client.close, client)(fd);
      else await fh.close();
    },
  };
}

/** A new file of a client with neither: created empty (exclusively, as far as the client can), its bytes kept and written whole at close. */
async function bufferedWritable(fs: Fs, path: string): Promise<WritableFile> {
  await fs.createExclusive(path);
  const chunks: Uint8Array[] = [];
  return {
    path,
    async isStillAt() {
      return true;
    },
    async write(data) {
      chunks.push(data.slice());
    },
    async close() {
      let n = 0;
      for (const c of chunks) n += c.length;
      const all = new Uint8Array(n);
      n = 0;
      for (const c of chunks) {
        all.set(c, n);
        n += c.length;
      }
      chunks.length = 0;
      await fs.writeFile(path, all);
    },
  };
}

/** createExclusive through a FileHandle API (O_EXCL), its mode set after the bytes are written. */
async function createWithHandles(c: ClientShape, fs: Fs, path: string, bytes: Uint8Array, mode: number | undefined): Promise<void> {
  const { client, handles } = c;
  let fh: any;
  try {
    // created writable, then given its mode: memfs refuses to write a file it opened as 0444
    fh = await handles.open(path, 'wx');
  } catch (err) {
    throw createFailure(path, err);
  }
  try {
    if (typeof fh === 'number') {
      // a callback client's open gives a descriptor
      for (let done = 0; done < bytes.length; ) done += await promisify(client.write, client)(fh, bytes, done, bytes.length - done, done);
    } else if (bytes.length) await fh.writeFile(bytes);
  } catch (err) {
    // a half-written file (a full disk) is not left behind
    await (typeof fh === 'number' ? promisify(client.close, client)(fh) : fh.close()).catch(() => {});
    fh = null;
    await fs.remove(path).catch(() => {});
    throw err;
  } finally {
    if (fh !== null) {
      if (typeof fh === 'number') await promisify(client.close, client)(fh);
      else await fh.close();
    }
  }
  if (mode !== undefined) {
    const chmod = typeof handles.chmod === 'function' ? handles.chmod.bind(handles) : typeof client.chmod === 'function' ? promisify(client.chmod, client) : null;
    if (chmod) await chmod(path, mode);
  }
}

/** What normalizeFs finds in a client (see ClientShape). */
function clientShape(client: any): ClientShape {
  const desc = Object.getOwnPropertyDescriptor(client, 'promises');
  let p: any;
  if (desc && desc.enumerable && client.promises) p = client.promises;
  else if (isPromiseApi(client)) p = client;
  else {
    p = {};
    for (const name of ['readFile', 'writeFile', 'readdir', 'stat', 'lstat', 'unlink', 'rename', 'mkdir', 'rmdir', 'link', 'utimes', 'chmod']) {
      if (typeof client[name] === 'function') p[name] = promisify(client[name], client);
    }
    // positional reads through descriptors need the whole set
    if (['open', 'read', 'fstat', 'close'].every((n) => typeof client[n] === 'function')) p.open = promisify(client.open, client);
  }
  // synchronous positional reads: node's fs and memfs volumes have these
  const syncIo =
    typeof client.openSync === 'function' && typeof client.readSync === 'function' && typeof client.closeSync === 'function' && typeof client.fstatSync === 'function'
      ? client
      : null;
  const hasOpen = typeof p.open === 'function';
  // read-only and non-blocking: opening a FIFO must not wait for a writer
  const constants = client.constants ?? client.promises?.constants;
  const readFlags: number | string =
    constants && typeof constants.O_RDONLY === 'number' && typeof constants.O_NONBLOCK === 'number' ? constants.O_RDONLY | constants.O_NONBLOCK : 'r';
  // O_EXCL through a FileHandle API: the client's own promises (even a
  // non-enumerable one, as memfs volumes have), or its promisified open
  const handles = client.promises && typeof client.promises.open === 'function' ? client.promises : hasOpen ? p : null;
  return { client, p, syncIo, hasOpen, readFlags, handles };
}

/**
 * Normalises an fs client. Recognises, in this order: an object with an
 * enumerable `promises` (node fs, memfs volumes) whose sync calls are also used
 * for positional reads; a promise API (fs.promises, LightningFS's promises); a
 * callback API (promisified).
 */
export function normalizeFs(client: any, options: { wholeFileBudget?: number } = {}): Fs {
  if (!client || typeof client !== 'object') throw new TypeError('openOdb: `fs` must be a file system client');
  const c = clientShape(client);
  const { p, syncIo, hasOpen } = c;
  const statSyncFn = typeof client.statSync === 'function' ? client.statSync : null;
  const scratch: Scratch = { buf: new Uint8Array(64 * 1024) };

  /** openWrite; a lock prefers the client's FileHandle API (awaitable, as other writers' hooks expect) to the sync calls */
  async function openWrite(path: string, preferSync: boolean): Promise<WritableFile> {
    if (syncIo && typeof client.writeSync === 'function' && (preferSync || !(client.promises && typeof client.promises.open === 'function'))) return syncWritable(c, path);
    if (c.handles) return handleWritable(c, path);
    return bufferedWritable(fs, path);
  }

  const fs: Fs = {
    client,
    wholeFileBudget: options.wholeFileBudget ?? DEFAULT_WHOLE_FILE_BUDGET,
    async readFile(path) {
      // through open: a regular file only, never blocking on a FIFO
      const bytes = await fs.tryReadFile(path);
      if (!bytes) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return bytes;
    },
    async tryReadFile(path, limit = Infinity) {
      let f: RandomAccessFile;
      try {
        f = await fs.open(path);
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
      try {
        if (f.size > limit) throw new CorruptError(path, `file is ${f.size} bytes, more than the ${limit} bytes such a file may have`);
        const r = f.read(0, f.size);
        return isPromiseLike(r) ? await r : r;
      } finally {
        await f.close();
      }
    },
    async readdir(path) {
      try {
        const names = await p.readdir(path);
        return (names as unknown[]).map((n) => (typeof n === 'string' ? n : String((n as { name?: string }).name ?? n)));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw openFailure(path, err);
      }
    },
    async stat(path) {
      try {
        return toFileStat(await p.stat(path));
      } catch (err) {
        if (isNotFound(err)) return null;
        throw openFailure(path, err);
      }
    },
    statSync: statSyncFn
      ? (path: string) => {
          try {
            // node answers a missing path with undefined instead of building an error
            const s = statSyncFn.call(client, path, { throwIfNoEntry: false });
            return s ? toFileStat(s) : null;
          } catch (err) {
            if (isNotFound(err)) return null;
            throw openFailure(path, err);
          }
        }
      : undefined,
    async open(path) {
      if (syncIo) return openSyncFile(c, path, scratch);
      if (hasOpen) return openHandleFile(c, path, scratch);
      return openWholeFile(fs, wholeFiles, path);
    },
    async writeFile(path, data, mode) {
      await p.writeFile(path, data, mode === undefined ? undefined : { mode });
    },
    openWrite(path) {
      return openWrite(path, true);
    },
    openLock(path) {
      return openWrite(path, false);
    },
    async createExclusive(path, data = new Uint8Array(0), mode) {
      const bytes = toBytes(data);
      if (c.handles) return createWithHandles(c, fs, path, bytes, mode);
      // No O_EXCL in this client (LightningFS): check, then write. A single
      // browser tab serialises its own writers through the odb, so this is
      // documented as best effort across tabs.
      if (await fs.stat(path)) throw new LockError(path);
      await fs.writeFile(path, bytes, mode);
    },
    async rename(from, to) {
      if (typeof p.rename === 'function') {
        try {
          await p.rename(from, to);
        } catch (err) {
          const code = errorCode(err);
          if (code === 'EISDIR' || code === 'ENOTEMPTY' || code === 'EEXIST') throw new NotAFileError(to, `is a directory; '${from}' cannot replace it`, { cause: err });
          throw err;
        }
        return;
      }
      // no rename in this client: copy then unlink (not atomic; documented)
      await fs.writeFile(to, await fs.readFile(from));
      await fs.unlink(from);
    },
    async unlink(path) {
      await p.unlink(path);
    },
    async remove(path) {
      try {
        await p.unlink(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
    },
    async mkdir(path) {
      try {
        await p.mkdir(path);
      } catch (err) {
        const code = errorCode(err);
        if (code === 'ENOTDIR') throw new NotAFileError(path, 'cannot be created: a part of its path is not a directory', { cause: err });
        if (code !== 'EEXIST') throw openFailure(path, err);
        const st = await fs.stat(path);
        if (st && !st.isDirectory) throw new NotAFileError(path, 'is not a directory');
      }
    },
    async linkOrCopy(from, to) {
      if (typeof p.link === 'function') {
        try {
          await p.link(from, to);
          return;
        } catch (err) {
          const code = errorCode(err);
          if (code === 'EEXIST') return;
          if (code !== 'ENOSYS' && code !== 'EPERM' && code !== 'EXDEV' && code !== 'ENOTSUP') throw err;
        }
      }
      const tmp = `${to}.tmp-copy`;
      await fs.writeFile(tmp, await fs.readFile(from));
      await fs.rename(tmp, to);
    },
  };
  if (typeof p.utimes === 'function') fs.utimes = async (path, atime, mtime) => p.utimes(path, atime, mtime);
  const wholeFiles = new WholeFileCache(fs, async (path) => toBytes(await p.readFile(path)));
  return fs;
}

/** `a/b//c/` → `a/b/c`, `a/x/../b` → `a/b`, `./x` → `x`: posix paths, as isomorphic-git uses on every fs. */
export function normalizePath(p: string): string {
  const abs = p.startsWith('/');
  const out: string[] = [];
  for (const part of p.split(/[\\/]+/)) {
    if (!part || part === '.') continue;
    if (part === '..' && out.length && out[out.length - 1] !== '..') out.pop();
    else if (part !== '..' || !abs) out.push(part);
  }
  return (abs ? '/' : '') + out.join('/');
}

/** Joins path parts with '/', as isomorphic-git does (it uses posix paths on every fs). */
export function join(...parts: string[]): string {
  let out = '';
  for (const part of parts) {
    if (!part) continue;
    if (!out) out = part;
    else out = out.endsWith('/') ? out + part.replace(/^\/+/, '') : `${out}/${part.replace(/^\/+/, '')}`;
  }
  return out;
}

/**
 * The names in directory `path` in the order the directory itself yields them
 * (readdir(3) order, what git sees when it scans a pack directory), where the
 * client can tell: an `opendir` whose Dir iterates entries as the directory
 * gives them (node's fs and fs.promises, memfs). node's `readdir` sorts its
 * result, so it cannot serve here. Resolves to undefined when the client has no
 * such listing (its `readdir` order means nothing), to null when the directory
 * does not exist.
 */
export async function readdirInDirectoryOrder(fs: Fs, path: string): Promise<string[] | null | undefined> {
  const client = fs.client as any;
  let open: (() => unknown) | null = null;
  if (client?.promises && typeof client.promises.opendir === 'function') open = () => client.promises.opendir(path);
  else if (typeof client?.opendir === 'function') open = () => client.opendir(path);
  if (!open) return undefined;
  let dir: any;
  try {
    dir = open();
  } catch {
    // a callback-style opendir without its callback
    return undefined;
  }
  if (!isPromiseLike(dir)) return undefined;
  try {
    dir = await dir;
  } catch (err) {
    if (isNotFound(err)) return null;
    throw err;
  }
  if (!dir || typeof dir[Symbol.asyncIterator] !== 'function') {
    await dir?.close?.();
    return undefined;
  }
  const names: string[] = [];
  for await (const entry of dir as AsyncIterable<{ name: unknown }>) names.push(String(entry.name));
  return names;
}
