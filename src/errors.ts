/**
 * One error class per failure a user handles. Every class carries a stable
 * `code` string, so callers that cannot use `instanceof` (several copies of the
 * library in one bundle) can still tell them apart.
 */

export class MidxOdbError extends Error {
  readonly code: string = 'EMIDXODB';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The object is in no source: no MIDX layer, no pack, no loose file. */
export class NotFoundError extends MidxOdbError {
  override readonly code = 'ENOTFOUND';
  constructor(readonly oid: string, what = 'object') {
    super(`${what} ${oid} not found`);
  }
}

/** An abbreviated object id matches more than one object. */
export class AmbiguousError extends MidxOdbError {
  override readonly code = 'EAMBIGUOUS';
  constructor(readonly prefix: string, readonly candidates: string[]) {
    super(`short object id ${prefix} is ambiguous: ${candidates.length} candidates`);
  }
}

/** A file's bytes break its format. `file` names the file, `message` says what was wrong. */
export class CorruptError extends MidxOdbError {
  override readonly code = 'ECORRUPT';
  constructor(readonly file: string, readonly reason: string, options?: { cause?: unknown }) {
    super(`${file}: ${reason}`, options);
  }
}

/**
 * Something other than a regular file (a directory, FIFO, device, socket, or a
 * symlink that cannot be resolved) stands where a file should be. Nothing was
 * read from it: opening never blocks. Its `code` stays 'ECORRUPT'.
 */
export class NotAFileError extends CorruptError {}

/**
 * A lock file is held by another writer, or could not be created, or was
 * replaced while this writer held it; nothing was changed.
 */
export class LockError extends MidxOdbError {
  override readonly code = 'ELOCKED';
  constructor(
    readonly file: string,
    /** git's words for what happened: 'File exists.' when another writer holds it */
    readonly reason = 'File exists.',
  ) {
    super(`Unable to create '${file}': ${reason}`);
  }
}

/** The repository or file uses something this library does not support (unknown hash, extension...). */
export class UnsupportedError extends MidxOdbError {
  override readonly code = 'EUNSUPPORTED';
}

/** A caller's argument is malformed (bad object id, bad option). */
export class InvalidArgumentError extends MidxOdbError {
  override readonly code = 'EINVAL';
}
