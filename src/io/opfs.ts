/**
 * createOpfsFs(root): an fs client over the Origin Private File System, for a
 * dedicated Worker. It has the promise API isomorphic-git takes (readFile,
 * writeFile, readdir, mkdir, rmdir, unlink, stat, lstat, rename, readlink,
 * symlink) and, for this library, `open(path, flags)` with FileHandle-style
 * positional reads: packs and indexes are read a range at a time through
 * FileSystemSyncAccessHandle.read(buffer, { at }), never whole (LightningFS
 * stores whole files in IndexedDB, so every pack is read whole there).
 *
 * Where it runs: FileSystemSyncAccessHandle exists only in dedicated workers.
 * Handles are opened 'read-only' where the browser knows that mode (several
 * readers at once; Chromium 121+), else exclusively and shared within this
 * client: one handle per file, reused by every reader. A file being removed,
 * replaced or renamed through this client has its handle closed first; a later
 * read of it reopens it (or fails with ENOENT if it is gone). Another tab or
 * worker holding a file open exclusively makes opening it fail with EBUSY.
 *
 * Paths are POSIX-style, resolved from `root` (default: the origin's OPFS root,
 * `navigator.storage.getDirectory()`); `/repo/.git` and `repo/.git` are the same.
 * Not supported: symlinks (readlink and symlink reject with ENOSYS), modes and
 * utimes (mtimes are the time of the last write, as OPFS keeps them).
 * rename() of a file over an existing one removes the old one first (OPFS has
 * no atomic replace); readers of this library never see a half-written file,
 * because files are written under temporary names and then renamed.
 */

/** The parts of the File System Access API used here (declared locally: TypeScript's DOM lib lacks some in window scope). */
interface SyncAccessHandle {
  read(buffer: Uint8Array, options?: { at?: number }): number;
  write(buffer: Uint8Array, options?: { at?: number }): number;
  truncate(size: number): void;
  getSize(): number;
  flush(): void;
  close(): void;
}
interface FileHandle {
  readonly kind: 'file';
  readonly name: string;
  getFile(): Promise<File>;
  createSyncAccessHandle(options?: { mode?: 'read-only' | 'readwrite' | 'readwrite-unsafe' }): Promise<SyncAccessHandle>;
  move?(parent: DirHandle, name: string): Promise<void>;
}
interface DirHandle {
  readonly kind: 'directory';
  readonly name: string;
  getDirectoryHandle(name: string, options?: { create?: boolean }): Promise<DirHandle>;
  getFileHandle(name: string, options?: { create?: boolean }): Promise<FileHandle>;
  removeEntry(name: string, options?: { recursive?: boolean }): Promise<void>;
  keys(): AsyncIterable<string>;
  move?(parent: DirHandle, name: string): Promise<void>;
}

export interface OpfsStat {
  type: 'file' | 'dir';
  mode: number;
  size: number;
  ino: number;
  mtimeMs: number;
  ctimeMs: number;
  uid: number;
  gid: number;
  dev: number;
  isFile(): boolean;
  isDirectory(): boolean;
  isSymbolicLink(): boolean;
}

/** A FileHandle-like object (node's fs.promises.FileHandle subset) for positional reads and appends. */
export interface OpfsFileHandle {
  /** positional read, synchronous (handles opened with flags 'r'): bytes read */
  readSync?(buffer: Uint8Array, offset: number, length: number, position: number): number;
  read(buffer: Uint8Array, offset: number, length: number, position: number): Promise<{ bytesRead: number; buffer: Uint8Array }>;
  write(buffer: Uint8Array, offset?: number, length?: number): Promise<{ bytesWritten: number; buffer: Uint8Array }>;
  writeFile(data: Uint8Array | string): Promise<void>;
  stat(): Promise<OpfsStat>;
  close(): Promise<void>;
}

export interface OpfsFs {
  readFile(path: string, options?: string | { encoding?: string | null }): Promise<Uint8Array | string>;
  writeFile(path: string, data: Uint8Array | string, options?: unknown): Promise<void>;
  readdir(path: string): Promise<string[]>;
  mkdir(path: string, options?: unknown): Promise<void>;
  rmdir(path: string): Promise<void>;
  unlink(path: string): Promise<void>;
  stat(path: string): Promise<OpfsStat>;
  lstat(path: string): Promise<OpfsStat>;
  rename(from: string, to: string): Promise<void>;
  readlink(path: string): Promise<string>;
  symlink(target: string, path: string): Promise<void>;
  /** flags: 'r' (read) or 'wx' (create, failing with EEXIST when something is there) */
  open(path: string, flags?: string): Promise<OpfsFileHandle>;
  /** Closes every handle this client holds open. */
  closeAll(): Promise<void>;
}

