/**
 * Small helpers every layer uses. Nothing here touches a file system or knows a
 * git format; it depends on nothing in the package.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type AnyFn = (...args: any[]) => any;

/** A thenable (a promise, or a promise from another realm or library). */
export function isPromiseLike(x: unknown): x is PromiseLike<unknown> {
  return !!x && typeof (x as { then?: unknown }).then === 'function';
}

/** Whether a value that may be a promise is already there (a synchronous answer of a T | Promise<T> step). */
export function isReady<T>(x: T | Promise<T>): x is T {
  return !(x instanceof Promise);
}

/** The `code` of a Node-style error (`'ENOENT'`, `'EEXIST'`, ...), or undefined. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** A Node-style ENOENT error, as fs clients throw it. */
export function enoent(path: string, syscall = 'open'): Error {
  return Object.assign(new Error(`ENOENT: no such file or directory, ${syscall} '${path}'`), { code: 'ENOENT', errno: -2, syscall, path });
}

interface BufferLike {
  from(buffer: ArrayBuffer, byteOffset: number, length: number): Uint8Array;
}

/** The same bytes as a Node Buffer where one exists (isomorphic-git's shapes), else as they are; no copy. */
export function asBuffer(bytes: Uint8Array): Uint8Array {
  const B = (globalThis as { Buffer?: BufferLike }).Buffer;
  return B ? B.from(bytes.buffer as ArrayBuffer, bytes.byteOffset, bytes.byteLength) : bytes;
}