const CODES: Record<string, string> = {
  NotFoundError: 'ENOENT',
  TypeMismatchError: 'ENOTDIR',
  InvalidModificationError: 'ENOTEMPTY',
  NoModificationAllowedError: 'EBUSY',
  NotAllowedError: 'EACCES',
  QuotaExceededError: 'ENOSPC',
};

function fsError(code: string, op: string, path: string, cause?: unknown): Error {
  return Object.assign(new Error(`${code}: ${op} '${path}'${cause ? ` (${(cause as Error).name}: ${(cause as Error).message})` : ''}`), { code, path, syscall: op, cause });
}

function mapError(err: unknown, op: string, path: string): Error {
  // (a DOMException has a numeric legacy `code`: only node-style string codes count)
  if (typeof (err as { code?: unknown })?.code === 'string') return err as Error;
  const code = CODES[(err as Error)?.name];
  return code ? fsError(code, op, path, err) : (err as Error);
}

function split(path: string): string[] {
  const parts: string[] = [];
  for (const p of path.split('/')) {
    if (!p || p === '.') continue;
    if (p === '..') parts.pop();
    else parts.push(p);
  }
  return parts;
}

function makeStat(type: 'file' | 'dir', size: number, mtimeMs: number): OpfsStat {
  return {
    type,
    mode: type === 'dir' ? 0o40755 : 0o100644,
    size,
    ino: 0,
    mtimeMs,
    ctimeMs: mtimeMs,
    uid: 1,
    gid: 1,
    dev: 1,
    isFile: () => type === 'file',
    isDirectory: () => type === 'dir',
    isSymbolicLink: () => false,
  };
}

/** One open sync access handle per file, shared by this client's readers. */
interface Shared {
  handle: SyncAccessHandle;
  users: number;
}

/**
 * An fs client over OPFS, for use inside a dedicated Worker. `root` is a
 * directory handle (or a promise of one); by default the origin's OPFS root.
 */
export function createOpfsFs(root?: FileSystemDirectoryHandle | Promise<FileSystemDirectoryHandle> | unknown): OpfsFs {
  const rootP: Promise<DirHandle> = Promise.resolve(
    (root as DirHandle | Promise<DirHandle> | undefined) ??
      (() => {
        const storage = (globalThis as unknown as { navigator?: { storage?: { getDirectory?: () => Promise<DirHandle> } } }).navigator?.storage;
        if (!storage?.getDirectory) throw new Error('createOpfsFs: no OPFS here (navigator.storage.getDirectory)');
        return storage.getDirectory();
      })(),
  );
  /** read handles by normalised path, and those of them that are open now */
  const open = new Map<string, Promise<Shared>>();
  const ready = new Map<string, Shared>();
  let readOnlyMode: boolean | null = null;

  const key = (path: string) => '/' + split(path).join('/');

  async function dirOf(parts: string[], op: string, path: string, create = false): Promise<DirHandle> {
    let dir = await rootP;
    for (const name of parts) {
      try {
        dir = await dir.getDirectoryHandle(name, { create });
      } catch (err) {
        throw mapError(err, op, path);
      }
    }
    return dir;
  }

  /** parent directory handle and base name */
  async function parentOf(path: string, op: string): Promise<[DirHandle, string]> {
    const parts = split(path);
    const name = parts.pop();
    if (!name) throw fsError('EPERM', op, path);
    return [await dirOf(parts, op, path), name];
  }

  async function fileHandle(path: string, op: string, create = false): Promise<FileHandle> {
    const [dir, name] = await parentOf(path, op);
    try {
      return await dir.getFileHandle(name, { create });
    } catch (err) {
      if ((err as Error)?.name === 'TypeMismatchError') throw fsError('EISDIR', op, path, err);
      throw mapError(err, op, path);
    }
  }

  async function entry(path: string, op: string): Promise<FileHandle | DirHandle> {
    const parts = split(path);
    if (parts.length === 0) return rootP;
    const [dir, name] = await parentOf(path, op);
    try {
      return await dir.getFileHandle(name);
    } catch (err) {
      if ((err as Error)?.name !== 'TypeMismatchError') throw mapError(err, op, path);
    }
    try {
      return await dir.getDirectoryHandle(name);
    } catch (err) {
      throw mapError(err, op, path);
    }
  }

  async function createHandle(fh: FileHandle, path: string, op: string, write: boolean): Promise<SyncAccessHandle> {
    try {
      if (write) return await fh.createSyncAccessHandle();
      if (readOnlyMode !== false) {
        try {
          const h = await fh.createSyncAccessHandle({ mode: 'read-only' });
          readOnlyMode = true;
          return h;
        } catch (err) {
          // an older browser: the option is unknown (TypeError) or ignored
          if ((err as Error)?.name !== 'TypeError' || readOnlyMode === true) throw err;
          readOnlyMode = false;
        }
      }
      return await fh.createSyncAccessHandle();
    } catch (err) {
      throw mapError(err, op, path);
    }
  }

  /** the shared read handle of `path`, opened on first use */
  function acquire(path: string, op: string): Promise<Shared> {
    const k = key(path);
    let s = open.get(k);
    if (!s) {
      const token = { promise: null as Promise<Shared> | null };
      token.promise = (async () => {
        const shared = { handle: await createHandle(await fileHandle(path, op), path, op, false), users: 0 };
        // released (replaced, removed) while it was opening: not to be kept
        if (open.get(k) === token.promise) ready.set(k, shared);
        else shared.handle.close();
        return shared;
      })();
      s = token.promise;
      open.set(k, s);
      s.catch(() => {
        if (open.get(k) === s) open.delete(k);
      });
    }
    return s.then((shared) => {
      shared.users++;
      return shared;
    });
  }

  /** closes this client's handle of `path` (before the file is replaced, removed or moved) */
  async function release(path: string): Promise<void> {
    const k = key(path);
    const s = open.get(k);
    if (!s) return;
    open.delete(k);
    ready.delete(k);
    try {
      (await s).handle.close();
    } catch {
      // it failed to open: nothing to close
    }
  }

  function readAll(h: SyncAccessHandle): Uint8Array {
    const size = h.getSize();
    const buf = new Uint8Array(size);
    for (let done = 0; done < size; ) {
      const n = h.read(buf.subarray(done), { at: done });
      if (!n) break;
      done += n;
    }
    return buf;
  }

  const toBytes = (data: Uint8Array | string) => (typeof data === 'string' ? new TextEncoder().encode(data) : data);

  async function writeWhole(path: string, data: Uint8Array | string): Promise<void> {
    await release(path);
    const fh = await fileHandle(path, 'open', true);
    const h = await createHandle(fh, path, 'open', true);
    try {
      const bytes = toBytes(data);
      h.truncate(0);
      for (let done = 0; done < bytes.length; ) done += h.write(bytes.subarray(done), { at: done });
      h.flush();
    } finally {
      h.close();
    }
  }

  /** a file handle for positional reads: the shared handle, reopened if it was closed meanwhile */
  async function openRead(path: string): Promise<OpfsFileHandle> {
    const k = key(path);
    let shared = await acquire(path, 'open');
    let closed = false;
    const current = async () => {
      if (closed) throw fsError('EBADF', 'read', path);
      if (ready.get(k) !== shared) shared = await acquire(path, 'open');
      return shared.handle;
    };
    return {
      async read(buffer, offset, length, position) {
        const h = await current();
        const n = h.read(buffer.subarray(offset, offset + length), { at: position });
        return { bytesRead: n, buffer };
      },
      readSync(buffer: Uint8Array, offset: number, length: number, position: number): number {
        if (closed) throw fsError('EBADF', 'read', path);
        const now = ready.get(k);
        if (now) shared = now;
        // replaced or removed through this client since it was opened: a synchronous read cannot reopen it
        else throw fsError('ESTALE', 'read', path);
        return shared.handle.read(buffer.subarray(offset, offset + length), { at: position });
      },
      async write() {
        throw fsError('EBADF', 'write', path);
      },
      async writeFile() {
        throw fsError('EBADF', 'write', path);
      },
      async stat() {
        const h = await current();
        return makeStat('file', h.getSize(), 0);
      },
      async close() {
        if (closed) return;
        closed = true;
        // the handle stays open for this client's next reader; closeAll() or a change to the file closes it
        shared.users--;
      },
    };
  }

  /** a new file (O_EXCL), written front to back */
  async function openCreate(path: string): Promise<OpfsFileHandle> {
    const [dir, name] = await parentOf(path, 'open');
    let exists = true;
    try {
      await dir.getFileHandle(name);
    } catch (err) {
      if ((err as Error)?.name === 'NotFoundError') exists = false;
      else if ((err as Error)?.name !== 'TypeMismatchError') throw mapError(err, 'open', path);
    }
    if (exists) throw fsError('EEXIST', 'open', path);
    const fh = await fileHandle(path, 'open', true);
    const h = await createHandle(fh, path, 'open', true);
    let at = 0;
    let closed = false;
    return {
      async read(buffer, offset, length, position) {
        return { bytesRead: h.read(buffer.subarray(offset, offset + length), { at: position }), buffer };
      },
      async write(buffer, offset = 0, length = buffer.length - offset) {
        const n = h.write(buffer.subarray(offset, offset + length), { at });
        at += n;
        return { bytesWritten: n, buffer };
      },
      async writeFile(data) {
        const bytes = toBytes(data);
        h.truncate(0);
        at = 0;
        while (at < bytes.length) at += h.write(bytes.subarray(at), { at });
      },
      async stat() {
        return makeStat('file', h.getSize(), Date.now());
      },
      async close() {
        if (closed) return;
        closed = true;
        h.flush();
        h.close();
      },
    };
  }

  async function stat(path: string): Promise<OpfsStat> {
    const e = await entry(path, 'stat');
    if (e.kind === 'directory') return makeStat('dir', 0, 0);
    const s = open.get(key(path));
    try {
      const file = await e.getFile();
      return makeStat('file', file.size, file.lastModified);
    } catch (err) {
      // a file this client holds open exclusively: its size from the handle
      if (s) return makeStat('file', (await s).handle.getSize(), 0);
      throw mapError(err, 'stat', path);
    }
  }

  return {
    async readFile(path, options) {
      const encoding = typeof options === 'string' ? options : options?.encoding;
      let bytes: Uint8Array;
      const s = open.get(key(path));
      if (s) bytes = readAll((await s).handle);
      else {
        const fh = await fileHandle(path, 'open');
        try {
          bytes = new Uint8Array(await (await fh.getFile()).arrayBuffer());
        } catch (err) {
          throw mapError(err, 'open', path);
        }
      }
      return encoding ? new TextDecoder().decode(bytes) : bytes;
    },
    writeFile: (path, data) => writeWhole(path, data),
    async readdir(path) {
      const e = await entry(path, 'scandir');
      if (e.kind !== 'directory') throw fsError('ENOTDIR', 'scandir', path);
      const names: string[] = [];
      for await (const name of e.keys()) names.push(name);
      return names;
    },
    async mkdir(path) {
      const [dir, name] = await parentOf(path, 'mkdir');
      let exists = true;
      try {
        await dir.getDirectoryHandle(name);
      } catch (err) {
        if ((err as Error)?.name === 'TypeMismatchError') throw fsError('EEXIST', 'mkdir', path);
        if ((err as Error)?.name !== 'NotFoundError') throw mapError(err, 'mkdir', path);
        exists = false;
      }
      if (exists) throw fsError('EEXIST', 'mkdir', path);
      try {
        await dir.getDirectoryHandle(name, { create: true });
      } catch (err) {
        throw mapError(err, 'mkdir', path);
      }
    },
    async rmdir(path) {
      const [dir, name] = await parentOf(path, 'rmdir');
      const e = await entry(path, 'rmdir');
      if (e.kind !== 'directory') throw fsError('ENOTDIR', 'rmdir', path);
      try {
        await dir.removeEntry(name);
      } catch (err) {
        throw mapError(err, 'rmdir', path);
      }
    },
    async unlink(path) {
      const [dir, name] = await parentOf(path, 'unlink');
      const e = await entry(path, 'unlink');
      if (e.kind !== 'file') throw fsError('EISDIR', 'unlink', path);
      await release(path);
      try {
        await dir.removeEntry(name);
      } catch (err) {
        throw mapError(err, 'unlink', path);
      }
    },
    stat,
    lstat: stat,
    async rename(from, to) {
      const src = await entry(from, 'rename');
      const [toDir, toName] = await parentOf(to, 'rename');
      await release(from);
      await release(to);
      if (src.kind === 'file') {
        try {
          const old = await toDir.getFileHandle(toName);
          if (old) await toDir.removeEntry(toName);
        } catch (err) {
          if ((err as Error)?.name !== 'NotFoundError') throw mapError(err, 'rename', to);
        }
      }
      if (typeof src.move === 'function') {
        try {
          await src.move(toDir, toName);
          return;
        } catch (err) {
          throw mapError(err, 'rename', from);
        }
      }
      if (src.kind !== 'file') throw fsError('ENOSYS', 'rename', from);
      // no move(): copy, then remove
      const bytes = new Uint8Array(await (await src.getFile()).arrayBuffer());
      await writeWhole(to, bytes);
      const [fromDir, fromName] = await parentOf(from, 'rename');
      await fromDir.removeEntry(fromName);
    },
    async readlink(path) {
      throw fsError('ENOSYS', 'readlink', path);
    },
    async symlink(_target, path) {
      throw fsError('ENOSYS', 'symlink', path);
    },
    async open(path, flags = 'r') {
      if (flags === 'r') return openRead(path);
      if (flags === 'wx') return openCreate(path);
      throw fsError('EINVAL', `open (flags '${flags}')`, path);
    },
    async closeAll() {
      for (const k of [...open.keys()]) await release(k);
    },
  };
}
